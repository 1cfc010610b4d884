"""``retrieval search``: ask a trained bundle for the images that match a description."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """examples:
  retrieval search "a red apple" --bundle runs/demo/bundle --k 5
  retrieval search "a dog" --bundle runs/demo/bundle --paths-only | xargs -n1 echo
  retrieval search --image photo.jpg --bundle runs/demo/bundle --weights none
  retrieval search --bundle runs/demo/bundle          # interactive: type queries, 'exit' to stop"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search a trained bundle's gallery by text or by example image",
        description="Print score<TAB>path lines for the best-matching images, best first.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("query", nargs="?", help="a description; omit it for an interactive prompt")
    parser.add_argument(
        "--bundle", type=Path, default=Path("runs/demo/bundle"), help="a trained bundle folder"
    )
    parser.add_argument(
        "--library", type=Path, help="search a library made by `retrieval index` instead"
    )
    parser.add_argument("--k", type=int, default=20, help="how many results (default 20)")
    parser.add_argument("--image", type=Path, help="query by this example image instead of text")
    parser.add_argument(
        "--weights",
        default="imagenet",
        help="ResNet-50 weights for --image: imagenet, none, or a .h5 file",
    )
    parser.add_argument("--paths-only", action="store_true", help="print paths only, one per line")
    parser.set_defaults(run=run)


def _print_hits(hits, paths_only: bool) -> None:
    for hit in hits:
        print(str(hit.path) if paths_only else f"{hit.score:.4f}\t{hit.path}")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from retrieval.pipeline import Retriever

    if args.k < 1:
        raise ValueError(f"--k must be at least 1, got {args.k}")
    if args.library is not None:
        from retrieval.library import PictureLibrary

        library = PictureLibrary(args.library)
        retriever = library.retriever()
        if args.weights == "imagenet" and library.weights != "imagenet":
            args.weights = "none" if library.weights is None else library.weights
    else:
        retriever = Retriever.load(args.bundle)
    if args.image is not None:
        if not args.image.is_file():
            raise FileNotFoundError(f"{args.image}: no such image file")
        weights = None if args.weights == "none" else args.weights
        _print_hits(retriever.search_image(args.image, args.k, weights=weights), args.paths_only)
        return 0
    if args.query is not None:
        _print_hits(retriever.search(args.query, args.k), args.paths_only)
        return 0
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("query (exit to stop)> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line or line.strip() in ("exit", "quit"):
            return 0
        if line.strip():
            _print_hits(retriever.search(line.strip(), args.k), args.paths_only)
