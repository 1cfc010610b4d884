"""The images a search runs over: ids, files, their representations and tags."""

from __future__ import annotations

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
    image) feed tag fusion when present.

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

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        self.paths = [Path(p) for p in self.paths]
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
        )

    def get_state(self) -> tuple[Meta, Arrays]:
        meta = {
            "name": self.name,
            "ids": self.ids,
            "paths": [str(p) for p in self.paths],
            "tags": self.tags,
            "spaces": sorted(self.spaces),
        }
        return meta, nest("spaces", self.spaces)

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> Gallery:
        spaces = part("spaces", arrays)
        missing = set(meta["spaces"]) - set(spaces)
        if missing:
            raise ValueError(f"stored gallery lacks the arrays of {sorted(missing)}")
        return cls(meta["ids"], meta["paths"], spaces, meta.get("tags"), meta.get("name", ""))
