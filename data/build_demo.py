"""Build ``data/demo/``: a small real dataset in the CS5785 competition layout.

Source: the Tux Paint stamps (Debian package ``tuxpaint-stamps-default``, GPL-2), under
``/usr/share/tuxpaint/stamps``. Each stamp is a cut-out photograph (PNG) or drawing (SVG)
with a ``.txt`` file whose first line is an English caption. The folder path gives the tags.

What is written (the competition's layout, 224x224 JPEG on white):

    descriptions_{train,test}/<id>.txt   the stamp's English caption
    tags_{train,test}/<id>.txt           "supercategory:category" lines from the folder path
    images_{train,test}/<id>.jpg
    answers_test.csv                     which image each test description describes
    sample_submission.csv                a random ranking in the submission format
    SOURCES.csv                          every item's original stamp file (attribution)
    COPYING, copyright                   the GPL-2 text and the package's copyright file

As in the competition, test description k does not describe test image k. The feature
CSVs are made afterwards from these images by ``retrieval.features``.

Usage: ``python data/build_demo.py [--stamps DIR] [--out data/demo] [--test-fraction 0.2] [--seed 0]``
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from pathlib import Path

from PIL import Image

from retrieval.data import Tag
from retrieval.data._layout_writer import IMAGE_SIZE, SourceItem, write_competition_layout

STAMPS = Path("/usr/share/tuxpaint/stamps")
SKIPPED_TOP_LEVEL = {"symbols"}
DROPPED_FOLDERS = {"cartoon"}


def tags_from_folder(parts: tuple[str, ...]) -> list[Tag]:
    """``("animals", "mammals", "apes")`` -> ``[Tag("animals", "mammals"), Tag("mammals", "apes")]``.

    ``cartoon`` folders are dropped; a stamp directly in a top-level folder gets ``(top, top)``.
    """
    kept = [p.replace("_", " ") for p in parts if p not in DROPPED_FOLDERS]
    if len(kept) == 1:
        return [Tag(kept[0], kept[0])]
    return [Tag(a, b) for a, b in zip(kept[:-1], kept[1:], strict=False)]


def first_line(path: Path) -> str:
    raw = path.read_bytes().split(b"\n", 1)[0]
    return raw.decode("utf-8", errors="replace").strip()


def find_stamps(stamps: Path) -> list[SourceItem]:
    """Every captioned stamp outside ``symbols/``; a PNG wins over an SVG of the same name."""
    by_stem: dict[Path, Path] = {}
    for image in sorted(stamps.rglob("*")):
        if image.suffix not in (".png", ".svg") or not image.is_file():
            continue
        if image.relative_to(stamps).parts[0] in SKIPPED_TOP_LEVEL:
            continue
        stem = image.with_suffix("")
        if stem in by_stem and by_stem[stem].suffix == ".png":
            continue
        by_stem[stem] = image
    found = []
    for stem, image in sorted(by_stem.items()):
        text = stem.with_suffix(".txt")
        caption = first_line(text) if text.is_file() else ""
        if caption:
            found.append(
                SourceItem(image, [caption], tags_from_folder(image.relative_to(stamps).parts[:-1]))
            )
    return found


def load_stamp(path: Path) -> Image.Image:
    """A PNG as it is, an SVG rasterised at twice the target size."""
    if path.suffix == ".svg":
        import cairosvg

        # The stamps are trusted system files; some declare XML entities.
        png = cairosvg.svg2png(url=str(path), output_width=IMAGE_SIZE * 2, unsafe=True)
        return Image.open(io.BytesIO(png))
    return Image.open(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stamps", type=Path, default=STAMPS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    items = find_stamps(args.stamps)
    if not items:
        sys.exit(
            f"no captioned stamps under {args.stamps}: install the Debian package tuxpaint-stamps-default"
        )
    for child in args.out.glob("*_*/"):
        if child.name.startswith(("images_", "descriptions_", "tags_")):
            shutil.rmtree(child)
    counts = write_competition_layout(
        args.out,
        items,
        load_image=load_stamp,
        test_fraction=args.test_fraction,
        seed=args.seed,
        source_root=args.stamps,
    )
    for license_file, name in (
        (Path("/usr/share/common-licenses/GPL-2"), "COPYING"),
        (Path("/usr/share/doc/tuxpaint-stamps-default/copyright"), "copyright"),
    ):
        if license_file.is_file():
            shutil.copyfile(license_file, args.out / name)
    print(
        f"wrote {counts.train} train and {counts.test} test items to {args.out} ({counts.skipped} skipped)"
    )


if __name__ == "__main__":
    main()
