"""``retrieval demo``: run the main job on the bundled demo data."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """example:
  retrieval demo                      # data/demo -> runs/demo
  retrieval demo --out /tmp/demo-run"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job on the bundled demo data",
        description="Load the demo data and run the main job on it, printing where each output is.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=Path("data/demo"), help="the demo folder")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="where outputs go")
    parser.add_argument(
        "--config", type=Path, default=Path("configs/demo.toml"), help="the run config"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.demo import run_demo

    run_demo(args.root, args.out, config_path=args.config)
    return 0
