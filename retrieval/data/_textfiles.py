"""Reading the small per-item text files: descriptions and tags."""

from __future__ import annotations

from pathlib import Path

from retrieval.data._dataset import Tag
from retrieval.data._problems import ProblemLog


def decode_lines(raw: bytes, path: Path, problems: ProblemLog) -> list[str]:
    """Split ``raw`` into lines, decoding UTF-8; a line that is not UTF-8 is reported
    with its number and decoded with replacement characters."""
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        pass
    lines = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append(chunk.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            problems.report(
                f"not valid UTF-8 (byte {exc.start}); undecodable bytes replaced",
                path=path,
                line=number,
            )
            lines.append(chunk.decode("utf-8", errors="replace").rstrip("\r"))
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines


def read_description(path: Path, problems: ProblemLog) -> list[str]:
    """The non-blank, stripped sentences of a description file."""
    sentences = [line.strip() for line in decode_lines(path.read_bytes(), path, problems)]
    sentences = [s for s in sentences if s]
    if not sentences:
        problems.report(
            "empty description (no non-blank line); kept as an empty description", path=path
        )
    return sentences


def parse_tag(text: str) -> Tag | None:
    """``"furniture:dining table"`` -> ``Tag("furniture", "dining table")``; None if malformed."""
    supercategory, sep, category = text.strip().partition(":")
    supercategory, category = supercategory.strip(), category.strip()
    if not sep or not supercategory or not category:
        return None
    return Tag(supercategory, category)


def read_tags(path: Path, problems: ProblemLog) -> list[Tag]:
    """The tags in a tag file, one ``supercategory:category`` a line; empty files are normal."""
    tags = []
    for number, line in enumerate(decode_lines(path.read_bytes(), path, problems), start=1):
        if not line.strip():
            continue
        tag = parse_tag(line)
        if tag is None:
            problems.report(
                f"expected 'supercategory:category', found {line.strip()!r}; line skipped",
                path=path,
                line=number,
            )
            continue
        tags.append(tag)
    return tags
