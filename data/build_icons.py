"""Build ``data/icons/``: Material Design Icons in the competition layout (for quality studies; not committed).

Source: the npm package ``@mdi/svg`` (Material Design Icons by the Pictogrammers icon
group; icons under the Apache License 2.0, see https://pictogrammers.com/ and the
package's ``LICENSE``, copied to ``<out>/LICENSE-NOTE.txt``). Get it with
``cd /tmp && npm pack @mdi/svg && mkdir -p mdi && tar xzf mdi-svg-*.tgz -C mdi``.
Its ``meta.json`` gives each icon of ``svg/<name>.svg`` a ``name``
(``account-network-outline``), ``aliases`` and ``tags`` (``Account / User``). Some icons
are brand logos, which may be trademarks of their owners.

Each item is one icon rasterised with cairosvg (a black glyph on white, fitted to
224x224). Its description has one sentence from the name with hyphens turned into spaces
(``account network outline``) and, when the icon has aliases, a second one from the
aliases joined by spaces. Each meta tag ``A / B`` becomes the tag ``a:b`` (``A / B / C``
gives ``a:b`` and ``b:c``, as folder paths do in ``data/build_demo.py``); a tag without
`` / `` gives ``x:x``. Many icons have no tags, so their tag files are empty.

Deprecated icons and style variants (names ending in ``-outline``, ``-off`` or
``-variant``, which mostly repeat another icon's picture and words) are left out, so that
the set is more diverse; a seeded sample of ``--limit`` of the rest is kept.

What is written is the layout of ``data/build_demo.py``: ``descriptions_*``, ``tags_*``,
``images_*``, ``answers_test.csv``, ``sample_submission.csv``, ``SOURCES.csv`` (each item's
icon file) and ``LICENSE-NOTE.txt``.

Usage: ``python data/build_icons.py [--package /tmp/mdi/package] [--out data/icons] [--limit N] [--workers 2] [--no-features]``
(every icon kept by default; then the feature CSVs as in ``data/build_openclipart.py``)
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.data import Tag
from retrieval.data._layout_writer import IMAGE_SIZE, SourceItem, write_competition_layout

PACKAGE = Path("/tmp/mdi/package")
VARIANT = re.compile(r"-(outline|off|variant)$")


def words(name: str) -> str:
    """``account-network-outline`` -> ``account network outline``."""
    return " ".join(name.replace("-", " ").split())


def tags_from_meta(entries: list[str]) -> list[Tag]:
    """``["Account / User", "Weather"]`` -> ``[Tag("account", "user"), Tag("weather", "weather")]``."""
    tags: list[Tag] = []
    for entry in entries:
        parts = [" ".join(p.split()).lower() for p in entry.split(" / ")]
        parts = [p.replace(":", " ") for p in parts if p]
        if len(parts) == 1:
            found = [Tag(parts[0], parts[0])]
        else:
            found = [Tag(a, b) for a, b in zip(parts[:-1], parts[1:], strict=False)]
        tags.extend(t for t in found if t not in tags)
    return tags


def find_icons(package: Path) -> list[SourceItem]:
    """Every current, non-variant icon of ``meta.json`` whose SVG is in ``svg/``."""
    meta = json.loads((package / "meta.json").read_text(encoding="utf-8"))
    items = []
    for icon in sorted(meta, key=lambda icon: icon["name"]):
        name = icon["name"]
        svg = package / "svg" / f"{name}.svg"
        if icon.get("deprecated") or VARIANT.search(name) or not svg.is_file():
            continue
        sentences = [words(name)]
        aliases = " ".join(words(alias) for alias in icon.get("aliases", []))
        if aliases:
            sentences.append(aliases)
        items.append(SourceItem(svg, sentences, tags_from_meta(icon.get("tags", []))))
    return items


def load_icon(path: Path) -> Image.Image:
    """The icon rasterised at twice the target size: a black glyph on a transparent ground."""
    import cairosvg

    png = cairosvg.svg2png(url=str(path), output_width=IMAGE_SIZE * 2)
    return Image.open(io.BytesIO(png))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--package", type=Path, default=PACKAGE, help="the unpacked @mdi/svg npm package"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "icons")
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
    if not (args.package / "meta.json").is_file():
        sys.exit(f"no meta.json under {args.package}: unpack the npm package @mdi/svg there")
    items = find_icons(args.package)
    if not items:
        sys.exit(f"no icons found under {args.package / 'svg'}")
    if args.limit and args.limit < len(items):
        keep = np.sort(
            np.random.default_rng(args.seed).choice(len(items), args.limit, replace=False)
        )
        items = [items[i] for i in keep]
    for child in args.out.glob("*_*/"):
        if child.name.startswith(("images_", "descriptions_", "tags_")):
            shutil.rmtree(child)
    counts = write_competition_layout(
        args.out,
        items,
        load_image=load_icon,
        test_fraction=args.test_fraction,
        seed=args.seed,
        workers=args.workers,
        source_root=args.package,
    )
    shutil.copyfile(args.package / "LICENSE", args.out / "LICENSE-NOTE.txt")
    print(
        f"wrote {counts.train} train and {counts.test} test items to {args.out} ({counts.skipped} skipped)"
    )
    if not args.no_features:
        from retrieval.features import write_layout_features

        for path in write_layout_features(args.out):
            print(path)


if __name__ == "__main__":
    main()
