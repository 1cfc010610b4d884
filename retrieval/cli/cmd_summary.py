"""``retrieval summary``: counts, sentence lengths and tag frequencies of a dataset."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from retrieval.cli._options import add_command

EXAMPLE = """examples:
  retrieval summary data/demo --split train --split test
  retrieval summary my_photos/captions.csv"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "summary",
        help="print a summary of a competition folder or a captions table",
        description="Print counts, sentence lengths and tag frequencies.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "source", type=Path, help="a competition folder, or a .csv/.jsonl captions table"
    )
    parser.add_argument(
        "--split",
        action="append",
        choices=["train", "test"],
        help="part(s) of a competition folder (default: both)",
    )
    parser.add_argument("--top-tags", type=int, default=10, help="how many frequent tags to list")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.data import load_captions_table, load_competition
    from retrieval.errors import DataWarning

    warnings.simplefilter("default", DataWarning)
    if args.source.is_file():
        datasets = [load_captions_table(args.source)]
    else:
        answers = args.source / "answers_test.csv"
        datasets = [
            load_competition(
                args.source,
                split,
                answers=answers if split == "test" and answers.is_file() else None,
            )
            for split in (args.split or ["train", "test"])
        ]
    for dataset in datasets:
        print(dataset.summary(top_tags=args.top_tags))
        if dataset.notes:
            print(f"  {len(dataset.notes)} data problems skipped (warnings above)")
    return 0
