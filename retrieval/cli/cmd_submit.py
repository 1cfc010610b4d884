"""``retrieval submit``: write and validate a Kaggle submission for a test part, optionally upload it."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_bundle, add_command
from retrieval.kaggle_client import DEFAULT_COMPETITION

EXAMPLE = """examples:
  retrieval submit --bundle runs/demo/bundle --root data/demo --out runs/demo/submission.csv
  retrieval submit --bundle runs/full/bundle --root data/cs5785-fall19-final \\
      --upload --competition cs5785-fall19-final --message "tfidf, default config" """


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "submit",
        help="rank the test images for each test description and write the submission CSV",
        description="Write Descritpion_ID,Top_20_Image_IDs rows, validate the file, score it if answers exist.",
        example=EXAMPLE,
    )
    add_bundle(parser)
    parser.add_argument(
        "--root", type=Path, help="competition folder with the test part (default: the bundle's)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("submission.csv"),
        help="the CSV to write (default submission.csv)",
    )
    parser.add_argument(
        "--answers",
        type=Path,
        help="score against this answer file (default ROOT/answers_test.csv if present)",
    )
    parser.add_argument("--upload", action="store_true", help="upload through the kaggle client")
    parser.add_argument(
        "--competition",
        default=DEFAULT_COMPETITION,
        help=f"Kaggle competition (default {DEFAULT_COMPETITION})",
    )
    parser.add_argument(
        "--message", default="retrieval submission", help="the submission's description on Kaggle"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.core import load_bundle
    from retrieval.data import load_competition
    from retrieval.workflows import make_submission

    model, _ = load_bundle(args.bundle)
    root = args.root or Path(model.config.data.root)
    result = make_submission(
        model,
        load_competition(root, "test"),
        args.out,
        answers=args.answers or root / "answers_test.csv",
    )
    print(f"submission: {result.path} ({result.check.rows} rows, valid)")
    if result.score is not None:
        print(result.score)
    if args.upload:
        from retrieval.kaggle_client import submit

        receipt = submit(args.competition, args.out, args.message)
        print(f"uploaded to {receipt.competition}: {receipt.message} (ref {receipt.ref})")
    return 0
