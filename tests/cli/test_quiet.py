"""The stderr filter forwards everything but native start-up notes, and never stalls an exit."""

from __future__ import annotations

import subprocess
import sys

from tests.jax_child import REPO

CHILD = """
import os, subprocess, sys, time
from retrieval.cli._quiet import NativeNoiseFilter
quiet = NativeNoiseFilter()
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(4)"])  # inherits fd 2
os.write(2, b"I0000 00:00:1795667547.499996 26526 port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"kept line\\n")
start = time.perf_counter()
quiet.close()
print(f"{time.perf_counter() - start:.3f}")
helper.kill()
"""


def test_close_forwards_what_was_written_and_does_not_wait_for_inheriting_children() -> None:
    """A decoding worker or multiprocessing helper holding descriptor 2 used to cost 5 s."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) < 1.0
    assert done.stderr == "kept line\n"
