"""``retrieval duplicates``: groups of near-duplicate pictures in a library."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.cli._options import add_command, announce

EXAMPLE = """examples:
  retrieval duplicates                                  # the per-user library
  retrieval duplicates --library ~/work-library --threshold 0.98
  retrieval duplicates --paths-only | head              # one group per line, paths only"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "duplicates",
        help="list groups of near-duplicate pictures in a library",
        description=(
            "Print groups of pictures whose codes are within a cosine threshold of each other "
            "(re-encoded, resized or lightly edited versions of one picture), largest group "
            "first: one line per group, the lowest cosine that joined it, then its paths, tab "
            "separated. Files with identical content are indexed once and listed by "
            "`retrieval index` instead."
        ),
        example=EXAMPLE,
    )
    parser.add_argument(
        "--library", type=Path, help="the library folder (default: the per-user library)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.95,
        help="least cosine between two pictures' codes to call them near-duplicates (0.95)",
    )
    parser.add_argument("--paths-only", action="store_true", help="print only the paths")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.cli._options import library_or_default
    from retrieval.library import PictureLibrary
    from retrieval.library.near_duplicates import near_duplicate_groups

    if not -1.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold must be a cosine between -1 and 1, got {args.threshold}")
    folder = library_or_default(args.library, must_exist=args.library is None)
    gallery = PictureLibrary(folder).searcher().gallery
    groups = near_duplicate_groups(gallery.codes, threshold=args.threshold)
    for group in groups:
        paths = "\t".join(str(gallery.paths[i]) for i in group.members)
        print(paths if args.paths_only else f"{group.lowest:.4f}\t{paths}")
    sys.stdout.flush()
    pictures = sum(len(g.members) for g in groups)
    announce(
        f"{len(groups)} group(s) of near-duplicates, {pictures} of {len(gallery)} pictures "
        f"(cosine >= {args.threshold:g})"
    )
    return 0
