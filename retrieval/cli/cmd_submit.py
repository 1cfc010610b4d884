"""``retrieval submit``: write and validate a Kaggle submission for a test part, optionally upload it."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.kaggle_client import DEFAULT_COMPETITION

EXAMPLE = """examples:
  retrieval submit --bundle runs/demo/bundle --root data/demo --out runs/demo/submission.csv
  retrieval submit --bundle runs/full/bundle --root data/cs5785-fall19-final \\
      --upload --competition cs5785-fall19-final --message "contrastive, tfidf" """


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="rank the test images for each test description and write the submission CSV",
        description="Write Descritpion_ID,Top_20_Image_IDs rows, validate the file, score it if answers exist.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bundle", type=Path, default=Path("runs/demo/bundle"))
    parser.add_argument(
        "--root", type=Path, help="competition folder with the test part (default: bundle's)"
    )
    parser.add_argument("--out", type=Path, default=Path("submission.csv"))
    parser.add_argument(
        "--answers",
        type=Path,
        help="score against this answer file (default ROOT/answers_test.csv if present)",
    )
    parser.add_argument("--upload", action="store_true", help="upload through the kaggle client")
    parser.add_argument("--competition", default=DEFAULT_COMPETITION)
    parser.add_argument("--message", default="retrieval submission")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.data import load_competition
    from retrieval.pipeline import Retriever
    from retrieval.submission import score_submission, validate_submission, write_submission

    retriever = Retriever.load(args.bundle)
    root = args.root or Path(retriever.config.data.root)
    test = load_competition(root, "test")
    ranking = retriever.rank(test.texts(), test, k=20)
    write_submission(
        args.out, test.description_ids, [[test.ids[j] for j in row] for row in ranking]
    )
    validate_submission(args.out, description_ids=test.description_ids, image_ids=test.ids)
    print(f"submission: {args.out} ({len(test.description_ids)} rows, valid)")
    answers = args.answers or (root / "answers_test.csv")
    if answers.is_file():
        print(score_submission(args.out, answers))
    if args.upload:
        from retrieval.kaggle_client import submit

        receipt = submit(args.competition, args.out, args.message)
        print(f"uploaded to {receipt.competition}: {receipt.message} (ref {receipt.ref})")
    return 0
