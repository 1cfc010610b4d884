"""``retrieval train``: train from a TOML config, evaluate on a held-out split, save a bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command

EXAMPLE = """examples:
  retrieval train                                   # the default config on data/demo -> runs/default
  retrieval train --config configs/default.toml --root data/cs5785-fall19-final --out runs/full
  retrieval train --config configs/peers/ridge.toml --full --out runs/ridge   # every item, no held-out"""


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
    parser.add_argument(
        "--root", type=Path, help="the competition folder (default: the config's data.root)"
    )
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
    result = train(config, root=args.root, out=args.out, full=args.full)
    print(f"bundle: {result.files['bundle']}")
    if result.evaluation is not None:
        e = result.evaluation
        print(format_metrics(e.metrics, gallery_size=e.gallery_size, title="held-out split"))
        print(f"metrics: {result.files['metrics']}")
    return 0
