"""A closed pipe (`retrieval ... | head -1`) ends the command quietly, as Unix tools end."""

from __future__ import annotations

import subprocess
import sys

from tests.jax_child import REPO

RUN = "import sys; from retrieval.cli import main; sys.exit(main(sys.argv[1:]))"


def test_summary_into_a_closed_pipe_prints_no_traceback() -> None:
    command = f"{sys.executable} -c '{RUN}' summary data/demo | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)
