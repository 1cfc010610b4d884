"""``retrieval index``: crawl folders of pictures into a searchable library."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command, add_weights_file, positive

EXAMPLE = """examples:
  retrieval index ~/Pictures --bundle runs/demo/bundle    # the per-user library; the bundle is remembered
  retrieval index                                         # re-crawl: only new or changed files are extracted
  retrieval search "a red apple"                          # search the per-user library
  retrieval index ~/Work/photos --bundle runs/demo/bundle --library ~/work-library
  retrieval index ~/Pictures --model clip:clip_vit_base_patch32 --library ~/clip-library   # zero-shot CLIP
  retrieval index ~/Pictures --model clip:~/models/clip_vit_base_patch32 --library ~/clip-library  # offline
  retrieval index ~/Pictures --exclude-dir thumbnails --exclude-dir ~/Pictures/scans --max-size 20

The per-user library lives in $XDG_DATA_HOME/retrieval/library (~/.local/share/retrieval/library).
Pictures are encoded with the network the bundle's training features came from, or, with
--model clip:PRESET, embedded by a keras-hub CLIP preset (no bundle, no training): a preset
name is downloaded once into the kagglehub cache ($KAGGLEHUB_CACHE, default
~/.cache/kagglehub); a local preset folder (config.json, model.weights.h5, preprocessor.json,
tokenizer.json, assets/) needs no network. A library holds one kind of pictures: bundle codes
or CLIP embeddings."""


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
        "--library",
        "--store",
        dest="store",
        type=Path,
        help="where the library lives, as search and serve's --library (default: the per-user "
        "library, $XDG_DATA_HOME/retrieval/library); --store is the same option",
    )
    encoder = parser.add_mutually_exclusive_group()
    encoder.add_argument(
        "--bundle",
        type=Path,
        help="trained bundle to code the pictures with (needed the first time; then remembered)",
    )
    encoder.add_argument(
        "--model",
        type=model_spec,
        metavar="clip:PRESET_OR_FOLDER",
        help="embed the pictures with CLIP instead of a bundle: a keras-hub preset "
        "(clip_vit_base_patch32, ...) or a local preset folder (the first time; then remembered)",
    )
    add_weights_file(parser)
    parser.add_argument(
        "--ext",
        default="jpg,jpeg,png,gif,bmp,webp,tif,tiff,heic,heif",
        help="comma-separated extensions (HEIC and HEIF need: pip install 'retrieval[heic]')",
    )
    parser.add_argument("--hidden", action="store_true", help="also crawl hidden files and folders")
    parser.add_argument(
        "--exclude-dir",
        action="append",
        metavar="NAME_OR_PATH",
        help="leave out folders of this name anywhere (thumbnails) or this folder; repeatable; "
        "remembered by the library until given again (--exclude-dir '' clears)",
    )
    parser.add_argument(
        "--max-size",
        type=float,
        metavar="MB",
        help="skip picture files larger than this many megabytes (remembered; 0 clears)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        help="pictures per model call (default: chosen from the machine)",
    )
    parser.add_argument(
        "--from-shards",
        type=Path,
        metavar="DIR",
        help="take each picture's features from these shards (`retrieval features --shards`, "
        "made with the bundle's network) when its size and mtime match; extract only the others",
    )
    parser.set_defaults(run=run)


def model_spec(value: str) -> str:
    """An argparse type: ``clip:PRESET_OR_FOLDER``, kept as given (checked here, loaded later)."""
    from retrieval.features.clip import parse_model_spec

    try:
        parse_model_spec(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--model {value!r}: ")) from None
    return value


def run(args: argparse.Namespace) -> int:
    import sys

    from retrieval.cli._options import announce, library_or_default
    from retrieval.features.clip import is_clip_record
    from retrieval.library import PictureLibrary

    library = PictureLibrary(library_or_default(args.store, must_exist=False))
    manifest = library.manifest()
    remembered = manifest["bundle"]
    if is_clip_record(manifest["features"]):
        remembered = f"clip:{manifest['features']['preset']}"
    if args.bundle is None and args.model is None and remembered is None:
        raise ValueError(
            f"{library.store} has no bundle yet: give --bundle BUNDLE (made by `retrieval train` "
            "or `retrieval demo`) or a CLIP model, --model clip:PRESET_OR_FOLDER"
        )
    if args.bundle is None and args.model is None:
        announce(
            f"{'model' if remembered.startswith('clip:') else 'bundle'}: {remembered} (the library's)"
        )
    report = library.update(
        args.folders,
        bundle=args.bundle,
        model=args.model,
        weights_file=args.weights_file,
        extensions=[e.strip() for e in args.ext.split(",") if e.strip()],
        include_hidden=args.hidden,
        batch_size=args.batch_size,
        shards=args.from_shards,
        exclude_dirs=None
        if args.exclude_dir is None
        else [folder for folder in args.exclude_dir if folder],
        max_bytes=None if args.max_size is None else int(args.max_size * 2**20),
    )
    for kept, copies in report.duplicates.items():
        print(f"duplicate content: {kept} also at {', '.join(copies)}", file=sys.stderr)
    print(report)
    print(f"library: {library.store}")
    return 0
