"""``retrieval demo``: run the main job on the bundled demo data."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command

EXAMPLE = """examples:
  retrieval demo                      # data/demo -> runs/demo, the default config
  retrieval demo --out /tmp/demo-run --config configs/peers/ridge.toml"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "demo",
        help="run the main job on the bundled demo data",
        description="Train, evaluate, report and submit on the demo data, printing where each output is.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--root", type=Path, default=Path("data/demo"), help="the demo folder (default data/demo)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="where outputs go (default runs/demo)"
    )
    parser.add_argument(
        "--config", type=Path, help="a run config (default: the built-in default config)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.config import RunConfig
    from retrieval.workflows import demo_config, run_demo

    config = RunConfig.from_toml(args.config) if args.config else demo_config()
    run_demo(args.root, args.out, config=config)
    return 0
