from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from retrieval.data import Tag, load_competition
from retrieval.data._layout_writer import SourceItem, fit_on_white, write_competition_layout


def test_fit_on_white_composites_transparency_and_keeps_aspect() -> None:
    picture = Image.new("RGBA", (100, 50), (255, 0, 0, 0))
    picture.paste((0, 0, 255, 255), (0, 0, 50, 50))
    square = fit_on_white(picture)
    assert square.size == (224, 224) and square.mode == "RGB"
    assert square.getpixel((5, 5)) == (255, 255, 255)  # letterbox
    assert square.getpixel((200, 112)) == (255, 255, 255)  # transparent red -> white
    assert square.getpixel((20, 112))[2] > 200  # opaque blue kept


def test_layout_round_trips_through_the_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    items = []
    for i in range(10):
        path = sources / f"{i}.png"
        Image.new("RGB", (30, 20), (i * 25, 0, 0)).save(path)
        items.append(
            SourceItem(path, [f"Picture {i}.", "Second sentence."], [Tag("shade", f"red {i}")])
        )
    (sources / "broken.png").write_bytes(b"not a png")
    items.append(SourceItem(sources / "broken.png", ["Broken."], []))

    counts = write_competition_layout(
        tmp_path / "out",
        items,
        load_image=Image.open,
        test_fraction=0.3,
        seed=1,
        sample_submission=False,
    )
    assert (counts.train, counts.test, counts.skipped) == (7, 3, 1)
    assert f"skipping {sources / 'broken.png'}:" in capsys.readouterr().err

    train = load_competition(tmp_path / "out", "train", on_error="raise")
    test = load_competition(
        tmp_path / "out", "test", answers=tmp_path / "out" / "answers_test.csv", on_error="raise"
    )
    for part in (train, test):
        for k, sentences in enumerate(part.descriptions):
            number = int(sentences[0].split()[1].rstrip("."))
            image = Image.open(part.image_paths[part.relevant[k]])
            assert image.size == (224, 224)
            assert abs(image.getpixel((112, 112))[0] - number * 25) <= 10  # the described picture
            assert part.tags[part.relevant[k]] == [Tag("shade", f"red {number}")]
