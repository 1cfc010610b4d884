from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrieval.data import (
    SUBMISSION_HEADER as HEADER,
)
from retrieval.data import (
    Dataset,
    check_submission,
    read_answers,
    score_submission,
    validate_submission,
    write_submission,
)
from retrieval.data._submission import is_kaggle_id, require_kaggle_ids
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


# Kaggle's ids are ASCII digits: written "<id>.jpg" for images and "<id>.txt" for descriptions.
NOT_IMAGE_IDS = [
    "-1.jpg",
    "+6.jpg",
    "\uff16.jpg",  # full-width six
    "\u0666.jpg",  # Arabic-Indic six
    "1e2.jpg",
    "1.jpg.jpg",
    "1.5.jpg",
    ".jpg",
    "abc.jpg",
]


def row_with(first_image: str, description: str = "0.txt") -> str:
    return f"{description}," + " ".join([first_image, *(f"{j}.jpg" for j in range(1, 20))])


@pytest.mark.parametrize("token", NOT_IMAGE_IDS)
def test_image_ids_are_ascii_digits_without_known_ids(tmp_path: Path, token: str) -> None:
    path = write(tmp_path, [HEADER, row_with(token)])
    check = check_submission(path)
    assert not check.ok
    assert any(
        ":2: image ids must look like '<id>.jpg'" in p and repr(token) in p for p in check.problems
    )


@pytest.mark.parametrize("first", ["\u0660.txt", "-0.txt", "0.txt.txt", "\uff10.txt", "x.txt"])
def test_description_ids_are_ascii_digits_without_known_ids(tmp_path: Path, first: str) -> None:
    path = write(tmp_path, [HEADER, row_with("0.jpg", first)])
    check = check_submission(path)
    assert any(":2: expected '<id>.txt,<20 ids>'" in p for p in check.problems), check.problems


def test_leading_zeros_are_still_digits(tmp_path: Path) -> None:
    assert check_submission(write(tmp_path, [HEADER, row_with("00.jpg", "007.txt")])).ok


@pytest.mark.parametrize("bad", ["abc", "-1", "1e2", "\u0666", "1.jpg", ""])
def test_the_writer_refuses_an_image_id_it_cannot_write_naming_it_and_the_file(
    tmp_path: Path, bad: str
) -> None:
    out = tmp_path / "s.csv"
    with pytest.raises(DataFormatError, match=rf"s\.csv: image id {re.escape(repr(bad))} "):
        write_submission(out, ["0"], [[bad, *IMAGES[1:20]]])
    assert not out.exists()


def test_the_writer_refuses_a_description_id_it_cannot_write(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    with pytest.raises(DataFormatError, match=r"s\.csv: description id '0\.txt' cannot"):
        write_submission(out, ["0.txt"], [IMAGES[:20]])
    assert not out.exists()


@pytest.mark.parametrize("image_id", ["7", "0012", "abc", "-1", "+6", "\uff16", "1e2", "1.jpg"])
def test_writer_validator_and_scorer_agree_on_every_id(tmp_path: Path, image_id: str) -> None:
    """An id the writer writes is one the validator accepts and the scorer scores; an id the
    writer refuses, written by hand, is rejected by both."""
    ranking = [image_id, *(str(j) for j in range(100, 119))]
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,100.jpg\n")
    out = tmp_path / "s.csv"
    try:
        write_submission(out, ["0"], [ranking])
        written = True
    except DataFormatError:
        written = False
        write(tmp_path, [HEADER, "0.txt," + " ".join(f"{i}.jpg" for i in ranking)])
        out = tmp_path / "submission.csv"
    assert written == is_kaggle_id(image_id) == check_submission(out).ok
    if written:
        assert score_submission(out, answers).map_at_20 == pytest.approx(1 / 2)
    else:
        with pytest.raises(DataFormatError, match="problems"):
            score_submission(out, answers)


def test_the_scorer_refuses_what_the_id_checking_validator_refuses(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,1.jpg\n")
    path = write(tmp_path, [HEADER, row_with("-1.jpg")])
    with pytest.raises(DataFormatError, match=r"submission\.csv:2: image ids must look like"):
        score_submission(path, answers)
    gallery = [str(j) for j in range(20)]
    unknown = write(tmp_path, [HEADER, row_with("99.jpg")])
    with pytest.raises(DataFormatError, match=r"unknown image ids \['99\.jpg'\]"):
        score_submission(unknown, answers, image_ids=gallery)


def test_the_scorer_refuses_answer_ids_that_are_not_kaggles(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,abc.jpg\n")
    path = write(tmp_path, [HEADER, row_with("0.jpg")])
    with pytest.raises(DataFormatError, match=r"answers\.csv: 1 answers are not Kaggle's"):
        score_submission(path, answers)


def test_with_the_gallery_the_score_states_its_size(tmp_path: Path) -> None:
    answers = tmp_path / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0.txt,3.jpg\n")
    path = write(tmp_path, [HEADER, row_with("0.jpg")])
    assert score_submission(path, answers).gallery_size == 1
    score = score_submission(path, answers, image_ids=[str(j) for j in range(2000)])
    assert score.gallery_size == 2000 and "2000-image gallery" in str(score)
    assert score.map_at_20 == pytest.approx(1 / 4)


def test_a_test_part_with_an_id_kaggle_cannot_take_is_refused_naming_its_file() -> None:
    part = Dataset(
        ids=["7", "abc"],
        image_paths=[Path("images_test/7.jpg"), Path("images_test/abc.jpg")],
        tags=[[], []],
        description_ids=["0"],
        descriptions=[["A cat."]],
    )
    with pytest.raises(DataFormatError, match=r"^images_test/abc\.jpg: image id 'abc' is not"):
        require_kaggle_ids(part)
    part.ids[1] = "8"
    require_kaggle_ids(part)
