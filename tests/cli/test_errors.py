"""The command line turns the package's own refusals into one line and shows a bug's traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.cli import cmd_summary, main, raised_here
from retrieval.models.kinds import make_mapper


def _caught(call) -> BaseException:
    try:
        call()
    except (ValueError, OSError) as exc:
        return exc
    raise AssertionError("no error")


def test_an_error_is_the_package_s_own_when_its_innermost_frame_is_in_the_package() -> None:
    assert raised_here(_caught(lambda: make_mapper("lasso")))
    assert raised_here(_caught(lambda: Path("/no/such/file").read_bytes()))  # a path given
    assert raised_here(_caught(lambda: load_json_file()))  # stdlib frames are skipped
    assert not raised_here(_caught(lambda: np.linalg.cholesky(-np.eye(2))))
    assert not raised_here(_caught(lambda: __import__("json").loads("{not json")))  # from tests


def load_json_file() -> None:
    """``json.loads`` on bad text, called from code whose file is in ``retrieval/``."""
    import json

    import retrieval

    source = "def read():\n    json.loads('{not json')\n"
    namespace = {"json": json}
    exec(compile(source, str(Path(retrieval.__file__).parent / "reader.py"), "exec"), namespace)
    namespace["read"]()


def test_a_refusal_is_one_line_and_a_bug_keeps_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "/no/such/folder"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("retrieval summary: error:") and len(err.strip().splitlines()) == 1

    def broken(args) -> int:
        np.linalg.cholesky(-np.eye(2))  # a library's own ValueError: a bug here, not bad input
        return 0

    monkeypatch.setattr(cmd_summary, "run", broken)
    with pytest.raises(np.linalg.LinAlgError):
        main(["summary", "/no/such/folder"])
