"""``retrieval score``: MAP@20 of a submission CSV against an answer file, in both forms."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.cli._options import add_command, add_submission_file

EXAMPLE = """examples:
  retrieval score submission.csv data/demo/answers_test.csv
  retrieval score submission.csv answers.csv --root data/demo    # gallery: ROOT's test images

Prints MAP@20 in Kaggle's form (1/r) and the linear form ((21 - r)/20), R@20, the number of
descriptions and the gallery size. An invalid file is not scored: its problems are listed
(exit code 1). The answer file has Description_ID,Image_ID rows such as 0.txt,37.jpg."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "score",
        help="score a submission CSV against an answer file (MAP@20, both forms)",
        description="Score a Kaggle submission file against the answers it should find.",
        example=EXAMPLE,
    )
    add_submission_file(
        parser,
        action="score",
        root_help="competition folder whose test images are the gallery: every submitted id must be "
        "one of them, and the answers must match its test part",
    )
    parser.add_argument("answers", type=Path, help="the answer file (Description_ID,Image_ID rows)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from retrieval.data import (
        check_submission,
        load_competition,
        relevant_from_answers,
        score_submission,
    )

    image_ids = None
    if args.root is not None:
        test = load_competition(args.root, "test")
        relevant_from_answers(args.answers, test.description_ids, test.ids)
        image_ids = test.ids
    check = check_submission(args.file, image_ids=image_ids)
    if not check.ok:
        for problem in check.problems:
            print(problem, file=sys.stderr)
        print(
            f"retrieval score: error: {args.file}: {len(check.problems)} problems; not scored",
            file=sys.stderr,
        )
        return 1
    print(score_submission(args.file, args.answers, image_ids=image_ids))
    return 0
