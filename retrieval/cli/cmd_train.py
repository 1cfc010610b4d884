"""``retrieval train``: train a retriever from a TOML config and evaluate it on a held-out split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLE = """examples:
  retrieval train --config configs/demo.toml                 # -> runs/demo/bundle, runs/demo/metrics.json
  retrieval train --config configs/demo.toml --full --out runs/demo-full   # train on every item"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a retriever from a TOML config",
        description="Train on the config's data (minus a held-out split unless --full), evaluate, save a bundle.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, required=True, help="a TOML run config (see configs/)"
    )
    parser.add_argument("--out", type=Path, help="output folder (default runs/<config name>)")
    parser.add_argument("--root", type=Path, help="override the config's data root")
    parser.add_argument(
        "--full", action="store_true", help="train on all items (no held-out evaluation)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.config import RunConfig
    from retrieval.data import load_competition, train_val_split
    from retrieval.evaluation import evaluate, format_metrics
    from retrieval.fileio import atomic_write
    from retrieval.pipeline import Retriever

    config = RunConfig.from_toml(args.config)
    if args.root is not None:
        config.data.root = str(args.root)
    out = args.out or Path("runs") / config.name
    data = load_competition(config.data.root, "train")
    held_out = None
    if not args.full:
        data, held_out = train_val_split(
            data, val_size=config.data.val_size, seed=config.data.split_seed
        )
    print(f"training {config.name!r} on {len(data)} items of {config.data.root}", file=sys.stderr)
    retriever = Retriever(config).fit(data)
    bundle = retriever.save(out / "bundle")
    print(f"bundle: {bundle}")
    with atomic_write(out / "history.json") as handle:
        json.dump(retriever.history_, handle, indent=1)
    if held_out is not None:
        result = evaluate(retriever, held_out)
        print(
            format_metrics(result.metrics, gallery_size=result.gallery_size, title="held-out split")
        )
        with atomic_write(out / "metrics.json") as handle:
            json.dump({"gallery_size": result.gallery_size, **result.metrics}, handle, indent=1)
        print(f"metrics: {out / 'metrics.json'}")
    return 0
