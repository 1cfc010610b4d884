"""The images a search runs over: ids, files, their representations and tags."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.store import Arrays, Meta, nest, part

CODE = "code"
"""The image space every gallery has: the search code (image queries are compared there)."""


@dataclass
class Gallery:
    """Searchable images.

    ``spaces`` maps an image space (``"code"``, and ``"features"`` when a model works in
    it) to one row per image; ``tags`` (one list of ``supercategory:category`` strings per
    image) feed tag fusion when present. ``roots`` are the folders the pictures were found in
    when the gallery was made (:func:`picture_folders`); the page serves nothing outside them.

    Examples
    --------
    >>> g = Gallery(["a", "b"], [Path("a.jpg"), Path("b.jpg")], {"code": np.eye(2)})
    >>> len(g), g.subset([1]).ids
    (2, ['b'])
    """

    ids: list[str]
    paths: list[Path]
    spaces: dict[str, np.ndarray]
    tags: list[list[str]] | None = None
    name: str = ""
    roots: list[Path] | None = None

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        self.paths = [Path(p) for p in self.paths]
        if self.roots is not None:
            self.roots = [Path(r) for r in self.roots]
        self.spaces = {k: np.asarray(v, dtype=np.float32) for k, v in self.spaces.items()}
        n = len(self.ids)
        if CODE not in self.spaces:
            raise ValueError("a gallery needs the 'code' space")
        if len(self.paths) != n:
            raise ValueError(f"gallery has {n} ids but {len(self.paths)} paths")
        for space, rows in self.spaces.items():
            if rows.ndim != 2 or len(rows) != n:
                raise ValueError(
                    f"gallery space {space!r} must have {n} rows, got shape {rows.shape}"
                )
            if not np.isfinite(rows).all():
                raise ValueError(f"gallery space {space!r} holds NaN or infinity")
        if self.tags is not None and len(self.tags) != n:
            raise ValueError(f"gallery has {n} ids but {len(self.tags)} tag lists")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def codes(self) -> np.ndarray:
        """The rows that example-image queries are compared with, one per picture (the ``code``
        space): the trained model's image code, or, in a CLIP library, CLIP's picture
        embeddings."""
        return self.spaces[CODE]

    def subset(self, positions: Sequence[int] | np.ndarray) -> Gallery:
        """The images at ``positions``, in that order."""
        rows = np.asarray(positions, dtype=np.int64)
        return Gallery(
            [self.ids[i] for i in rows],
            [self.paths[i] for i in rows],
            {k: v[rows] for k, v in self.spaces.items()},
            None if self.tags is None else [self.tags[i] for i in rows],
            self.name,
            self.roots,
        )

    def get_state(self) -> tuple[Meta, Arrays]:
        meta = {
            "name": self.name,
            "ids": self.ids,
            "paths": [str(p) for p in self.paths],
            "tags": self.tags,
            "spaces": sorted(self.spaces),
        }
        if self.roots is not None:
            meta["roots"] = [str(r) for r in self.roots]
        return meta, nest("spaces", self.spaces)

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> Gallery:
        spaces = part("spaces", arrays)
        missing = set(meta["spaces"]) - set(spaces)
        if missing:
            raise ValueError(f"stored gallery lacks the arrays of {sorted(missing)}")
        roots = meta.get("roots")
        if roots is not None and not (
            isinstance(roots, list) and all(isinstance(r, str) for r in roots)
        ):
            raise ValueError("stored gallery roots must be a list of folder names")
        return cls(
            meta["ids"], meta["paths"], spaces, meta.get("tags"), meta.get("name", ""), roots
        )


def picture_folders(paths: Sequence[Path | str]) -> list[Path]:
    """The fewest folders that hold every picture: each picture's folder (absolute, as
    listed, so a symlinked picture does not widen them), less those inside another.

    >>> picture_folders(["/p/a/1.jpg", "/p/a/b/2.jpg", "/q/3.jpg"])
    [PosixPath('/p/a'), PosixPath('/q')]
    """
    folders = sorted({Path(os.path.abspath(p)).parent for p in paths})
    kept: list[Path] = []
    for folder in folders:  # sorted: a folder comes before the folders inside it
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return kept
