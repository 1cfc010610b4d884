"""``retrieval index``: crawl folders of pictures into a searchable library."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_batch_size, add_command, add_weights_file, positive

EXAMPLE = """examples:
  retrieval index ~/Pictures --bundle runs/demo/bundle    # the per-user library; the bundle is remembered
  retrieval index                                         # re-crawl: only new or changed files are extracted
  retrieval search "a red apple"                          # search the per-user library
  retrieval index ~/Work/photos --bundle runs/demo/bundle --library ~/work-library
  retrieval index ~/Pictures --model clip:clip_vit_base_patch32 --library ~/clip-library   # zero-shot CLIP
  retrieval index ~/Pictures --model clip:~/models/clip_vit_base_patch32 --library ~/clip-library  # offline
  retrieval index ~/Pictures --exclude-dir thumbnails --exclude-dir ~/Pictures/scans --max-size 20
  retrieval index --from-shards runs/archive --bundle runs/demo/bundle --backend hnsw --out runs/archive-index
  retrieval index --from-shards runs/archive --bundle runs/demo/bundle --backend qdrant \
      --qdrant-url http://qdrant:6333 --upload-workers 8 --out runs/archive-qdrant
  retrieval search "a red apple" --vectors runs/archive-index

The per-user library lives in $XDG_DATA_HOME/retrieval/library (~/.local/share/retrieval/library).
Pictures are encoded with the network the bundle's training features came from, or, with
--model clip:PRESET, embedded by a keras-hub CLIP preset (no bundle, no training): a preset
name is downloaded once into the kagglehub cache ($KAGGLEHUB_CACHE, default
~/.cache/kagglehub); a local preset folder (config.json, model.weights.h5, preprocessor.json,
tokenizer.json, assets/) needs no network. A library holds one kind of pictures: bundle codes
or CLIP embeddings.

With --backend and no folders, --from-shards builds a vector index of every picture in the
shards instead of a library: shard by shard, so memory stays at one shard plus the index
(exact, hnsw or binary in --out; qdrant embedded, or on a server with --qdrant-url, uploaded
in parallel batches). It holds the keys of the bundle's first mapper and is searched by text
with `retrieval search --vectors DIR`."""


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
    add_batch_size(parser)
    parser.add_argument(
        "--from-shards",
        type=Path,
        metavar="DIR",
        help="take each picture's features from these shards (`retrieval features --shards`, "
        "made with the bundle's network) when its size and mtime match; extract only the others",
    )
    vectors = parser.add_argument_group(
        "a vector index from shards (--from-shards with no folders, --bundle, --out)"
    )
    vectors.add_argument(
        "--backend",
        choices=["exact", "hnsw", "binary", "qdrant"],
        help="build a vector index of this backend from --from-shards instead of a library",
    )
    vectors.add_argument("--out", type=Path, help="the vector index's folder")
    vectors.add_argument(
        "--qdrant-url",
        metavar="URL",
        help="with --backend qdrant: a Qdrant server or cluster (default: embedded, in --out)",
    )
    vectors.add_argument(
        "--collection", default="retrieval", help="with --qdrant-url: the collection's name"
    )
    vectors.add_argument(
        "--upload-workers",
        type=positive,
        default=4,
        help="with --qdrant-url: batches uploaded at once (default 4)",
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


def build_vector_index(args: argparse.Namespace) -> int:
    """``index --from-shards DIR --backend B --bundle BUNDLE --out OUT``: a vector index."""
    from retrieval.core import load_bundle
    from retrieval.library.vectors import index_shards

    if args.folders:
        raise ValueError(
            "--backend builds a vector index from --from-shards alone: give no folders"
        )
    missing = [
        name
        for name, value in (("--from-shards", args.from_shards), ("--bundle", args.bundle))
        if value is None
    ]
    missing += ["--out"] if args.out is None else []
    if missing:
        raise ValueError(f"--backend {args.backend} needs {' and '.join(missing)}")
    params: dict = {}
    if args.backend == "qdrant":
        params = {"url": args.qdrant_url, "collection": args.collection}
        params["upload_workers"] = args.upload_workers
    elif args.qdrant_url is not None:
        raise ValueError("--qdrant-url goes with --backend qdrant")
    model, _ = load_bundle(args.bundle)
    index = index_shards(model, args.bundle, args.from_shards, backend=args.backend, **params)
    index.save(args.out)
    where = (
        f" (points on {args.qdrant_url}, collection {args.collection})" if args.qdrant_url else ""
    )
    print(f"{len(index)} pictures in a {args.backend} index{where}")
    print(f"index: {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    import sys

    from retrieval.cli._options import announce, library_or_default

    if args.backend is not None:
        return build_vector_index(args)
    stray = [
        name
        for name, given in (("--out", args.out), ("--qdrant-url", args.qdrant_url))
        if given is not None
    ]
    if stray:
        raise ValueError(f"{stray[0]} goes with --backend (a vector index from --from-shards)")
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
