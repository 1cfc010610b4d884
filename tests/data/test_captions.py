from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from retrieval.data import Tag, load_captions_table
from retrieval.errors import DataFormatError, DataWarning


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (8, 8), "red").save(tmp_path / name)
    return tmp_path


def test_csv_rows_merge_per_image(images: Path) -> None:
    table = images / "captions.csv"
    table.write_text(
        "image,caption,tags\n"
        "a.jpg,A red square.,shape:square|colour:red\n"
        "b.jpg,Another red square.,\n"
        "a.jpg,Small and red.,shape:square\n"
    )
    ds = load_captions_table(table)
    assert ds.ids == ["a.jpg", "b.jpg"]
    assert ds.descriptions == [["A red square.", "Small and red."], ["Another red square."]]
    assert ds.tags[0] == [Tag("shape", "square"), Tag("colour", "red")]
    assert ds.image_paths[1] == images / "b.jpg"
    assert ds.is_paired


def test_csv_with_several_caption_columns_and_bare_tags(images: Path) -> None:
    table = images / "t.csv"
    table.write_text('image,caption_1,caption_2,tags\na.jpg,"One, with comma.",Two.,red|square\n')
    ds = load_captions_table(table, on_error="raise")
    assert ds.descriptions == [["One, with comma.", "Two."]]
    assert [str(t) for t in ds.tags[0]] == ["red", "square"]


def test_csv_bad_rows_are_skipped_with_line_numbers(images: Path) -> None:
    table = images / "t.csv"
    table.write_text("image,caption\na.jpg,Fine.\nb.jpg,Too,many\nmissing.jpg,Gone.\n,No image.\n")
    with pytest.warns(DataWarning) as caught:
        ds = load_captions_table(table)
    texts = [str(w.message) for w in caught]
    assert ds.ids == ["a.jpg"]
    assert any(f"{table}:3: expected 2 columns, found 3" in t for t in texts)
    assert any(f"{table}:4: image missing.jpg not found" in t for t in texts)
    assert any(f"{table}:5: empty image path" in t for t in texts)


def test_csv_without_image_column_is_fatal(images: Path) -> None:
    table = images / "t.csv"
    table.write_text("path,caption\na.jpg,x\n")
    with pytest.raises(DataFormatError, match="'image' column") as err:
        load_captions_table(table)
    assert err.value.line == 1


def test_jsonl_captions_and_bad_lines(images: Path) -> None:
    table = images / "t.jsonl"
    table.write_text(
        '{"image": "a.jpg", "captions": ["A.", "B."], "tags": ["x:y"]}\n'
        "{not json\n"
        '{"image": "b.jpg", "caption": "Single."}\n'
        '{"image": "b.jpg", "captions": "not", "tags": 3}\n'
    )
    with pytest.warns(DataWarning) as caught:
        ds = load_captions_table(table)
    assert ds.descriptions == [["A.", "B."], ["Single."]]
    texts = [str(w.message) for w in caught]
    assert any(f"{table}:2: not valid JSON" in t for t in texts)
    assert any(f"{table}:4:" in t for t in texts)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        load_captions_table(tmp_path / "none.csv")
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(DataFormatError, match=r"\.csv or \.jsonl"):
        load_captions_table(tmp_path / "t.txt")


def test_demo_images_as_a_captions_table(demo_root: Path, tmp_path: Path) -> None:
    lines = ["image,caption"]
    for i in range(20):
        caption = (demo_root / "descriptions_train" / f"{i}.txt").read_text().strip()
        lines.append(f'images_train/{i}.jpg,"{caption}"')
    table = tmp_path / "demo.csv"
    table.write_text("\n".join(lines) + "\n")
    ds = load_captions_table(table, image_root=demo_root, on_error="raise")
    assert len(ds) == 20 and ds.descriptions[0] == ["A strawberry."]
