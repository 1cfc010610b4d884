"""Reader for a plain captions table (CSV or JSON Lines), for users' own collections."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from retrieval.data._dataset import Dataset, Tag
from retrieval.data._problems import OnError, ProblemLog
from retrieval.data._textfiles import decode_lines, parse_tag
from retrieval.errors import DataFormatError

TAG_SEPARATOR = "|"


def _tag_from_text(text: str) -> Tag | None:
    text = text.strip()
    if not text:
        return None
    return parse_tag(text) if ":" in text else Tag("", text)


def load_captions_table(
    path: str | os.PathLike[str],
    *,
    image_root: str | os.PathLike[str] | None = None,
    require_images: bool = True,
    on_error: OnError = "warn",
) -> Dataset:
    """Read a captions table: one image, one or more captions, optional tags per item.

    CSV (``.csv``): a header with an ``image`` column, one or more columns whose names
    start with ``caption`` and an optional ``tags`` column (``|``-separated, each
    ``supercategory:category`` or a bare name). Rows naming the same image are merged,
    so a COCO-style table with one caption per row works as it is.

    JSON Lines (``.jsonl``): one object per line with ``image``, ``caption`` (a string)
    or ``captions`` (a list) and optional ``tags`` (a list of strings).

    Image paths are relative to ``image_root`` (default: the table's folder). Rows
    that are malformed, lack an image path or captions, or (with ``require_images``)
    point at a missing image are reported with their line number and skipped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("image,caption,tags\\n"
    ...     "a.jpg,A red apple.,food:fruit\\na.jpg,An apple on a table.,\\n")
    >>> ds = load_captions_table(folder / "t.csv", require_images=False)
    >>> ds.ids, ds.descriptions, [[str(t) for t in ts] for ts in ds.tags]
    (['a.jpg'], [['A red apple.', 'An apple on a table.']], [['food:fruit']])
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError("captions table not found", path=path)
    root = Path(image_root) if image_root is not None else path.parent
    problems = ProblemLog(on_error)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, problems)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path, problems)
    else:
        raise DataFormatError(
            f"expected a .csv or .jsonl captions table, got {suffix or 'no suffix'!r}", path=path
        )

    captions: dict[str, list[str]] = {}
    tags: dict[str, list[Tag]] = {}
    for line, image, row_captions, row_tags in rows:
        if require_images and image not in captions and not (root / image).is_file():
            problems.report(
                f"image {image} not found under {root}; row skipped", path=path, line=line
            )
            continue
        captions.setdefault(image, []).extend(row_captions)
        known = tags.setdefault(image, [])
        known.extend(t for t in row_tags if t not in known)
    if not captions:
        raise DataFormatError("no usable row in the captions table", path=path)
    ids = list(captions)
    dataset = Dataset.paired(
        ids=ids,
        image_paths=[root / i for i in ids],
        descriptions=[captions[i] for i in ids],
        tags=[tags[i] for i in ids],
        name=path.stem,
        root=root,
    )
    dataset.notes = problems.finish()
    return dataset


Row = tuple[int, str, list[str], list[Tag]]


def _parse_tags(texts: list[str], path: Path, line: int, problems: ProblemLog) -> list[Tag]:
    tags = []
    for text in texts:
        tag = _tag_from_text(text)
        if tag is None:
            if text.strip():
                problems.report(f"malformed tag {text!r}; tag skipped", path=path, line=line)
            continue
        tags.append(tag)
    return tags


def _csv_rows(path: Path, problems: ProblemLog) -> list[Row]:
    text = "\n".join(decode_lines(path.read_bytes(), path, problems))
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "image" not in header:
        raise DataFormatError(
            f"expected a header with an 'image' column, found {header}", path=path, line=1
        )
    image_col = header.index("image")
    caption_cols = [i for i, h in enumerate(header) if h.startswith("caption")]
    if not caption_cols:
        raise DataFormatError("expected at least one 'caption' column", path=path, line=1)
    tags_col = header.index("tags") if "tags" in header else None
    rows: list[Row] = []
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.report(
                f"expected {len(header)} columns, found {len(fields)}; row skipped",
                path=path,
                line=line,
            )
            continue
        image = fields[image_col].strip()
        row_captions = [fields[i].strip() for i in caption_cols if fields[i].strip()]
        if not image:
            problems.report("empty image path; row skipped", path=path, line=line)
            continue
        tag_texts = fields[tags_col].split(TAG_SEPARATOR) if tags_col is not None else []
        row_tags = _parse_tags(tag_texts, path, line, problems)
        if not row_captions and not row_tags:
            problems.report("row has no caption; row skipped", path=path, line=line)
            continue
        rows.append((line, image, row_captions, row_tags))
    return rows


def _jsonl_rows(path: Path, problems: ProblemLog) -> list[Row]:
    rows: list[Row] = []
    for line, text in enumerate(decode_lines(path.read_bytes(), path, problems), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.report(f"not valid JSON ({exc.msg}); line skipped", path=path, line=line)
            continue
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("image"), str)
            or not record["image"].strip()
        ):
            problems.report(
                "expected an object with an 'image' string; line skipped", path=path, line=line
            )
            continue
        raw_captions = record.get("captions", record.get("caption", []))
        if isinstance(raw_captions, str):
            raw_captions = [raw_captions]
        raw_tags = record.get("tags", [])
        if (
            not isinstance(raw_captions, list)
            or not all(isinstance(c, str) for c in raw_captions)
            or (not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags))
        ):
            problems.report(
                "'captions' and 'tags' must be lists of strings; line skipped", path=path, line=line
            )
            continue
        row_captions = [c.strip() for c in raw_captions if c.strip()]
        if not row_captions:
            problems.report("no caption; line skipped", path=path, line=line)
            continue
        rows.append(
            (
                line,
                record["image"].strip(),
                row_captions,
                _parse_tags(raw_tags, path, line, problems),
            )
        )
    return rows
