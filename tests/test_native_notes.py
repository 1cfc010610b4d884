"""TensorFlow's native start-up notes stay out of a script's stderr; the package's own lines
and anything else written there still come through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.native_notes import is_noise, notes_held_back

REPO = Path(__file__).resolve().parents[1]
SCRIPT = (
    "import sys, numpy, retrieval, keras\n"
    "print('before', file=sys.stderr)\n"
    "keras.ops.sum(numpy.ones(3))\n"  # TensorFlow's first operation: its device probe
    "print('after', file=sys.stderr)\n"
)


def _stderr_of(script: str, **env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_a_script_that_uses_keras_sees_no_native_notes() -> None:
    assert _stderr_of(SCRIPT, RETRIEVAL_NATIVE_NOTES="") == ["before", "after"]
    # the notes are there to hide: asked for, they come through
    shown = _stderr_of(SCRIPT, RETRIEVAL_NATIVE_NOTES="1")
    assert any(is_noise(line) for line in shown)


def test_held_back_notes_are_dropped_and_other_lines_kept(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with notes_held_back():
        os.write(2, b"I0000 00:00:1795667547.499996 26526 port.cc:153] oneDNN custom operations\n")
        os.write(2, b"a real warning\n")
        print("from Python", file=sys.stderr)
    # (pytest's capture writes Python's lines around the descriptor: their order may differ)
    assert sorted(capfd.readouterr().err.splitlines()) == ["a real warning", "from Python"]
