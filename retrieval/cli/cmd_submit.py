"""``retrieval submit``: write and validate a Kaggle submission for a test part, optionally upload it;
or, with ``--file``, validate and upload a submission CSV that already exists."""

from __future__ import annotations

import argparse
from pathlib import Path

from retrieval.cli._options import add_command
from retrieval.kaggle_client import DEFAULT_COMPETITION

EXAMPLE = """examples:
  retrieval submit --bundle runs/demo/bundle --root data/demo --out runs/demo/submission.csv
  retrieval submit --bundle runs/full/bundle --root data/cs5785-fall19-final \\
      --upload --competition cs5785-fall19-final --message "tfidf, default config"
  retrieval submit --file hand-made.csv --root data/cs5785-fall19-final --message "by hand"

--file sends a CSV as it is (validated first: against ROOT's test ids with --root), with no
model and no training. An upload needs --message: Kaggle shows it beside the score."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "submit",
        help="rank the test images for each test description and write the submission CSV "
        "(or upload an existing one: --file)",
        description="Write Descritpion_ID,Top_20_Image_IDs rows, validate the file, score it if "
        "answers exist; or validate, score and upload an existing CSV (--file).",
        example=EXAMPLE,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--bundle",
        type=Path,
        help="a trained bundle folder (made by `retrieval train`) that ranks the test part",
    )
    source.add_argument(
        "--file",
        type=Path,
        help="an existing submission CSV to validate and upload as it is (implies --upload)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        help="competition folder with the test part (default: the bundle's; "
        "with --file, the file is checked against its test ids)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the CSV to write (default submission.csv; not with --file)",
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
        "--message",
        help="the submission's description on Kaggle (required to upload)",
    )
    parser.set_defaults(run=run)


def _require_message(args: argparse.Namespace) -> None:
    """An upload needs a message; say so before any work is done."""
    if args.message is None or not args.message.strip():
        how = "--file uploads FILE, so it needs" if args.file else "--upload needs"
        raise ValueError(
            f"{how} --message: describe the submission in a few words "
            '(Kaggle shows them beside the score), e.g. --message "tfidf + ridge"'
        )


def run(args: argparse.Namespace) -> int:
    if args.file is not None:
        return _run_file(args)
    if args.upload:
        _require_message(args)
    from retrieval.core import load_bundle
    from retrieval.data import load_competition
    from retrieval.data._submission import require_kaggle_ids
    from retrieval.workflows import make_submission

    out = args.out or Path("submission.csv")
    model, _ = load_bundle(args.bundle)
    root = args.root or Path(model.config.data.root)
    test = load_competition(root, "test")
    require_kaggle_ids(test)  # before ranking: the error names the file the id came from
    result = make_submission(
        model,
        test,
        out,
        answers=args.answers or root / "answers_test.csv",
    )
    print(f"submission: {result.path} ({result.check.rows} rows, valid)")
    if result.score is not None:
        print(result.score)
    if args.upload:
        _upload(args, out)
    return 0


def _run_file(args: argparse.Namespace) -> int:
    """``--file``: validate an existing CSV (against ROOT's test ids with --root), score it when
    answers exist, and upload it."""
    from retrieval.cli._options import announce
    from retrieval.data import load_competition, score_submission, validate_submission

    if args.out is not None:
        raise ValueError("--out writes a new submission with --bundle; --file sends FILE as it is")
    _require_message(args)
    image_ids = None
    if args.root is not None:
        test = load_competition(args.root, "test")
        image_ids = test.ids
        check = validate_submission(
            args.file, description_ids=test.description_ids, image_ids=image_ids
        )
        print(
            f"submission: {args.file} ({check.rows} rows, valid against {args.root}'s test part: "
            f"{len(test.description_ids)} descriptions, {len(test.ids)} images)"
        )
    else:
        check = validate_submission(args.file)
        print(f"submission: {args.file} ({check.rows} rows, valid)")
        announce("ids not checked against a test part: --root ROOT checks them")
    answers = args.answers
    if answers is None and args.root is not None and (args.root / "answers_test.csv").is_file():
        answers = args.root / "answers_test.csv"
    if answers is not None:  # an --answers file that is not there is an error, not a skip
        print(score_submission(args.file, answers, image_ids=image_ids))
    _upload(args, args.file)
    return 0


def _upload(args: argparse.Namespace, file: Path) -> None:
    from retrieval.kaggle_client import submit

    receipt = submit(args.competition, file, args.message)
    print(f"uploaded to {receipt.competition}: {receipt.message} (ref {receipt.ref})")
