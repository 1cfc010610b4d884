from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"


def test_summary_prints_counts_and_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(DEMO), "--split", "train", "--top-tags", "2"]) == 0
    out = capsys.readouterr().out
    assert "561 images, 561 descriptions (paired)" in out
    assert "51  animals:mammals" in out


def test_summary_of_missing_folder_is_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["summary", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"retrieval summary: error: {tmp_path / 'nope'}: competition folder not found"]


def test_bad_flag_exits_non_zero() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", str(DEMO), "--split", "validation"])
    assert exit_info.value.code == 2


def test_data_commands_do_not_import_tensorflow() -> None:
    code = (
        f"import sys; from retrieval.cli import main; main(['summary', {str(DEMO)!r}, '--split', 'test']);"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"
