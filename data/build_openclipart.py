"""Build an Openclipart dataset in the competition layout (for quality studies; not committed).

Source: Debian package ``openclipart-svg`` (public domain): SVGs under
``/usr/share/openclipart/svg/<category>/...`` whose RDF metadata holds a title
(``<dc:title>``) and sometimes a description (``<dc:description>``). The title and the
description become the sentences of an item's description; the folder path gives its tags,
as in ``data/build_demo.py``.

Usage: ``python data/build_openclipart.py [--out data/openclipart] [--limit N] [--workers 2] [--no-features]``
(every titled SVG by default; then the feature CSVs of both parts: ResNet-50 with random
weights and EfficientNet-Lite0 with its ImageNet weights)
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from html import unescape
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.data import Tag
from retrieval.data._layout_writer import IMAGE_SIZE, SourceItem, write_competition_layout

SVGS = Path("/usr/share/openclipart/svg")
WORK = re.compile(rb"<cc:Work\b.*?</cc:Work>", re.S)
TITLE = re.compile(rb"<dc:title>([^<]*)</dc:title>")
DESCRIPTION = re.compile(rb"<dc:description>([^<]*)</dc:description>")


def metadata_sentences(svg: Path) -> list[str]:
    """The work's own title and description (not the publisher's or the creator's names)."""
    match = WORK.search(svg.read_bytes())
    if match is None:
        return []
    work = match.group(0)
    sentences = []
    for pattern in (TITLE, DESCRIPTION):
        found = pattern.search(work)
        if found:
            text = " ".join(unescape(found.group(1).decode("utf-8", errors="replace")).split())
            if text and text.lower() not in {s.lower() for s in sentences}:
                sentences.append(text)
    return sentences


def tags_from_folder(parts: tuple[str, ...]) -> list[Tag]:
    kept = [p.replace("_", " ") for p in parts]
    if len(kept) == 1:
        return [Tag(kept[0], kept[0])]
    return [Tag(a, b) for a, b in zip(kept[:-1], kept[1:], strict=False)]


def find_cliparts(root: Path) -> list[SourceItem]:
    items = []
    for svg in sorted(root.rglob("*.svg")):
        sentences = metadata_sentences(svg)
        if sentences and len(sentences[0]) > 2:
            items.append(
                SourceItem(svg, sentences, tags_from_folder(svg.relative_to(root).parts[:-1]))
            )
    return items


def load_svg(path: Path) -> Image.Image:
    import cairosvg

    # System files from a Debian package; some declare XML entities.
    png = cairosvg.svg2png(url=str(path), output_width=IMAGE_SIZE * 2, unsafe=True)
    return Image.open(io.BytesIO(png))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--svgs", type=Path, default=SVGS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "openclipart")
    parser.add_argument(
        "--limit", type=int, default=0, help="keep a seeded sample of this many (0: all)"
    )
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-features",
        action="store_true",
        help="skip the feature CSVs (default: ResNet-50 with random weights, and EfficientNet-Lite0)",
    )
    args = parser.parse_args()
    items = find_cliparts(args.svgs)
    if not items:
        sys.exit(f"no titled SVGs under {args.svgs}: install the Debian package openclipart-svg")
    if args.limit and args.limit < len(items):
        keep = np.sort(
            np.random.default_rng(args.seed).choice(len(items), args.limit, replace=False)
        )
        items = [items[i] for i in keep]
    counts = write_competition_layout(
        args.out,
        items,
        load_image=load_svg,
        test_fraction=args.test_fraction,
        seed=args.seed,
        workers=args.workers,
        source_root=args.svgs,
    )
    print(
        f"wrote {counts.train} train and {counts.test} test items to {args.out} ({counts.skipped} skipped)"
    )
    if not args.no_features:
        from retrieval.features import write_layout_features

        for path in write_layout_features(args.out):
            print(path)


if __name__ == "__main__":
    main()
