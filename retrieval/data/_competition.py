"""Reader for the CS5785 competition layout (train and test parts)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from retrieval.data._dataset import Dataset, Tag
from retrieval.data._feature_csv import image_id_from_path, read_feature_csv
from retrieval.data._kinds import (
    FEATURE_FILES,
    RECORD_FILES,
    RESNET50_DIMS,
    FeatureKind,
)
from retrieval.data._problems import OnError, ProblemLog
from retrieval.data._textfiles import read_description, read_tags
from retrieval.errors import DataFormatError
from retrieval.fileio import atomic_write

ANSWER_HEADER = ("Description_ID", "Image_ID")
ANSWER_HEADERS = (ANSWER_HEADER, ("Descritpion_ID", "Image_ID"))
FEATURE_RECORD = "features.json"
SHIPPED_FEATURES = {"model": "shipped", "note": "feature CSVs that came with the data"}
"""The record of feature CSVs without a ``features.json``: made outside this package."""


def feature_csv_path(root: str | os.PathLike[str], split: str, kind: str) -> Path:
    """Where the competition keeps the ``kind`` features of ``split``."""
    return Path(root) / f"features_{split}" / FEATURE_FILES[kind].format(split=split)


def feature_record_path(root: str | os.PathLike[str], split: str, kind: str = "pool5") -> Path:
    """The sidecar that records which network made the ``kind`` feature CSV of ``split``
    (``features.json`` for the ResNet kinds, ``features_clip.json`` for CLIP embeddings)."""
    return Path(root) / f"features_{split}" / RECORD_FILES.get(kind, FEATURE_RECORD)


def read_feature_record(root: str | os.PathLike[str], split: str, kind: str = "pool5") -> dict:
    """What made the ``kind`` features of ``split`` (``SHIPPED_FEATURES`` without a record)."""
    path = feature_record_path(root, split, kind)
    if not path.is_file():
        return dict(SHIPPED_FEATURES)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"not valid JSON ({exc})", path=path) from None
    if not isinstance(record, dict) or "model" not in record:
        raise DataFormatError("expected a JSON object with a 'model' key", path=path)
    return record


def _sort_ids(ids: Iterable[str]) -> list[str]:
    ids = list(ids)
    if all(i.isdigit() for i in ids):
        return sorted(ids, key=int)
    return sorted(ids)


def _ids_in(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() == suffix and p.is_file()}


def load_competition(
    root: str | os.PathLike[str],
    split: str = "train",
    *,
    features: FeatureKind | Iterable[FeatureKind] | Literal["auto"] | None = "auto",
    answers: str | os.PathLike[str] | None = None,
    on_error: OnError = "warn",
    missing_images: Literal["drop", "keep"] = "drop",
) -> Dataset:
    """Read one part (``"train"`` or ``"test"``) of the competition layout under ``root``.

    Parameters
    ----------
    root:
        The folder holding ``descriptions_<split>/``, ``tags_<split>/``, ``images_<split>/``
        and ``features_<split>/``.
    features:
        ``"auto"`` loads the feature CSVs that exist; a kind (``"efficientnet_lite0"``) or a
        list of kinds (``["pool5", "fc1000"]``) requires them; ``None`` loads none.
    answers:
        For a test part, an answer file (``Description_ID,Image_ID`` rows such as
        ``0.txt,37.jpg``) that reveals which image each description describes.
    on_error:
        ``"warn"`` skips recoverable problems with a :class:`~retrieval.errors.DataWarning`
        (they are kept in ``Dataset.notes``); ``"raise"`` makes them errors.
    missing_images:
        What to do with feature rows whose image file is not in ``images_<split>/`` (checked
        only when that folder holds at least one ``.jpg``): ``"drop"`` (the default) leaves
        them out of the part, so a test gallery never holds an image that does not exist;
        ``"keep"`` keeps them. Either way a warning names the feature file and says how many
        (feature files with the same such rows share one warning).

    What is fatal and what is skipped
    ---------------------------------
    Fatal (:class:`~retrieval.errors.DataFormatError`): a missing ``root`` or
    ``descriptions_<split>/`` folder, a feature file that was asked for by name and is
    missing, a malformed answer file, and a part with no usable item.
    Skipped with a warning: a malformed feature row, a repeated id, a tag line without
    ``:``, a description line that is not UTF-8 (decoded with replacement characters),
    an empty description (kept, empty), a missing tag file (no tags), feature rows whose
    image file is missing from a non-empty ``images_<split>/`` (a warning naming the feature
    file and the count; dropped unless ``missing_images="keep"``), and, in the train part,
    an id that lacks its image or features (dropped from the part).

    Examples
    --------
    >>> ds = load_competition("data/demo", "train")          # doctest: +SKIP
    >>> print(ds.summary())                                  # doctest: +SKIP
    """
    root = Path(root)
    if missing_images not in ("drop", "keep"):
        raise ValueError(f"missing_images must be 'drop' or 'keep', got {missing_images!r}")
    problems = ProblemLog(on_error)
    if not root.is_dir():
        raise DataFormatError("competition folder not found", path=root)
    desc_dir = root / f"descriptions_{split}"
    if not desc_dir.is_dir():
        raise DataFormatError(f"expected a descriptions_{split}/ folder here", path=root)
    tags_dir = root / f"tags_{split}"
    images_dir = root / f"images_{split}"

    features_by_kind = _load_features(root, split, features, problems)
    description_files = _ids_in(desc_dir, ".txt")
    image_files = _ids_in(images_dir, ".jpg") if images_dir.is_dir() else {}
    if features_by_kind and not images_dir.is_dir():
        problems.report(
            f"no images_{split}/ folder: the features are used, but example-image queries, "
            "reports and the page will have no pictures",
            path=root,
        )

    imageless: set[str] = set()  # feature rows whose image file does not exist
    if features_by_kind:
        feature_id_sets = [set(ids) for ids, _ in features_by_kind.values()]
        image_ids = set.intersection(*feature_id_sets)
        for kind, (ids, _) in features_by_kind.items():
            for missing in sorted(set().union(*feature_id_sets) - set(ids)):
                problems.report(
                    f"image {missing} has no {kind} row; image dropped",
                    path=feature_csv_path(root, split, kind),
                )
        if image_files:  # an empty images folder is taken as pictures not provided
            imageless = _report_imageless(
                root, split, features_by_kind, image_files, missing_images, problems
            )
            if missing_images == "drop":
                image_ids -= imageless
    else:
        if not image_files:
            raise DataFormatError(
                f"neither images_{split}/*.jpg nor feature CSVs found; nothing to load", path=root
            )
        image_ids = set(image_files)

    paired = split == "train" and answers is None
    if paired:
        for missing in _sort_ids(set(description_files) - image_ids - imageless):
            what = "features" if features_by_kind else "image"
            problems.report(
                f"description {missing} has no {what}; item dropped",
                path=description_files[missing],
            )
        for extra in _sort_ids(image_ids - set(description_files)):
            problems.report(f"image {extra} has no description; item dropped", path=desc_dir)
        image_ids &= set(description_files)
    if not image_ids:
        hint = (
            f" (every feature row names an image missing from images_{split}/; "
            "missing_images='keep' uses the features without them)"
            if imageless and missing_images == "drop"
            else ""
        )
        raise DataFormatError(f"no usable item in the {split} part{hint}", path=root)

    ids = _sort_ids(image_ids)
    description_ids = ids if paired else _sort_ids(description_files)
    descriptions = [read_description(description_files[i], problems) for i in description_ids]
    tags = [_tags_for(tags_dir, i, problems) for i in ids]
    matrices = {
        kind: _align(feature_ids, matrix, ids)
        for kind, (feature_ids, matrix) in features_by_kind.items()
    }
    relevant: np.ndarray | None = np.arange(len(ids)) if paired else None
    if answers is not None:
        relevant = relevant_from_answers(answers, description_ids, ids)

    dataset = Dataset(
        ids=ids,
        image_paths=[image_files.get(i, images_dir / f"{i}.jpg") for i in ids],  # 0.JPG too
        tags=tags,
        description_ids=description_ids,
        descriptions=descriptions,
        pool5=matrices.get("pool5"),
        fc1000=matrices.get("fc1000"),
        relevant=relevant,
        name=f"{root.name}/{split}",
        root=root,
        feature_record=read_feature_record(root, split) if features_by_kind else {},
        extra={k: m for k, m in matrices.items() if k in RECORD_FILES},
        extra_records={
            k: read_feature_record(root, split, k) for k in matrices if k in RECORD_FILES
        },
    )
    dataset.notes = problems.finish()
    return dataset


def _load_features(
    root: Path, split: str, features: Iterable[str] | str | None, problems: ProblemLog
) -> dict[str, tuple[list[str], np.ndarray]]:
    if features is None:
        return {}
    if features == "auto":
        kinds = [k for k in FEATURE_FILES if feature_csv_path(root, split, k).is_file()]
    else:
        kinds = [features] if isinstance(features, str) else list(features)
        for kind in kinds:
            if kind not in FEATURE_FILES:
                raise ValueError(
                    f"unknown feature kind {kind!r}; expected one of {sorted(FEATURE_FILES)}"
                )
            if not feature_csv_path(root, split, kind).is_file():
                raise DataFormatError(
                    f"{kind} feature file not found", path=feature_csv_path(root, split, kind)
                )
    loaded = {
        kind: read_feature_csv(feature_csv_path(root, split, kind), problems) for kind in kinds
    }
    if loaded and read_feature_record(root, split).get("model") == "resnet50":
        for kind, (_, matrix) in loaded.items():
            if kind in RESNET50_DIMS and matrix.shape[1] != RESNET50_DIMS[kind]:
                raise DataFormatError(
                    f"rows have {matrix.shape[1]} numbers, but {FEATURE_RECORD} says ResNet-50, "
                    f"whose {kind} has {RESNET50_DIMS[kind]}",
                    path=feature_csv_path(root, split, kind),
                )
    return loaded


def _report_imageless(
    root: Path,
    split: str,
    features_by_kind: dict[str, tuple[list[str], np.ndarray]],
    image_files: dict[str, Path],
    missing_images: str,
    problems: ProblemLog,
) -> set[str]:
    """Warn about feature rows whose image file is missing, once for the feature files that
    share the same such rows (naming the first, counting the others); return their ids."""
    action = "rows dropped" if missing_images == "drop" else "rows kept (missing_images='keep')"
    groups: dict[frozenset[str], list[tuple[str, int]]] = {}
    for kind, (ids, _) in features_by_kind.items():
        lacking = frozenset(i for i in ids if i not in image_files)
        if lacking:
            groups.setdefault(lacking, []).append((kind, len(ids)))
    for lacking, files in groups.items():
        (kind, rows), others = files[0], files[1:]
        also = (
            f"; the same rows of {len(others)} other feature files too "
            f"({', '.join(feature_csv_path(root, split, k).name for k, _ in others)})"
            if others
            else ""
        )
        problems.report(
            f"{len(lacking)} of {rows} rows name an image that is not in images_{split}/ "
            f"({_examples(list(lacking), '.jpg')}); {action}{also}",
            path=feature_csv_path(root, split, kind),
        )
    return set().union(*groups)


def _align(feature_ids: list[str], matrix: np.ndarray, ids: list[str]) -> np.ndarray:
    row_of = {image_id: row for row, image_id in enumerate(feature_ids)}
    return matrix[[row_of[i] for i in ids]]


def _tags_for(tags_dir: Path, image_id: str, problems: ProblemLog) -> list[Tag]:
    path = tags_dir / f"{image_id}.txt"
    if not path.is_file():
        problems.report(f"no tag file for image {image_id}; no tags", path=tags_dir)
        return []
    return read_tags(path, problems)


def read_answers(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read an answer file into ``{description_id: image_id}``.

    The file has the header ``Description_ID,Image_ID`` (the competition's spelling
    ``Descritpion_ID`` is accepted too) and rows such as ``0.txt,37.jpg``; a UTF-8 byte-order
    mark is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError("answer file not found", path=path)
    answers: dict[str, str] = {}
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataFormatError("not UTF-8 text", path=path, line=line) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DataFormatError(f"not a CSV file ({exc})", path=path) from None
    reader = iter(rows)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) not in ANSWER_HEADERS:
        raise DataFormatError(
            f"expected the header {','.join(ANSWER_HEADER)}, found {str(header)[:80]}",
            path=path,
            line=1,
        )
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 2:
            raise DataFormatError(f"expected 2 columns, found {len(row)}", path=path, line=number)
        description_id = image_id_from_path(row[0])
        if description_id in answers:
            raise DataFormatError(f"description {row[0]} answered twice", path=path, line=number)
        answers[description_id] = image_id_from_path(row[1])
    return answers


def _examples(ids: list[str], suffix: str) -> str:
    shown = ", ".join(f"{i}{suffix}" for i in _sort_ids(ids)[:3])
    return shown + (", ..." if len(ids) > 3 else "")


def relevant_from_answers(
    path: str | os.PathLike[str], description_ids: Sequence[str], image_ids: Sequence[str]
) -> np.ndarray:
    """For each description, the position of its answer in ``image_ids``.

    The answer file must answer exactly these descriptions with these images; every
    disagreement is counted, with examples, in one :class:`DataFormatError` naming the file
    (so a wrong answer file is never mistaken for a wrong submission).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "answers.csv"
    >>> _ = p.write_text("Description_ID,Image_ID\\n0.txt,7.jpg\\n1.txt,3.jpg\\n")
    >>> relevant_from_answers(p, ["0", "1"], ["3", "7"]).tolist()
    [1, 0]
    """
    path = Path(path)
    answers = read_answers(path)
    index_of = {image_id: index for index, image_id in enumerate(image_ids)}
    unanswered = [d for d in description_ids if d not in answers]
    unknown = sorted(set(answers) - set(description_ids))
    foreign = [d for d in description_ids if d in answers and answers[d] not in index_of]
    problems = []
    if unanswered:
        problems.append(
            f"{len(unanswered)} of the part's {len(description_ids)} descriptions have no answer "
            f"({_examples(unanswered, '.txt')})"
        )
    if unknown:
        problems.append(
            f"{len(unknown)} answered descriptions are not in the part ({_examples(unknown, '.txt')})"
        )
    if foreign:
        images = [answers[d] for d in foreign]
        problems.append(
            f"{len(foreign)} answers name images that are not in the part ({_examples(images, '.jpg')})"
        )
    if problems:
        raise DataFormatError(
            "the answer file does not match the part: " + "; ".join(problems), path=path
        )
    return np.asarray([index_of[answers[d]] for d in description_ids], dtype=np.int64)


def write_answers(path: str | os.PathLike[str], pairs: Iterable[tuple[str, str]]) -> None:
    """Write ``(description_id, image_id)`` pairs as an answer file, atomically."""
    with atomic_write(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ANSWER_HEADER)
        for description_id, image_id in pairs:
            writer.writerow([f"{description_id}.txt", f"{image_id}.jpg"])
