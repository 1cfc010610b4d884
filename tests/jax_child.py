"""Run a Python script in a child process on Keras' JAX backend (CPU), from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_on_jax(script: str, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """``python -c script args...`` with ``KERAS_BACKEND=jax``; the test fails with its stderr."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
