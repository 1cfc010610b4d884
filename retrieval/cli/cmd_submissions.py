"""``retrieval submissions``: your submissions to a Kaggle competition, with status and scores."""

from __future__ import annotations

import argparse

from retrieval.cli._options import add_command
from retrieval.kaggle_client import DEFAULT_COMPETITION

EXAMPLE = f"""examples:
  retrieval submissions                                  # {DEFAULT_COMPETITION}, newest first
  retrieval submissions --competition {DEFAULT_COMPETITION} | cut -f1,4,6

Rows: date, file, status, public score, private score, description (tab-separated, with a
header line). Needs the same Kaggle credentials as `retrieval submit --upload`."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "submissions",
        help="list your submissions to a Kaggle competition and their scores",
        description="List your submissions to a competition, newest first, with their scores.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--competition",
        default=DEFAULT_COMPETITION,
        help=f"the competition's name on kaggle.com (default {DEFAULT_COMPETITION})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from retrieval.kaggle_client import submissions

    records = submissions(args.competition)
    print("date\tfile\tstatus\tpublic\tprivate\tdescription")
    for record in records:
        print(record.row())
    print(f"{len(records)} submissions to {args.competition}", file=sys.stderr)
    return 0
