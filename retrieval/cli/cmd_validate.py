"""``retrieval validate``: check a submission CSV, made by hand or by ``retrieval submit``."""

from __future__ import annotations

import argparse
import sys

from retrieval.cli._options import add_command, add_submission_file

EXAMPLE = """examples:
  retrieval validate submission.csv
  retrieval validate submission.csv --root data/cs5785-fall19-final   # against its test ids

Prints 'FILE: N rows, valid' (exit code 0), or every problem with its line number, one a
line (exit code 1). Without --root, the format is checked (header, '<id>.txt' rows of 20
distinct '<id>.jpg' ids, ids in ASCII digits) but not which descriptions and images exist."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "validate",
        help="check a submission CSV and list every problem with its line number",
        description="Check a Kaggle submission file; with --root, against a test part's ids.",
        example=EXAMPLE,
    )
    add_submission_file(
        parser,
        action="check",
        root_help="competition folder: rows must be its test descriptions, in order, and every id "
        "one of its test images",
    )
    parser.add_argument(
        "--split", default="test", help="the part of ROOT to check against (default test)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.data import check_submission, load_competition

    against = ""
    description_ids = image_ids = None
    if args.root is not None:
        part = load_competition(args.root, args.split)
        description_ids, image_ids = part.description_ids, part.ids
        against = (
            f" against {args.root}'s {args.split} part ({len(description_ids)} descriptions, "
            f"{len(image_ids)} images)"
        )
    check = check_submission(args.file, description_ids=description_ids, image_ids=image_ids)
    if check.ok:
        print(f"{args.file}: {check.rows} rows, valid{against}")
        if args.root is None:
            print("ids not checked against a test part: --root ROOT checks them", file=sys.stderr)
        return 0
    for problem in check.problems:
        print(problem)
    print(
        f"retrieval validate: {args.file}: invalid{against}, {len(check.problems)} problems",
        file=sys.stderr,
    )
    return 1
