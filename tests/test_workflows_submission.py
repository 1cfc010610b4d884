"""``make_submission`` validates before it replaces: a failed run keeps the good file."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import workflows
from retrieval.config import RunConfig
from retrieval.core import Trainer
from retrieval.data import load_competition
from retrieval.errors import DataFormatError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.mark.filterwarnings("ignore")
def test_a_submission_that_fails_validation_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False, "whiten": False},
            "tags": {"enabled": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    model = Trainer(config).fit(load_competition(DEMO, "train"))
    test = load_competition(DEMO, "test")
    out = tmp_path / "submission.csv"
    good = workflows.make_submission(model, test, out)
    assert good.check.ok and good.path == out
    out.write_text("the previous run's submission\n")  # what a failed run must not replace
    before = out.read_bytes()

    def refuse(path, **_):
        raise DataFormatError("1 problems: line 2: bad image id", path=path)

    monkeypatch.setattr(workflows, "validate_submission", refuse)
    with pytest.raises(DataFormatError, match="bad image id"):
        workflows.make_submission(model, test, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]  # no leftovers
