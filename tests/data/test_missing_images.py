"""Feature rows whose image file is missing: warned about once per file, and dropped by default."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from retrieval.data import feature_csv_path, load_competition
from retrieval.errors import DataFormatError, DataWarning
from tests.data.conftest import DEMO, write_tree

EXTRA = 300


def demo_test_with_extra_rows(root: Path, extra: int = EXTRA) -> Path:
    """The demo's test part, whose feature CSVs also hold ``extra`` rows for images 1000...,
    none of which has a file."""
    for folder in ("descriptions_test", "tags_test", "images_test", "features_test"):
        shutil.copytree(DEMO / folder, root / folder)
    shutil.copyfile(DEMO / "answers_test.csv", root / "answers_test.csv")
    for csv in sorted((root / "features_test").glob("*.csv")):
        width = csv.read_text().split("\n", 1)[0].count(",")
        with csv.open("a") as handle:
            for i in range(1000, 1000 + extra):
                handle.write(f"images_test/{i}.jpg," + ",".join(["0.5"] * width) + "\n")
    return root


def data_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, DataWarning)]


def test_a_test_gallery_holds_only_images_that_exist(tmp_path: Path) -> None:
    root = demo_test_with_extra_rows(tmp_path / "comp")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        test = load_competition(root, "test", answers=root / "answers_test.csv")
    assert len(test.ids) == 140 and all(p.is_file() for p in test.image_paths)
    assert test.pool5 is not None and test.pool5.shape[0] == 140
    shown = data_warnings(record)
    first = str(feature_csv_path(root, "test", "pool5"))
    assert len(shown) == 1, shown  # one warning for the three files, not one per row
    assert shown[0].startswith(f"{first}: {EXTRA} of {140 + EXTRA} rows name an image")
    assert "not in images_test/ (1000.jpg, 1001.jpg, 1002.jpg, ...); rows dropped" in shown[0]
    assert "the same rows of 2 other feature files too" in shown[0]
    assert shown == test.notes


@pytest.mark.filterwarnings("ignore:.*no tag file")
def test_missing_images_keep_keeps_them_and_still_warns(tmp_path: Path) -> None:
    root = demo_test_with_extra_rows(tmp_path / "comp", extra=5)
    with pytest.warns(DataWarning, match="5 of 145 rows .* rows kept"):
        test = load_competition(root, "test", missing_images="keep")
    assert len(test.ids) == 145 and sum(not p.is_file() for p in test.image_paths) == 5


def test_on_error_raise_makes_it_an_error(tmp_path: Path) -> None:
    root = demo_test_with_extra_rows(tmp_path / "comp", extra=2)
    with pytest.raises(DataFormatError, match=r"features_test/.*: 2 of 142 rows name an image"):
        load_competition(root, "test", on_error="raise")
    with pytest.raises(ValueError, match="missing_images must be 'drop' or 'keep'"):
        load_competition(root, "test", missing_images="ignore")  # type: ignore[arg-type]


def test_train_items_without_their_image_are_dropped_in_one_warning(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "comp", n=6)
    for i in range(4):  # images 4 and 5 have features and descriptions, but no file
        shutil.copyfile(DEMO / "images_train" / f"{i}.jpg", root / "images_train" / f"{i}.jpg")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train = load_competition(root, "train")
    assert train.ids == ["0", "1", "2", "3"] and train.description_ids == train.ids
    assert data_warnings(record) == [
        f"{feature_csv_path(root, 'train', 'pool5')}: 2 of 6 rows name an image that is not in "
        "images_train/ (4.jpg, 5.jpg); rows dropped"
    ]


def test_an_empty_images_folder_means_no_pictures_not_no_items(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "comp", n=6)  # images_train/ exists, empty
    assert len(load_competition(root, "train")) == 6


def test_when_every_row_lacks_its_image_the_error_says_so(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "comp", n=3)
    shutil.copyfile(DEMO / "images_train" / "0.jpg", root / "images_train" / "77.jpg")
    with pytest.warns(DataWarning), pytest.raises(DataFormatError, match="missing_images='keep'"):
        load_competition(root, "train")
