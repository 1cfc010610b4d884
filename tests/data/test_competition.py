from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from retrieval.data import Tag, feature_csv_path, load_competition, read_answers
from retrieval.errors import DataFormatError, DataWarning

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def pool5_csv(root: Path) -> Path:
    return feature_csv_path(root, "train", "pool5")


def test_demo_train_part_loads_paired(demo_root: Path) -> None:
    train = load_competition(demo_root, "train", features=None)
    assert len(train) == 561
    assert train.is_paired
    assert train.ids[:3] == ["0", "1", "2"]
    assert train.descriptions[0] == ["A strawberry."]
    assert train.tags[0] == [Tag("food", "fruit")]
    assert all(p.is_file() for p in train.image_paths)
    assert train.notes == []


def test_demo_test_part_pairing_hidden_unless_answers_given(demo_root: Path) -> None:
    hidden = load_competition(demo_root, "test", features=None)
    assert hidden.relevant is None and not hidden.is_paired
    known = load_competition(
        demo_root, "test", features=None, answers=demo_root / "answers_test.csv"
    )
    answers = read_answers(demo_root / "answers_test.csv")
    assert sorted(known.relevant.tolist()) == list(range(140))
    assert not known.is_paired
    for k in (0, 1, 77):
        assert known.ids[known.relevant[k]] == answers[known.description_ids[k]]


def test_features_are_joined_on_id_not_row_order(tree: Path) -> None:
    ds = load_competition(tree, "train")
    assert ds.ids == [str(i) for i in range(6)]
    np.testing.assert_array_equal(ds.pool5[:, 0], np.arange(6, dtype=np.float32))
    assert ds.fc1000 is None
    assert ds.tags[0] == [Tag("furniture", "dining table"), Tag("animal", "dog")]
    assert ds.descriptions[3] == ["Picture number 3.", "A second line."]


def test_missing_root_and_missing_descriptions_are_fatal(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="competition folder not found") as err:
        load_competition(tmp_path / "nowhere")
    assert err.value.path == str(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="descriptions_train/"):
        load_competition(tmp_path / "empty")


def test_requested_feature_file_missing_is_fatal(tree: Path) -> None:
    with pytest.raises(DataFormatError, match="fc1000 feature file not found"):
        load_competition(tree, "train", features=["fc1000"])


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("images_train/9.jpg,1,2,3\n", "expected 5 columns .* found 4"),
        ("images_train/9.jpg,1,2,x3,4\n", "expected a number, found 'x3'"),
        ("images_train/9.jpg,1,nan,3,4\n", "NaN or infinity"),
        ("images_train/9.jpg,1,2,3,4,5\n", "expected 5 columns .* found 6"),
    ],
)
def test_malformed_feature_row_is_skipped_with_its_line(
    tree: Path, bad_row: str, message: str
) -> None:
    csv_path = pool5_csv(tree)
    lines = csv_path.read_text().splitlines(keepends=True)
    lines.insert(2, bad_row)  # becomes line 3
    csv_path.write_text("".join(lines))
    (tree / "descriptions_train" / "9.txt").write_text("A ninth picture.\n")
    with pytest.warns(DataWarning) as caught:
        ds = load_competition(tree, "train")
    texts = [str(w.message) for w in caught]
    assert any(f"{csv_path}:3:" in t and re.search(message, t) for t in texts), texts
    assert "9" not in ds.ids  # its only row was bad: dropped, with a warning naming its description
    assert any("description 9 has no features" in t for t in texts)
    np.testing.assert_array_equal(ds.pool5[:, 0], np.arange(6, dtype=np.float32))


def test_malformed_row_raises_in_strict_mode(tree: Path) -> None:
    csv_path = pool5_csv(tree)
    csv_path.write_text(csv_path.read_text() + "images_train/9.jpg,1,2\n")
    with pytest.raises(DataFormatError) as err:
        load_competition(tree, "train", on_error="raise")
    assert err.value.line == 7 and err.value.path == str(csv_path)


def test_id_missing_in_one_part_is_dropped_with_warning(tree: Path) -> None:
    (tree / "descriptions_train" / "2.txt").unlink()
    with pytest.warns(DataWarning, match="image 2 has no description"):
        ds = load_competition(tree, "train")
    assert ds.ids == ["0", "1", "3", "4", "5"]
    np.testing.assert_array_equal(ds.pool5[:, 0], [0, 1, 3, 4, 5])


def test_repeated_feature_id_keeps_first_row(tree: Path) -> None:
    csv_path = pool5_csv(tree)
    csv_path.write_text(csv_path.read_text() + "images_train/0.jpg,7,7,7,7\n")
    with pytest.warns(DataWarning, match="image id 0 repeated"):
        ds = load_competition(tree, "train")
    assert ds.pool5[0, 0] == 0.0


def test_description_not_utf8_names_file_and_line(tree: Path) -> None:
    path = tree / "descriptions_train" / "1.txt"
    path.write_bytes(b"Fine first line.\nCaf\xe9 on a corner.\n")
    with pytest.warns(DataWarning, match=rf"{path}:2: not valid UTF-8"):
        ds = load_competition(tree, "train")
    assert ds.descriptions[1] == ["Fine first line.", "Caf\ufffd on a corner."]


def test_empty_description_kept_empty_with_warning(tree: Path) -> None:
    path = tree / "descriptions_train" / "4.txt"
    path.write_text("\n  \n")
    with pytest.warns(DataWarning, match="empty description"):
        ds = load_competition(tree, "train")
    assert ds.descriptions[4] == []
    assert ds.summary().empty_descriptions == 1


def test_tag_files_empty_missing_and_malformed(tree: Path) -> None:
    (tree / "tags_train" / "0.txt").write_text("")
    (tree / "tags_train" / "1.txt").unlink()
    (tree / "tags_train" / "2.txt").write_text("animal:dog\nnot a tag\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_competition(tree, "train")
    texts = [str(w.message) for w in caught]
    assert ds.tags[0] == [] and ds.tags[1] == [] and ds.tags[2] == [Tag("animal", "dog")]
    assert any("no tag file for image 1" in t for t in texts)
    assert any(f"{tree / 'tags_train' / '2.txt'}:2:" in t for t in texts)
    assert len(ds.notes) == 2


def test_malformed_answer_file(tree: Path, demo_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "answers.csv"
    bad.write_text("Description_ID,Image_ID\n0.txt,1.jpg\n1.txt\n")
    with pytest.raises(DataFormatError, match="expected 2 columns") as err:
        read_answers(bad)
    assert err.value.line == 3
    bad.write_text("id,image\n")
    with pytest.raises(DataFormatError, match="expected the header"):
        read_answers(bad)


def test_answer_files_with_a_bom_or_the_competitions_header_spelling(tmp_path) -> None:
    from retrieval.data import read_answers

    for header in ("Description_ID,Image_ID", "Descritpion_ID,Image_ID"):
        path = tmp_path / "answers.csv"
        path.write_bytes(("\ufeff" + header + "\n0.txt,3.jpg\n1.txt,4.jpg\n").encode("utf-8"))
        assert read_answers(path) == {"0": "3", "1": "4"}


def test_answer_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    path.write_bytes(b"Description_ID,Image_ID\n0.txt,1.jpg\n\x80\x81,2.jpg\n")
    with pytest.raises(DataFormatError, match=r"answers.csv:3: not UTF-8"):
        read_answers(path)


def test_feature_file_without_numbers_is_fatal(tree: Path) -> None:
    path = feature_csv_path(tree, "train", "pool5")
    path.write_text("".join(f"images_train/{i}.jpg\n" for i in range(6)))
    with pytest.raises(DataFormatError, match="found a single column"):
        load_competition(tree, "train")


def test_feature_width_must_match_the_recorded_network(tree: Path) -> None:
    record = {"model": "resnet50", "weights": "random", "seed": 0}
    (tree / "features_train" / "features.json").write_text(json.dumps(record))
    with pytest.raises(
        DataFormatError, match="rows have 4 numbers, but features.json says ResNet-50"
    ):
        load_competition(tree, "train")


def test_a_missing_images_folder_is_flagged(tree: Path) -> None:
    (tree / "images_train").rmdir()
    with pytest.warns(DataWarning, match="no images_train/ folder"):
        dataset = load_competition(tree, "train")
    assert len(dataset) == 6


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["0.txt,0.jpg"], "1 of the part's 2 descriptions have no answer \\(1.txt\\)"),
        (
            ["0.txt,0.jpg", "1.txt,1.jpg", "9.txt,1.jpg"],
            "1 answered descriptions are not in the part \\(9.txt\\)",
        ),
        (
            ["0.txt,0.jpg", "1.txt,42.jpg"],
            "1 answers name images that are not in the part \\(42.jpg\\)",
        ),
    ],
)
def test_answer_files_that_do_not_match_the_part_are_named(tmp_path: Path, rows, message) -> None:
    from retrieval.data import relevant_from_answers

    path = tmp_path / "answers.csv"
    path.write_text("Description_ID,Image_ID\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        DataFormatError, match=f"answers.csv: the answer file does not match the part: {message}"
    ):
        relevant_from_answers(path, ["0", "1"], ["0", "1"])


def test_an_uppercase_picture_suffix_is_the_path_given(tmp_path: Path) -> None:
    """``images_train/0.JPG`` is found and named as it is, not as ``0.jpg``."""
    import shutil

    root = tmp_path / "comp"
    for kind in ("descriptions", "tags", "images"):
        (root / f"{kind}_train").mkdir(parents=True)
    for i in range(4):
        shutil.copyfile(
            DEMO / "descriptions_train" / f"{i}.txt", root / "descriptions_train" / f"{i}.txt"
        )
        suffix = ".JPG" if i == 0 else ".jpg"
        shutil.copyfile(DEMO / "images_train" / f"{i}.jpg", root / "images_train" / f"{i}{suffix}")
    part = load_competition(root, "train", features=None)
    assert part.image_paths[0].name == "0.JPG" and part.image_paths[0].is_file()
    assert all(p.is_file() for p in part.image_paths)


def test_one_feature_kind_may_be_named_alone() -> None:
    root = Path(__file__).resolve().parents[2] / "data" / "demo"
    alone = load_competition(root, "train", features="efficientnet_lite0")
    listed = load_competition(root, "train", features=["efficientnet_lite0"])
    assert alone.features("efficientnet_lite0").shape == (561, 1280)
    assert (alone.features("efficientnet_lite0") == listed.features("efficientnet_lite0")).all()
    assert alone.pool5 is None
