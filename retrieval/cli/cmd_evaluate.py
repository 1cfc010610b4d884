"""``retrieval evaluate``: metrics of a trained bundle on its held-out split or on a test part with answers."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_bundle, add_command, add_competition_root, add_split

EXAMPLE = """examples:
  retrieval evaluate --bundle runs/demo/bundle                       # the held-out split it was trained without
  retrieval evaluate --bundle runs/demo/bundle --split test          # test part + data/demo/answers_test.csv"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "evaluate",
        help="MAP@20 (both forms), recall@K and median rank of a trained bundle",
        description="Rank every image of a part for each of its descriptions and report the metrics.",
        example=EXAMPLE,
    )
    add_bundle(parser)
    add_competition_root(parser, "data root (default: the bundle config's)")
    add_split(parser, "what to score (default held-out)")
    parser.add_argument(
        "--answers", type=Path, help="answer file for --split test (default ROOT/answers_test.csv)"
    )
    parser.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from retrieval.evaluation import format_metrics
    from retrieval.fileio import atomic_write
    from retrieval.workflows import evaluate_bundle

    result, part = evaluate_bundle(args.bundle, args.split, root=args.root, answers=args.answers)
    print(
        format_metrics(
            result.metrics, gallery_size=result.gallery_size, title=f"{part.name} ({args.split})"
        )
    )
    if args.json:
        with atomic_write(args.json) as handle:
            json.dump(result.to_dict(), handle, indent=1)
    return 0
