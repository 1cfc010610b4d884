"""``retrieval download``: fetch a Kaggle competition's files, unzipped, into ``data/<name>``."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command
from retrieval.kaggle_client import DEFAULT_COMPETITION

EXAMPLE = f"""examples:
  retrieval download                      # {DEFAULT_COMPETITION} into data/{DEFAULT_COMPETITION}
  retrieval download --competition {DEFAULT_COMPETITION} --dest /scratch/cs5785 --force

Needs Kaggle credentials (~/.kaggle/kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY) and the
competition's rules accepted on kaggle.com. A folder that a finished download filled is left
alone unless --force."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "download",
        help="download and unzip a Kaggle competition's files",
        description="Download a competition's files through the kaggle client and unzip them.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--competition",
        default=DEFAULT_COMPETITION,
        help=f"the competition's name on kaggle.com (default {DEFAULT_COMPETITION})",
    )
    parser.add_argument(
        "--dest", type=Path, help="destination folder (default: data/<competition>)"
    )
    parser.add_argument("--force", action="store_true", help="download again even if complete")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.kaggle_client import download

    result = download(args.competition, args.dest, force=args.force)
    count = len(result.files)
    state = "downloaded" if result.fetched else "already there"
    print(f"{result.path} ({count} file{'s' if count != 1 else ''}, {state})")
    return 0
