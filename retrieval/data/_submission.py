"""Kaggle submission files for the CS5785 competition: write, validate, score.

The header keeps the competition's own typo: ``Descritpion_ID,Top_20_Image_IDs``. Each
row is ``<k>.txt`` and 20 distinct image ids ``<id>.jpg`` separated by spaces, rows in
description order.

Example
-------
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.data._competition import read_answers
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


def write_submission(
    path: str | os.PathLike[str],
    description_ids: Sequence[str],
    ranked_image_ids: Sequence[Sequence[str]],
    *,
    k: int = TOP_K,
) -> None:
    """Write one row per description: ``<id>.txt`` and its top ``k`` image ids as ``<id>.jpg``."""
    if len(description_ids) != len(ranked_image_ids):
        raise ValueError(
            f"{len(description_ids)} descriptions but {len(ranked_image_ids)} rankings"
        )
    lines = [HEADER]
    for description_id, ranking in zip(description_ids, ranked_image_ids, strict=True):
        top = [str(i) for i in ranking[:k]]
        if len(top) != k or len(set(top)) != k:
            raise ValueError(
                f"description {description_id}: need {k} distinct image ids, got {top}"
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


def _strip_suffix(text: str, suffix: str) -> str | None:
    return text[: -len(suffix)] if text.endswith(suffix) and len(text) > len(suffix) else None


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
        description_id = _strip_suffix(first, ".txt")
        if not sep or description_id is None:
            problem(f"{where} expected '<id>.txt,<20 ids>', found {line[:60]!r}")
            continue
        if description_id in seen:
            problem(f"{where} description {first} repeated (first on line {seen[description_id]})")
            continue
        seen[description_id] = number
        tokens = rest.split(" ")
        ids = [_strip_suffix(t, ".jpg") for t in tokens]
        if any(i is None for i in ids):
            bad = next(t for t, i in zip(tokens, ids, strict=True) if i is None)
            problem(f"{where} image ids must look like '<id>.jpg', found {bad!r}")
            continue
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
    path: str | os.PathLike[str], answers_path: str | os.PathLike[str]
) -> SubmissionScore:
    """Score a valid submission against an answer file (``Description_ID,Image_ID`` rows).

    When the two files cover different descriptions, the error names both and counts each
    side's extra descriptions, rather than blaming the submission for the answers' gaps.
    """
    answers = read_answers(answers_path)
    alone = validate_submission(path)
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
    check = validate_submission(path, description_ids=alone.description_ids)
    ranks = ranks_from_ranking(
        np.array(check.rankings), [answers[d] for d in check.description_ids]
    )
    return SubmissionScore(
        map_at_20=map_at_k(ranks, TOP_K),
        map_at_20_linear=map_at_k_linear(ranks, TOP_K),
        recall_at_20=recall_at_k(ranks, TOP_K),
        descriptions=len(ranks),
        gallery_size=len(set(answers.values())),
    )
