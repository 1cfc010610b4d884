"""``retrieval search`` checks its arguments before it loads a bundle or builds a network."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "   "], "the query is empty"),
        (
            ["search", "--image", "/nonexistent/photo.jpg"],
            "/nonexistent/photo.jpg: no such image file",
        ),
        (
            ["search", "a cat", "--add", "/nonexistent/beach.png"],
            "/nonexistent/beach.png: no such image file (a term of the query)",
        ),
        (["search", "--subtract", "indoors"], "subtracted terms only"),
        (["search", "a cat", "--add", "  "], "a text query term is empty"),
    ],
)
def test_bad_arguments_fail_before_the_bundle_is_read(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_bundle = tmp_path / "no-bundle"  # never read: the argument fails first
    assert main([*args, "--bundle", str(missing_bundle)]) == 1
    err = capsys.readouterr().err
    assert message in err and "no-bundle" not in err
