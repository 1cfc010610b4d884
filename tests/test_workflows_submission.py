"""``make_submission`` validates before it replaces: a failed run keeps the good file."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from retrieval import workflows
from retrieval.config import RunConfig
from retrieval.core import TrainedModel, Trainer
from retrieval.data import load_competition
from retrieval.errors import DataFormatError, DataWarning

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    """A quick ridge model of the demo's train part."""
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False, "whiten": False},
            "tags": {"enabled": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Trainer(config).fit(load_competition(DEMO, "train"))


@pytest.mark.filterwarnings("ignore")
def test_a_submission_that_fails_validation_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: TrainedModel
) -> None:
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


def copy_demo_test(root: Path) -> Path:
    for folder in ("descriptions_test", "tags_test", "images_test", "features_test"):
        shutil.copytree(DEMO / folder, root / folder)
    return root


def test_feature_rows_without_an_image_never_reach_the_submission(
    tmp_path: Path, model: TrainedModel
) -> None:
    """10,000 extra feature rows naming images that do not exist: the gallery is the 140
    images that do, and the submission names only them."""
    root = copy_demo_test(tmp_path / "comp")
    for csv in sorted((root / "features_test").glob("*.csv")):
        width = csv.read_text().split("\n", 1)[0].count(",")
        row = ",".join(["0.5"] * width)
        with csv.open("a") as handle:
            handle.writelines(f"images_test/{i}.jpg,{row}\n" for i in range(1000, 11000))
    with pytest.warns(DataWarning, match="10000 of 10140 rows name an image that is not in"):
        test = load_competition(root, "test")
    assert len(test.ids) == 140
    result = workflows.make_submission(
        model, test, tmp_path / "s.csv", answers=DEMO / "answers_test.csv"
    )
    named = {i for ranking in result.check.rankings for i in ranking}
    assert named <= {str(i) for i in range(140)}
    assert result.score is not None and result.score.gallery_size == 140


@pytest.mark.filterwarnings("ignore")
def test_a_test_id_kaggle_cannot_take_is_refused_not_written(
    tmp_path: Path, model: TrainedModel
) -> None:
    root = copy_demo_test(tmp_path / "comp")
    for image in (root / "images_test").glob("*.jpg"):  # every id "abc<k>": each row names one
        image.rename(image.with_name(f"abc{image.name}"))
    for csv in (root / "features_test").glob("*.csv"):
        csv.write_text(csv.read_text().replace("images_test/", "images_test/abc"))
    test = load_competition(root, "test")
    out = tmp_path / "s.csv"
    with pytest.raises(
        DataFormatError, match=r"image id 'abc\d+' \(ranked for description 0\.txt\)"
    ):
        workflows.make_submission(model, test, out)
    assert not out.exists()


def test_a_model_s_report_covers_several_parts_each_as_its_own_run(
    model: TrainedModel, tmp_path: Path
) -> None:
    from retrieval.report import report_for_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = load_competition(DEMO, "test", answers=DEMO / "answers_test.csv")
        held_out = load_competition(DEMO, "train").subset(range(40))
    files = report_for_model(
        model, [held_out, test], tmp_path, title="both", names=["held-out", "test part"]
    )
    md = files["summary"].read_text(encoding="utf-8")
    assert "| default: held-out |" in md.replace(model.config.name, "default")
    assert f"test part, its {len(test)} images" in md
    assert "other queries: no paired test" in md  # different descriptions: no paired test
    with pytest.raises(ValueError, match="1 names for 2 datasets"):
        report_for_model(model, [held_out, test], tmp_path, names=["one"])
