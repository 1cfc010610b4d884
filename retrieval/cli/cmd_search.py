"""``retrieval search``: the images of a bundle's gallery, or of a library, that match a description."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.cli._options import add_bundle_or_library, add_command, add_weights_file, positive

EXAMPLE = """examples:
  retrieval search "a red apple" --bundle runs/demo/bundle --k 5
  retrieval search "a dog" --bundle runs/demo/bundle --paths-only | xargs -n1 echo
  retrieval search --image photo.jpg --bundle runs/demo/bundle
  retrieval search "a red apple"                      # the per-user library (`retrieval index`)
  cd ~/Pictures/trip && retrieval search "a beach"    # a folder it lacks is indexed first, once
  retrieval search "a red apple" --library ~/work-library
  retrieval search "a dog on a beach" --library ~/clip-library   # a CLIP library (index --model clip:...)
  retrieval search --image photo.jpg --library ~/clip-library
  retrieval search "a dog" --image beach.jpg --subtract "indoors" --library ~/clip-library
  retrieval search "a red apple" --subtract green.jpg --bundle runs/demo/bundle
  retrieval search "a red apple" --bundle runs/demo/bundle --k 3 --preview   # thumbnails (kitty, iTerm2, sixel)
  retrieval search --bundle runs/demo/bundle          # interactive: type queries, 'exit' to stop
  retrieval search "a red apple" --vectors runs/archive-index   # a vector index (index --backend)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "search",
        help="search a trained bundle's gallery or a library by text or by example image",
        description=(
            "Print score<TAB>path lines for the best-matching images, best first. Without a "
            "query, read queries from stdin: a prompt on a terminal; piped, one "
            "query<TAB>rank<TAB>score<TAB>path row per result. Every score, whatever the "
            "query (a text, an --image, a combination) and whatever is searched (a bundle, a "
            "library, CLIP), is a z-score over the gallery: how many standard deviations the "
            "picture's similarity is above the gallery's mean for this query (higher is "
            "better; compare within one query). A query of several terms (a text with "
            "--image, --add, --subtract) standardises each term's scores over the gallery and "
            "sums them, subtracted terms with a minus. A text the "
            "model cannot place (no word it knows) gets no results: a line on stderr says why, "
            "and the exit code is 1."
        ),
        example=EXAMPLE,
    )
    parser.add_argument("query", nargs="?", help="a description; omit it for an interactive prompt")
    add_bundle_or_library(parser, "search")
    parser.add_argument("--k", type=positive, default=20, help="how many results (default 20)")
    parser.add_argument(
        "--image", type=Path, help="query by this example image (with a text: both, added)"
    )
    parser.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="TERM",
        help="add a text, or an example image (a path ending .jpg, .png, ...), to the query; repeatable",
    )
    parser.add_argument(
        "--subtract",
        action="append",
        default=[],
        metavar="TERM",
        help="take a text or an example image away from the query (pictures like it sink); repeatable",
    )
    add_weights_file(parser)
    parser.add_argument("--paths-only", action="store_true", help="print paths only, one per line")
    parser.add_argument(
        "--preview",
        nargs="?",
        const="auto",
        choices=("auto", "kitty", "iterm", "sixel"),
        help="a thumbnail under each result, in terminals that show inline pictures: kitty's "
        "protocol, iTerm2's or sixel (auto: the one the terminal announces; elsewhere a line "
        "says why there are none)",
    )
    parser.add_argument(
        "--vectors",
        type=Path,
        metavar="DIR",
        help="search a vector index made by `retrieval index --from-shards DIR --backend ...` "
        "(a text query; with the bundle it was built with, or --bundle)",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="with the per-user library: search it as it is, even when the working folder holds "
        "pictures it has not indexed (by default they are indexed first, once)",
    )
    parser.set_defaults(run=run)


def _shown(path: Path) -> str:
    """A picture's path as printed: relative to the working folder when it lies inside it."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(path)


def _warn_unknown(searcher, query: str) -> bool:
    """Say what is wrong with ``query`` on stderr; ``False`` when it cannot be placed at all
    (its results would say nothing about it, so none are shown)."""
    note = searcher.query_note(query)
    placed = searcher.places(query)
    if note:
        print(f"{'warning' if placed else 'no results'}: {note}", file=sys.stderr)
    return placed


def _print_rows(query: str, hits, paths_only: bool) -> None:
    """``query<TAB>rank<TAB>score<TAB>path`` rows (tabs and newlines in the query become spaces)."""
    flat = " ".join(query.split())
    for rank, hit in enumerate(hits, start=1):
        score = "" if paths_only else f"{hit.score:.4f}"
        print(f"{flat}\t{rank}\t{score}\t{_shown(hit.path)}")
    sys.stdout.flush()


def _print_hits(hits, paths_only: bool, preview: str | None = None) -> None:
    from retrieval.cli._preview import preview as thumbnail

    for hit in hits:
        print(_shown(hit.path) if paths_only else f"{hit.score:.4f}\t{_shown(hit.path)}")
        if preview:
            sys.stdout.write(thumbnail(hit.path, preview))
    sys.stdout.flush()


def _preview_protocol(wanted: str | None) -> str | None:
    """The protocol ``--preview`` draws with, or ``None`` (with a line saying why not)."""
    if wanted is None:
        return None
    from retrieval.cli._preview import choose_protocol

    protocol, reason = choose_protocol(wanted, is_terminal=sys.stdout.isatty())
    if protocol is None:
        print(f"--preview: no thumbnails: {reason}", file=sys.stderr)
    return protocol


def _search_vectors(args: argparse.Namespace) -> int:
    """``search "TEXT" --vectors DIR``: the best pictures of a vector index built from shards."""
    from retrieval.core import SearchHit, load_bundle
    from retrieval.index import load_index
    from retrieval.library.vectors import search_index

    if args.query is None or args.image is not None or args.add or args.subtract:
        raise ValueError(
            "--vectors searches by one text query: give it, and no --image/--add/--subtract"
        )
    if args.library is not None:
        raise ValueError("give --vectors or --library, not both")
    index = load_index(args.vectors)
    bundle = args.bundle if args.bundle is not None else index.info.get("bundle")
    if bundle is None:
        raise ValueError(f"{args.vectors}: the index names no bundle; give --bundle")
    model, _ = load_bundle(bundle)
    if not model.known_words([args.query])[0]:
        print(f"no results: no word of {args.query!r} is known to the model", file=sys.stderr)
        return 1
    hits = [
        SearchHit(rank, path, Path(path), score)
        for rank, (path, score) in enumerate(search_index(model, index, [args.query], k=args.k)[0])
    ]
    _print_hits(hits, args.paths_only, _preview_protocol(args.preview))
    return 0


def _terms(args: argparse.Namespace) -> list:
    """The query's terms: the text, ``--image``, each ``--add`` and each ``--subtract``."""
    from retrieval.core import QueryTerm as term_type

    terms = []
    if args.query is not None and args.query.strip():
        terms.append(term_type(text=args.query))
    if args.image is not None:
        terms.append(term_type(image=args.image))
    terms += [term_type.parse(term) for term in args.add]
    terms += [term_type.parse(term, -1.0) for term in args.subtract]
    return terms


def run(args: argparse.Namespace) -> int:
    from retrieval.core import Searcher, check_terms, load_bundle, search_combined

    # the arguments first, before anything is loaded or built
    if args.query is not None and not args.query.strip():
        raise ValueError("the query is empty")
    if args.image is not None and not args.image.is_file():
        raise FileNotFoundError(f"{args.image}: no such image file")
    if args.vectors is not None:
        return _search_vectors(args)
    terms = _terms(args)
    preview = _preview_protocol(args.preview)
    combined = len(terms) > 1 or bool(args.add or args.subtract)
    if combined:
        check_terms(terms)
    if args.bundle is None:
        from retrieval.cli._options import index_here_first, library_or_default

        implicit = args.library is None
        args.library = library_or_default(args.library, must_exist=implicit)
        if implicit and not args.no_index:
            index_here_first(args.library)
    if args.library is not None:
        from retrieval.library import PictureLibrary

        searcher = PictureLibrary(args.library).searcher()
    else:
        searcher = Searcher(*load_bundle(args.bundle))
    if combined:
        for term in terms:
            if term.text is not None:
                _warn_unknown(searcher, term.text)
        hits = search_combined(searcher, terms, args.k, weights_file=args.weights_file)
        _print_hits(hits, args.paths_only, preview)
        return 0
    if args.image is not None:
        _print_hits(
            searcher.search_image(args.image, args.k, weights_file=args.weights_file),
            args.paths_only,
            preview,
        )
        return 0
    if args.query is not None:
        if not _warn_unknown(searcher, args.query):
            return 1
        _print_hits(searcher.search(args.query, args.k), args.paths_only, preview)
        return 0
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("query (exit to stop)> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line or line.strip() in ("exit", "quit"):
            return 0
        query = line.strip()
        if not query:
            continue
        if not _warn_unknown(searcher, query):
            continue
        hits = searcher.search(query, args.k)
        if interactive:
            _print_hits(hits, args.paths_only, preview)
        else:  # piped: one TSV row per hit, carrying its query
            _print_rows(query, hits, args.paths_only)
