from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.data import (
    SUBMISSION_HEADER as HEADER,
)
from retrieval.data import (
    check_submission,
    read_answers,
    score_submission,
    validate_submission,
    write_submission,
)
from retrieval.errors import DataFormatError

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
IMAGES = [str(i) for i in range(30)]


def good_rows(n: int = 3) -> list[str]:
    return [f"{d}.txt," + " ".join(f"{(d + j) % 30}.jpg" for j in range(20)) for d in range(n)]


def write(tmp_path: Path, lines: list[str], ending: str = "\n") -> Path:
    path = tmp_path / "submission.csv"
    path.write_bytes((ending.join(lines) + ending).encode())
    return path


def test_writer_output_validates_and_has_the_real_header(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_submission(path, ["0", "1"], [IMAGES[:20], IMAGES[5:25]])
    lines = path.read_text().splitlines()
    assert lines[0] == "Descritpion_ID,Top_20_Image_IDs" == HEADER
    assert lines[1] == "0.txt," + " ".join(f"{i}.jpg" for i in range(20))
    check = validate_submission(path, description_ids=["0", "1"], image_ids=IMAGES)
    assert check.rows == 2 and check.rankings[1][0] == "5"


def test_writer_refuses_short_or_repeated_rankings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="20 distinct"):
        write_submission(tmp_path / "s.csv", ["0"], [IMAGES[:19]])
    with pytest.raises(ValueError, match="20 distinct"):
        write_submission(tmp_path / "s.csv", ["0"], [["1"] * 20])
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["Description_ID,Top_20_Image_IDs", *good_rows()], ":1: expected the header"),
        ([HEADER, *good_rows(2)], "1 descriptions missing, e.g. 2.txt"),
        (
            [HEADER, *good_rows(), "3.txt," + " ".join(f"{j}.jpg" for j in range(20))],
            "unexpected descriptions, e.g. 3.txt on line 5",
        ),
        (
            [HEADER, *good_rows(), good_rows()[0]],
            ":5: description 0.txt repeated (first on line 2)",
        ),
        (
            [HEADER, good_rows()[1], good_rows()[0], good_rows()[2]],
            ":2: rows out of order: expected 0.txt",
        ),
        (
            [HEADER, "0.txt," + " ".join(f"{j}.jpg" for j in range(19)), *good_rows()[1:]],
            ":2: expected 20 image ids, found 19",
        ),
        ([HEADER, "0.txt," + " ".join(["1.jpg"] * 20), *good_rows()[1:]], ":2: repeated image ids"),
        (
            [
                HEADER,
                "0.txt," + " ".join(f"{j}.jpg" for j in range(19)) + " 99.jpg",
                *good_rows()[1:],
            ],
            ":2: unknown image ids ['99.jpg']",
        ),
        (
            [HEADER, "0.txt," + " ".join(f"{j}.png" for j in range(20)), *good_rows()[1:]],
            ":2: image ids must look like '<id>.jpg'",
        ),
        (
            [HEADER, "0 " + " ".join(f"{j}.jpg" for j in range(20)), *good_rows()[1:]],
            ":2: expected '<id>.txt,<20 ids>'",
        ),
    ],
)
def test_each_problem_is_reported_with_its_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = write(tmp_path, lines)
    check = check_submission(path, description_ids=["0", "1", "2"], image_ids=IMAGES)
    assert any(message in p for p in check.problems), check.problems
    with pytest.raises(DataFormatError, match="problems"):
        validate_submission(path, description_ids=["0", "1", "2"], image_ids=IMAGES)


def test_line_endings(tmp_path: Path) -> None:
    assert check_submission(write(tmp_path, [HEADER, *good_rows()], "\r\n")).ok
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(f"{HEADER}\r\n{good_rows()[0]}\n".encode())
    assert any("mixed CRLF and LF" in p for p in check_submission(mixed).problems)
    bare = tmp_path / "bare.csv"
    bare.write_bytes(f"{HEADER}\r{good_rows()[0]}\r".encode())
    assert any("bare CR" in p for p in check_submission(bare).problems)


def test_score_against_answers_both_forms(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,0.jpg\n1.txt,3.jpg\n2.txt,29.jpg\n")
    path = write(tmp_path, [HEADER, *good_rows()])
    # row 0 starts at 0 -> rank 1; row 1 = 1..20 -> 3 at rank 3; row 2 = 2..21 -> 29 absent
    score = score_submission(path, answers)
    assert score.map_at_20 == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert score.map_at_20_linear == pytest.approx((1 + 18 / 20 + 0) / 3)
    assert score.descriptions == 3 and "MAP@20 (1/r, Kaggle)" in str(score)


def test_the_score_does_not_depend_on_the_answer_files_row_order(tmp_path: Path) -> None:
    rows = ["Description_ID,Image_ID", "0.txt,0.jpg", "1.txt,3.jpg", "2.txt,29.jpg"]
    answers, reversed_answers = tmp_path / "answers.csv", tmp_path / "reversed.csv"
    answers.write_text("\n".join(rows) + "\n")
    reversed_answers.write_text("\n".join([rows[0], *rows[:0:-1]]) + "\n")
    path = write(tmp_path, [HEADER, *good_rows()])
    assert score_submission(path, reversed_answers) == score_submission(path, answers)


def test_demo_sample_submission_is_valid_and_scores_near_random() -> None:
    answers = read_answers(DEMO / "answers_test.csv")
    check = validate_submission(
        DEMO / "sample_submission.csv",
        description_ids=list(answers),
        image_ids=[str(i) for i in range(140)],
    )
    assert check.rows == 140
    score = score_submission(DEMO / "sample_submission.csv", DEMO / "answers_test.csv")
    assert score.gallery_size == 140 and score.recall_at_20 < 0.35


@pytest.mark.parametrize(
    "row",
    [
        "0.txt," + " ".join(f"{j}.png" for j in range(20)),
        "0.txt," + " ".join(f"{j}.JPG" for j in range(20)),
        "0.txt," + " ".join(str(j) for j in range(20)),
        "0.txt,\t" + " ".join(f"{j}.jpg" for j in range(20)),
        "0.txt," + "  ".join(f"{j}.jpg" for j in range(20)),
        " 0.txt," + " ".join(f"{j}.jpg" for j in range(20)),
        "0.txt," + " ".join(f"{j}.jpg" for j in range(20)) + " ",
    ],
)
def test_bad_ids_or_spacing_in_the_last_or_every_row_are_reported_not_raised(tmp_path, row) -> None:
    for rows in ([*good_rows()[:2], row], [row.replace("0.txt", f"{i}.txt", 1) for i in range(3)]):
        path = write(tmp_path, [HEADER, *rows])
        check = check_submission(
            path, description_ids=["0", "1", "2"], image_ids=[str(j) for j in range(30)]
        )
        assert not check.ok and check.problems
        with pytest.raises(DataFormatError, match="problems"):
            validate_submission(path, description_ids=["0", "1", "2"])


def test_answers_with_missing_rows_are_not_blamed_on_the_submission(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,0.jpg\n1.txt,3.jpg\n")
    path = write(tmp_path, [HEADER, *good_rows()])
    with pytest.raises(
        DataFormatError,
        match=r"cover different descriptions: 1 submitted descriptions have no answer \(e.g. 2.txt\), "
        r"0 answered descriptions are not submitted",
    ):
        score_submission(path, answers)
