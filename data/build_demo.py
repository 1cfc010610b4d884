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
import csv
import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.data import write_answers
from retrieval.submission import write_submission

STAMPS = Path("/usr/share/tuxpaint/stamps")
SKIPPED_TOP_LEVEL = {"symbols"}
DROPPED_FOLDERS = {"cartoon"}
SIZE = 224
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Stamp:
    image: Path
    caption: str
    tags: list[tuple[str, str]]


def tags_from_folder(parts: tuple[str, ...]) -> list[tuple[str, str]]:
    """``("animals", "mammals", "apes")`` -> ``[("animals", "mammals"), ("mammals", "apes")]``.

    ``cartoon`` folders are dropped; a stamp directly in a top-level folder gets
    ``(top, top)``.
    """
    kept = [p.replace("_", " ") for p in parts if p not in DROPPED_FOLDERS]
    if len(kept) == 1:
        return [(kept[0], kept[0])]
    return list(zip(kept[:-1], kept[1:], strict=False))


def first_line(path: Path) -> str:
    raw = path.read_bytes().split(b"\n", 1)[0]
    return raw.decode("utf-8", errors="replace").strip()


def find_stamps(stamps: Path) -> list[Stamp]:
    """Every captioned stamp outside ``symbols/``; a PNG wins over an SVG of the same name."""
    by_stem: dict[Path, Path] = {}
    for image in sorted(stamps.rglob("*")):
        if image.suffix not in (".png", ".svg") or not image.is_file():
            continue
        relative = image.relative_to(stamps)
        if relative.parts[0] in SKIPPED_TOP_LEVEL:
            continue
        stem = image.with_suffix("")
        if stem in by_stem and by_stem[stem].suffix == ".png":
            continue
        by_stem[stem] = image
    found = []
    for stem, image in sorted(by_stem.items()):
        text = stem.with_suffix(".txt")
        if not text.is_file():
            continue
        caption = first_line(text)
        if not caption:
            continue
        found.append(Stamp(image, caption, tags_from_folder(image.relative_to(stamps).parts[:-1])))
    return found


def render(image: Path) -> Image.Image:
    """The stamp fitted into a 224x224 white square (transparency composited on white)."""
    if image.suffix == ".svg":
        import cairosvg

        # The stamps are trusted system files; some declare XML entities.
        png = cairosvg.svg2png(url=str(image), output_width=SIZE * 2, unsafe=True)
        picture = Image.open(io.BytesIO(png))
    else:
        picture = Image.open(image)
    picture = picture.convert("RGBA")
    picture.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 255))
    offset = ((SIZE - picture.width) // 2, (SIZE - picture.height) // 2)
    canvas.alpha_composite(picture, offset)
    return canvas.convert("RGB")


def renderable(stamps: list[Stamp]) -> list[tuple[Stamp, Image.Image]]:
    """Render every stamp; one that cannot be read is skipped with a message on stderr."""
    rendered = []
    for stamp in stamps:
        try:
            rendered.append((stamp, render(stamp.image)))
        except Exception as exc:  # any decoder error: skip that stamp, keep the others
            print(f"skipping {stamp.image}: {exc}", file=sys.stderr)
    return rendered


def write_item(
    out: Path,
    split: str,
    item_id: int,
    stamp: Stamp,
    picture: Image.Image,
    *,
    description: str | None,
) -> None:
    picture.save(out / f"images_{split}" / f"{item_id}.jpg", quality=JPEG_QUALITY, optimize=True)
    (out / f"tags_{split}" / f"{item_id}.txt").write_text(
        "".join(f"{a}:{b}\n" for a, b in stamp.tags), encoding="utf-8"
    )
    if description is not None:
        (out / f"descriptions_{split}" / f"{item_id}.txt").write_text(
            description + "\n", encoding="utf-8"
        )


def build(stamps: Path, out: Path, *, test_fraction: float, seed: int) -> None:
    found = renderable(find_stamps(stamps))
    if not found:
        sys.exit(
            f"no captioned stamps under {stamps}: install the Debian package tuxpaint-stamps-default"
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(found))
    n_test = int(round(len(found) * test_fraction))
    train = [found[i] for i in order[n_test:]]
    test = [found[i] for i in order[:n_test]]
    if out.exists():
        for child in out.iterdir():
            if child.name.startswith(("images_", "descriptions_", "tags_")):
                shutil.rmtree(child)
    for split in ("train", "test"):
        for kind in ("images", "tags", "descriptions"):
            (out / f"{kind}_{split}").mkdir(parents=True, exist_ok=True)

    sources = []
    for item_id, (stamp, picture) in enumerate(train):
        write_item(out, "train", item_id, stamp, picture, description=stamp.caption)
        sources.append(("train", item_id, stamp.image.relative_to(stamps)))
    # Test description k describes test image pairing[k], as in the competition.
    pairing = rng.permutation(len(test))
    for item_id, (stamp, picture) in enumerate(test):
        write_item(out, "test", item_id, stamp, picture, description=None)
        sources.append(("test", item_id, stamp.image.relative_to(stamps)))
    for description_id, image_id in enumerate(pairing):
        (out / "descriptions_test" / f"{description_id}.txt").write_text(
            test[image_id][0].caption + "\n", encoding="utf-8"
        )
    write_answers(out / "answers_test.csv", [(str(d), str(i)) for d, i in enumerate(pairing)])
    write_submission(
        out / "sample_submission.csv",
        [str(d) for d in range(len(test))],
        [[str(i) for i in rng.permutation(len(test))[:20]] for _ in range(len(test))],
    )
    with (out / "SOURCES.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["split", "id", "stamp"])
        writer.writerows(sources)
    for license_file, name in (
        (Path("/usr/share/common-licenses/GPL-2"), "COPYING"),
        (Path("/usr/share/doc/tuxpaint-stamps-default/copyright"), "copyright"),
    ):
        if license_file.is_file():
            shutil.copyfile(license_file, out / name)
    print(f"wrote {len(train)} train and {len(test)} test items to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stamps", type=Path, default=STAMPS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "demo")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build(args.stamps, args.out, test_fraction=args.test_fraction, seed=args.seed)


if __name__ == "__main__":
    main()
