"""``retrieval index``: crawl folders of pictures into a searchable library."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command, add_weights_file, positive

EXAMPLE = """examples:
  retrieval index ~/Pictures --bundle runs/demo/bundle    # the per-user library; the bundle is remembered
  retrieval index                                         # re-crawl: only new or changed files are extracted
  retrieval search "a red apple"                          # search the per-user library
  retrieval index ~/Work/photos --bundle runs/demo/bundle --store ~/work-library

The per-user library lives in $XDG_DATA_HOME/retrieval/library (~/.local/share/retrieval/library).
Pictures are encoded with the network the bundle's training features came from."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "index",
        help="index folders of pictures for search (incremental)",
        description="Crawl folders, extract features of new or changed pictures, and code them with a bundle.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "folders", nargs="*", type=Path, help="folders to add (the library remembers earlier ones)"
    )
    parser.add_argument(
        "--store",
        type=Path,
        help="where the library lives (default: the per-user library, "
        "$XDG_DATA_HOME/retrieval/library)",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        help="trained bundle to code the pictures with (needed the first time; then remembered)",
    )
    add_weights_file(parser)
    parser.add_argument(
        "--ext", default="jpg,jpeg,png,gif,bmp,webp,tif,tiff", help="comma-separated extensions"
    )
    parser.add_argument("--hidden", action="store_true", help="also crawl hidden files and folders")
    parser.add_argument(
        "--batch-size",
        type=positive,
        help="pictures per model call (default: chosen from the machine)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from retrieval.cli._options import announce, library_or_default
    from retrieval.library import PictureLibrary

    library = PictureLibrary(library_or_default(args.store, must_exist=False))
    remembered = library.manifest()["bundle"]
    if args.bundle is None and remembered is None:
        raise ValueError(
            f"{library.store} has no bundle yet: give --bundle BUNDLE (made by `retrieval train` "
            "or `retrieval demo`)"
        )
    if args.bundle is None:
        announce(f"bundle: {remembered} (the library's)")
    report = library.update(
        args.folders,
        bundle=args.bundle,
        weights_file=args.weights_file,
        extensions=[e.strip() for e in args.ext.split(",") if e.strip()],
        include_hidden=args.hidden,
        batch_size=args.batch_size,
    )
    for kept, copies in report.duplicates.items():
        print(f"duplicate content: {kept} also at {', '.join(copies)}", file=sys.stderr)
    print(report)
    print(f"library: {library.store}")
    return 0
