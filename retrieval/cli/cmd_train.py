"""``retrieval train``: train from a TOML config, evaluate on a held-out split, save a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import (
    add_command,
    add_competition_root,
    add_feature_weights,
    announce,
    default_cache_folder,
    feature_weights,
)

EXAMPLE = """examples:
  retrieval train                                   # the default config on data/demo -> runs/default
  retrieval train --config configs/default.toml --root data/cs5785-fall19-final --out runs/full
  retrieval train --config configs/peers/ridge.toml --full --out runs/ridge   # every item, no held-out
  retrieval train --captions photos/captions.csv --out runs/photos           # your own captioned pictures

A captions table (CSV: image,caption[,caption_2...][,tags]; or JSON Lines) has no features:
they are extracted first (--weights, with the feature cache of `retrieval features`)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "train",
        help="train from a TOML config (default: the built-in default config)",
        description="Train on a competition folder's train part (minus a held-out split unless "
        "--full), evaluate on the held-out split, and save a bundle.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="a TOML run config (default: the built-in default, configs/default.toml)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default runs/<config name>)")
    add_competition_root(parser, "the competition folder (default: the config's data.root)")
    parser.add_argument(
        "--captions",
        type=Path,
        help="train on this captions table instead of a competition folder",
    )
    parser.add_argument(
        "--shards",
        type=Path,
        metavar="DIR",
        help="with --captions: take the pictures' features from these shards (`retrieval "
        "features --shards`; their network is the bundle's), extracting only pictures they lack",
    )
    add_feature_weights(parser)
    parser.add_argument(
        "--full", action="store_true", help="train on all items (no held-out evaluation)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from retrieval.config import RunConfig
    from retrieval.evaluation import format_metrics
    from retrieval.workflows import train

    if args.config is None:
        print("using the default config (configs/default.toml)", file=sys.stderr)
        config = RunConfig(name="default")
    else:
        config = RunConfig.from_toml(args.config)
    data = None
    if args.captions is not None:
        from retrieval.data import load_captions_table
        from retrieval.workflows import with_extracted_features

        if args.root is not None:
            raise ValueError("give --root or --captions, not both")
        cache = default_cache_folder()
        announce(f"extracting features of {args.captions}'s pictures (cache: {cache})")
        data = with_extracted_features(
            load_captions_table(args.captions),
            weights=feature_weights(args.weights),
            seed=args.seed,
            cache_dir=cache,
            shards=args.shards,
        )
    elif args.shards is not None:
        raise ValueError("--shards gives the features of a --captions table's pictures")
    result = train(config, root=args.root, out=args.out, full=args.full, data=data)
    print(f"bundle: {result.files['bundle']}")
    if result.evaluation is not None:
        e = result.evaluation
        print(format_metrics(e.metrics, gallery_size=e.gallery_size, title="held-out split"))
        print(f"metrics: {result.files['metrics']}")
    return 0
