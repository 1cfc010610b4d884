"""Kaggle submission files for the CS5785 competition: write, validate, score.

The header keeps the competition's own typo: ``Descritpion_ID,Top_20_Image_IDs``. Each
row is ``<k>.txt`` and 20 distinct image ids ``<id>.jpg`` separated by spaces, rows in
description order. One id rule serves the writer, the validator and the scorer: an id is
ASCII digits (``[0-9]+``), written ``<id>.jpg`` for an image and ``<id>.txt`` for a
description; ``-1``, ``+6``, ``1e2``, ``1.jpg.jpg`` and the digits of other scripts (a
full-width six, U+FF16, or an Arabic-Indic six, U+0666) are not ids.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "submission.csv"
>>> write_submission(p, ["0"], [[str(i) for i in range(20)]])
>>> p.read_text().splitlines()[1].split(",")[0]
'0.txt'
>>> validate_submission(p, description_ids=["0"]).rows
1
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.data._competition import read_answers
from retrieval.data._dataset import Dataset
from retrieval.errors import DataFormatError
from retrieval.fileio import atomic_write
from retrieval.metrics import (
    MAP,
    MAP_LINEAR,
    TOP_K,
    map_at_k,
    map_at_k_linear,
    ranks_from_ranking,
    recall_at_k,
)

HEADER = "Descritpion_ID,Top_20_Image_IDs"
KAGGLE_ID = re.compile(r"[0-9]+")
"""Kaggle's ids: ASCII digits only (``[0-9]``, unlike ``\\d``, matches no other script's digits)."""
IMAGE_NAME = re.compile(r"([0-9]+)\.jpg")
DESCRIPTION_NAME = re.compile(r"([0-9]+)\.txt")


def is_kaggle_id(value: object) -> bool:
    """Whether ``value`` can be written as Kaggle's ``<id>.jpg`` / ``<id>.txt``: ASCII digits.

    >>> [is_kaggle_id(v) for v in ("6", "0012", 7, "-1", "1e2", "\uff16", "\u0666", "")]
    [True, True, True, False, False, False, False, False]
    """
    return KAGGLE_ID.fullmatch(str(value)) is not None


def image_id_of(name: str) -> str | None:
    """The id of an image as a submission writes it, or ``None`` for anything else.

    >>> image_id_of("123.jpg"), image_id_of("1.jpg.jpg"), image_id_of("+6.jpg")
    ('123', None, None)
    """
    match = IMAGE_NAME.fullmatch(name)
    return match.group(1) if match else None


def description_id_of(name: str) -> str | None:
    """The id of a description as a submission writes it (``"12.txt"`` -> ``"12"``), or ``None``.

    >>> description_id_of("12.txt"), description_id_of("\u0660.txt")
    ('12', None)
    """
    match = DESCRIPTION_NAME.fullmatch(name)
    return match.group(1) if match else None


def require_kaggle_ids(dataset: Dataset) -> None:
    """Refuse a test part that cannot be submitted: one whose image or description ids are
    not Kaggle's. The :class:`DataFormatError` names the id and the file it came from.

    >>> from pathlib import Path
    >>> part = Dataset(ids=["7", "abc"], image_paths=[Path("images_test/7.jpg"),
    ...     Path("images_test/abc.jpg")], tags=[[], []], description_ids=["0"], descriptions=[[]])
    >>> require_kaggle_ids(part)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    retrieval.errors.DataFormatError: images_test/abc.jpg: image id 'abc' is not ...
    """
    for image_id, image_path in zip(dataset.ids, dataset.image_paths, strict=True):
        if not is_kaggle_id(image_id):
            raise DataFormatError(
                f"image id {image_id!r} is not Kaggle's (ASCII digits, written '<id>.jpg'), "
                "so no submission can name it",
                path=image_path,
            )
    for description_id in dataset.description_ids:
        if not is_kaggle_id(description_id):
            folder = Path(dataset.root) if dataset.root is not None else Path()
            raise DataFormatError(
                f"description id {description_id!r} is not Kaggle's (ASCII digits, written "
                "'<id>.txt'), so no submission can name it",
                path=folder / "descriptions_test" / f"{description_id}.txt",
            )


def write_submission(
    path: str | os.PathLike[str],
    description_ids: Sequence[str],
    ranked_image_ids: Sequence[Sequence[str]],
    *,
    k: int = TOP_K,
) -> None:
    """Write one row per description: ``<id>.txt`` and its top ``k`` image ids as ``<id>.jpg``.

    Every id must be Kaggle's (ASCII digits, :func:`is_kaggle_id`): a description or image id
    that is not, such as ``"abc"``, is refused with a :class:`DataFormatError` naming the id
    and ``path``, and nothing is written.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> write_submission(p, ["0"], [["abc", *map(str, range(19))]])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    retrieval.errors.DataFormatError: ...s.csv: image id 'abc' (ranked for description 0.txt) ...
    """
    path = Path(path)
    if len(description_ids) != len(ranked_image_ids):
        raise ValueError(
            f"{len(description_ids)} descriptions but {len(ranked_image_ids)} rankings"
        )
    lines = [HEADER]
    for description_id, ranking in zip(description_ids, ranked_image_ids, strict=True):
        if not is_kaggle_id(description_id):
            raise DataFormatError(
                f"description id {str(description_id)!r} cannot be written in Kaggle's form "
                "'<id>.txt' with <id> in ASCII digits",
                path=path,
            )
        top = [str(i) for i in ranking[:k]]
        if len(top) != k or len(set(top)) != k:
            raise ValueError(
                f"description {description_id}: need {k} distinct image ids, got {top}"
            )
        bad = next((i for i in top if not is_kaggle_id(i)), None)
        if bad is not None:
            raise DataFormatError(
                f"image id {bad!r} (ranked for description {description_id}.txt) cannot be "
                "written in Kaggle's form '<id>.jpg' with <id> in ASCII digits",
                path=path,
            )
        lines.append(f"{description_id}.txt," + " ".join(f"{i}.jpg" for i in top))
    with atomic_write(path, "w", newline="") as handle:
        handle.write("\n".join(lines) + "\n")


@dataclass
class SubmissionCheck:
    """What :func:`validate_submission` found: row count, rankings and every problem by line."""

    path: Path
    rows: int = 0
    description_ids: list[str] = field(default_factory=list)
    rankings: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_submission(
    path: str | os.PathLike[str],
    *,
    description_ids: Sequence[str] | None = None,
    image_ids: Sequence[str] | None = None,
    k: int = TOP_K,
) -> SubmissionCheck:
    """Check a submission file and list every problem with its line number (never raises on content).

    With ``description_ids``, rows must be exactly those descriptions in that order; with
    ``image_ids``, every id must be a known test image.
    """
    path = Path(path)
    check = SubmissionCheck(path)
    if not path.is_file():
        raise DataFormatError("submission file not found", path=path)
    raw = path.read_bytes()
    problem = check.problems.append
    if b"\r" in raw:
        crlf, bare_cr = raw.count(b"\r\n"), raw.count(b"\r") - raw.count(b"\r\n")
        if bare_cr:
            problem(f"{path}: {bare_cr} bare CR line endings; use LF (or CRLF throughout)")
        elif crlf != raw.count(b"\n"):
            problem(f"{path}: mixed CRLF and LF line endings")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem(f"{path}: not UTF-8 (byte {exc.start})")
        return check
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        problem(f"{path}: empty file")
        return check
    if lines[0].lstrip("\ufeff") != HEADER:
        problem(f"{path}:1: expected the header {HEADER!r} (with its typo), found {lines[0]!r}")
    known_images = set(image_ids) if image_ids is not None else None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        where = f"{path}:{number}:"
        if not line.strip():
            problem(f"{where} blank line")
            continue
        if "\t" in line or line != line.strip() or "  " in line or ", " in line or " ," in line:
            problem(
                f"{where} ids must be separated by single spaces, without tabs or spaces at the ends"
            )
            continue
        first, sep, rest = line.partition(",")
        description_id = description_id_of(first)
        if not sep or description_id is None:
            problem(
                f"{where} expected '<id>.txt,<20 ids>' with <id> in ASCII digits, "
                f"found {line[:60]!r}"
            )
            continue
        if description_id in seen:
            problem(f"{where} description {first} repeated (first on line {seen[description_id]})")
            continue
        seen[description_id] = number
        tokens = rest.split(" ")
        parsed = [image_id_of(t) for t in tokens]
        if any(i is None for i in parsed):
            bad = next(t for t, i in zip(tokens, parsed, strict=True) if i is None)
            problem(
                f"{where} image ids must look like '<id>.jpg' with <id> in ASCII digits, "
                f"found {bad!r}"
            )
            continue
        ids = [i for i in parsed if i is not None]
        if len(ids) != k:
            problem(f"{where} expected {k} image ids, found {len(ids)}")
        if len(set(ids)) != len(ids):
            problem(f"{where} repeated image ids")
        if known_images is not None:
            unknown = [i for i in ids if i not in known_images]
            if unknown:
                problem(f"{where} unknown image ids {[u + '.jpg' for u in unknown[:3]]}")
        check.description_ids.append(description_id)
        check.rankings.append(ids)
    check.rows = len(check.description_ids)
    if description_ids is not None:
        expected = [str(d) for d in description_ids]
        missing = [d for d in expected if d not in seen]
        extra = [d for d in seen if d not in set(expected)]
        if missing:
            problem(f"{path}: {len(missing)} descriptions missing, e.g. {missing[0]}.txt")
        if extra:
            problem(
                f"{path}: {len(extra)} unexpected descriptions, e.g. {extra[0]}.txt on line {seen[extra[0]]}"
            )
        complete = len(check.description_ids) == len(expected)  # no row was rejected above
        if complete and not missing and not extra and check.description_ids != expected:
            position = next(
                i
                for i, (a, b) in enumerate(zip(check.description_ids, expected, strict=True))
                if a != b
            )
            problem(
                f"{path}:{position + 2}: rows out of order: expected {expected[position]}.txt here"
            )
    return check


def validate_submission(
    path: str | os.PathLike[str],
    *,
    description_ids: Sequence[str] | None = None,
    image_ids: Sequence[str] | None = None,
    k: int = TOP_K,
) -> SubmissionCheck:
    """Like :func:`check_submission`, but raise :class:`DataFormatError` listing every problem."""
    check = check_submission(path, description_ids=description_ids, image_ids=image_ids, k=k)
    if not check.ok:
        shown = check.problems[:20]
        more = f"\n... and {len(check.problems) - 20} more" if len(check.problems) > 20 else ""
        raise DataFormatError(
            f"{len(check.problems)} problems:\n" + "\n".join(shown) + more, path=path
        )
    return check


@dataclass(frozen=True)
class SubmissionScore:
    """Both MAP@20 forms of a submission against an answer file, with the gallery size."""

    map_at_20: float
    map_at_20_linear: float
    recall_at_20: float
    descriptions: int
    gallery_size: int

    def __str__(self) -> str:
        return (
            f"{MAP} {self.map_at_20:.4f}; {MAP_LINEAR} {self.map_at_20_linear:.4f}; "
            f"R@20 {self.recall_at_20:.4f}; {self.descriptions} descriptions, {self.gallery_size}-image gallery"
        )


def score_submission(
    path: str | os.PathLike[str],
    answers_path: str | os.PathLike[str],
    *,
    image_ids: Sequence[str] | None = None,
) -> SubmissionScore:
    """Score a valid submission against an answer file (``Description_ID,Image_ID`` rows).

    The submission must pass :func:`validate_submission` (the same id rule as the writer's),
    and every id in the answer file must be Kaggle's too; otherwise nothing is scored. With
    ``image_ids`` (the test gallery), every submitted id must be one of them, and the gallery
    size reported is theirs rather than the number of answered images.

    When the two files cover different descriptions, the error names both and counts each
    side's extra descriptions, rather than blaming the submission for the answers' gaps.
    """
    answers = read_answers(answers_path)
    foreign = [
        f"{d}.txt,{i}.jpg" for d, i in answers.items() if not (is_kaggle_id(d) and is_kaggle_id(i))
    ]
    if foreign:
        raise DataFormatError(
            f"{len(foreign)} answers are not Kaggle's '<id>.txt,<id>.jpg' with ASCII-digit ids "
            f"(e.g. {foreign[0]!r})",
            path=answers_path,
        )
    alone = validate_submission(path, image_ids=image_ids)
    unanswered = [d for d in alone.description_ids if d not in answers]
    unsubmitted = sorted(set(answers) - set(alone.description_ids))
    if unanswered or unsubmitted:
        raise DataFormatError(
            f"the submission and {answers_path} cover different descriptions: "
            f"{len(unanswered)} submitted descriptions have no answer"
            + (f" (e.g. {unanswered[0]}.txt)" if unanswered else "")
            + f", {len(unsubmitted)} answered descriptions are not submitted"
            + (f" (e.g. {unsubmitted[0]}.txt)" if unsubmitted else ""),
            path=path,
        )
    # rows are matched to answers by description id, in whatever order either file has them
    check = validate_submission(path, description_ids=alone.description_ids, image_ids=image_ids)
    ranks = ranks_from_ranking(
        np.array(check.rankings), [answers[d] for d in check.description_ids]
    )
    return SubmissionScore(
        map_at_20=map_at_k(ranks, TOP_K),
        map_at_20_linear=map_at_k_linear(ranks, TOP_K),
        recall_at_20=recall_at_k(ranks, TOP_K),
        descriptions=len(ranks),
        gallery_size=len(set(image_ids)) if image_ids is not None else len(set(answers.values())),
    )
