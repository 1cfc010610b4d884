"""The in-memory dataset: images with their features, tags and descriptions."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from retrieval.data._kinds import FEATURE_FILES


class Tag(NamedTuple):
    """One object tag, as the competition writes it: ``supercategory:category``."""

    supercategory: str
    category: str

    def __str__(self) -> str:
        return f"{self.supercategory}:{self.category}" if self.supercategory else self.category


@dataclass
class Dataset:
    """Images (with tags and optional ResNet features) and the descriptions that talk about them.

    In paired data, such as a competition train part or a captions table, description
    ``i`` describes image ``i``. In the competition test part the pairing is hidden:
    ``relevant`` is ``None`` unless an answer file was given.

    Attributes
    ----------
    ids:
        Image ids (``"5373"`` for ``images_train/5373.jpg``).
    image_paths:
        Path of each image; the file may be absent when only features are shipped.
    tags:
        Tags of each image.
    description_ids:
        Description ids (``"12"`` for ``descriptions_test/12.txt``).
    descriptions:
        Sentences of each description (normally five; may be empty).
    pool5, fc1000:
        Optional feature matrices, row ``j`` belonging to ``ids[j]``.
    relevant:
        For each description, the index into ``ids`` of the image it describes,
        or ``None`` where that is unknown.
    feature_record:
        Which network made the features (model, weights, seed, input size), as the
        feature folder's ``features.json`` records it.
    extra, extra_records:
        Feature matrices of the other kinds, by kind (``"clip"``: CLIP picture embeddings from
        ``features_clip_<split>.csv``; ``"efficientnet_lite0"``: EfficientNet-Lite0's pooled
        ImageNet features), and their records (``features_<kind>.json``).

    Examples
    --------
    >>> ds = Dataset.paired(
    ...     ids=["0", "1"], image_paths=[Path("a.jpg"), Path("b.jpg")],
    ...     descriptions=[["A dog."], ["A cat.", "On a mat."]],
    ...     tags=[[Tag("animal", "dog")], []])
    >>> len(ds), ds.is_paired, ds.texts()
    (2, True, ['A dog.', 'A cat. On a mat.'])
    """

    ids: list[str]
    image_paths: list[Path]
    tags: list[list[Tag]]
    description_ids: list[str]
    descriptions: list[list[str]]
    pool5: np.ndarray | None = None
    fc1000: np.ndarray | None = None
    relevant: np.ndarray | None = None
    name: str = ""
    root: Path | None = None
    notes: list[str] = field(default_factory=list)
    feature_record: dict = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    extra_records: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        for label, values in (("image_paths", self.image_paths), ("tags", self.tags)):
            if len(values) != n:
                raise ValueError(f"{label} has {len(values)} entries, ids has {n}")
        if len(self.descriptions) != len(self.description_ids):
            raise ValueError(
                f"descriptions has {len(self.descriptions)} entries, "
                f"description_ids has {len(self.description_ids)}"
            )
        for label, matrix in (("pool5", self.pool5), ("fc1000", self.fc1000), *self.extra.items()):
            if matrix is not None and (matrix.ndim != 2 or matrix.shape[0] != n):
                raise ValueError(f"{label} must have shape ({n}, d), got {matrix.shape}")
        if self.relevant is not None:
            self.relevant = np.asarray(self.relevant, dtype=np.int64)
            if self.relevant.shape != (len(self.description_ids),):
                raise ValueError("relevant must hold one image index per description")
            if len(self.relevant) and (self.relevant.min() < 0 or self.relevant.max() >= n):
                raise ValueError("relevant holds an index outside the images")

    @classmethod
    def paired(
        cls,
        *,
        ids: Sequence[str],
        image_paths: Sequence[Path],
        descriptions: Sequence[list[str]],
        tags: Sequence[list[Tag]] | None = None,
        pool5: np.ndarray | None = None,
        fc1000: np.ndarray | None = None,
        name: str = "",
        root: Path | None = None,
    ) -> Dataset:
        """A dataset in which description ``i`` describes image ``i``."""
        ids = [str(i) for i in ids]
        return cls(
            ids=ids,
            image_paths=[Path(p) for p in image_paths],
            tags=[list(t) for t in tags] if tags is not None else [[] for _ in ids],
            description_ids=list(ids),
            descriptions=[list(d) for d in descriptions],
            pool5=pool5,
            fc1000=fc1000,
            relevant=np.arange(len(ids)),
            name=name,
            root=root,
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_paired(self) -> bool:
        """True when description ``i`` describes image ``i`` for every ``i``."""
        return (
            self.relevant is not None
            and len(self.relevant) == len(self.ids)
            and bool(np.array_equal(self.relevant, np.arange(len(self.ids))))
        )

    def texts(self, separator: str = " ") -> list[str]:
        """Each description's sentences joined into one string."""
        return [separator.join(sentences) for sentences in self.descriptions]

    def features(self, kind: str = "pool5") -> np.ndarray:
        """The ``pool5``, ``fc1000`` or another kind's matrix; a clear error when it was not loaded."""
        if kind not in FEATURE_FILES:
            raise ValueError(
                f"feature kind must be one of {', '.join(FEATURE_FILES)}, got {kind!r}"
            )
        matrix = getattr(self, kind) if kind in ("pool5", "fc1000") else self.extra.get(kind)
        if matrix is None:
            raise ValueError(
                f"dataset {self.name or '(unnamed)'} has no {kind} features; "
                "load them with the reader or extract them with retrieval.features"
            )
        return matrix

    def record_of(self, kind: str = "pool5") -> dict:
        """Which network made the ``kind`` features (``features.json``'s for the ResNet kinds)."""
        return (
            self.feature_record if kind in ("pool5", "fc1000") else self.extra_records.get(kind, {})
        )

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The paired items at ``indices`` (descriptions follow their images)."""
        if not self.is_paired:
            raise ValueError("subset() needs paired data: description i must describe image i")
        idx = np.asarray(indices, dtype=np.int64)
        return replace(
            self,
            ids=[self.ids[i] for i in idx],
            image_paths=[self.image_paths[i] for i in idx],
            tags=[self.tags[i] for i in idx],
            description_ids=[self.description_ids[i] for i in idx],
            descriptions=[self.descriptions[i] for i in idx],
            pool5=None if self.pool5 is None else self.pool5[idx],
            fc1000=None if self.fc1000 is None else self.fc1000[idx],
            extra={kind: matrix[idx] for kind, matrix in self.extra.items()},
            relevant=np.arange(len(idx)),
            notes=list(self.notes),
        )

    def summary(self, top_tags: int = 10) -> DatasetSummary:
        """Counts, sentence lengths and the most frequent tags."""
        sentence_counts = np.array([len(d) for d in self.descriptions], dtype=np.int64)
        words = np.array([len(s.split()) for d in self.descriptions for s in d], dtype=np.int64)
        tag_counter = collections.Counter(str(t) for tags in self.tags for t in tags)
        return DatasetSummary(
            name=self.name,
            images=len(self.ids),
            descriptions=len(self.description_ids),
            sentences=int(sentence_counts.sum()),
            sentences_per_description=_spread(sentence_counts),
            words_per_sentence=_spread(words),
            empty_descriptions=int((sentence_counts == 0).sum()),
            images_without_tags=sum(1 for t in self.tags if not t),
            distinct_tags=len(tag_counter),
            top_tags=tag_counter.most_common(top_tags),
            pool5_dim=None if self.pool5 is None else int(self.pool5.shape[1]),
            fc1000_dim=None if self.fc1000 is None else int(self.fc1000.shape[1]),
            paired=self.is_paired,
            answers_known=self.relevant is not None,
        )


class Spread(NamedTuple):
    """Minimum, mean, median and maximum of a count."""

    min: int
    mean: float
    median: float
    max: int


def _spread(values: np.ndarray) -> Spread:
    if values.size == 0:
        return Spread(0, 0.0, 0.0, 0)
    return Spread(
        int(values.min()), float(values.mean()), float(np.median(values)), int(values.max())
    )


@dataclass(frozen=True)
class DatasetSummary:
    """What :meth:`Dataset.summary` reports; ``str()`` gives a readable block."""

    name: str
    images: int
    descriptions: int
    sentences: int
    sentences_per_description: Spread
    words_per_sentence: Spread
    empty_descriptions: int
    images_without_tags: int
    distinct_tags: int
    top_tags: list[tuple[str, int]]
    pool5_dim: int | None
    fc1000_dim: int | None
    paired: bool
    answers_known: bool

    def __str__(self) -> str:
        s, w = self.sentences_per_description, self.words_per_sentence
        pairing = (
            "paired"
            if self.paired
            else ("answers known" if self.answers_known else "pairing hidden")
        )
        lines = [
            f"{self.name or 'dataset'}: {self.images} images, {self.descriptions} descriptions ({pairing})",
            f"  sentences: {self.sentences} in all; per description min {s.min}, "
            f"mean {s.mean:.2f}, median {s.median:g}, max {s.max}; {self.empty_descriptions} empty",
            f"  words per sentence: min {w.min}, mean {w.mean:.2f}, median {w.median:g}, max {w.max}",
            f"  tags: {self.distinct_tags} distinct; {self.images_without_tags} images without tags",
            f"  features: pool5 {self.pool5_dim or 'not loaded'}, fc1000 {self.fc1000_dim or 'not loaded'}",
        ]
        if self.top_tags:
            lines.append("  most frequent tags:")
            lines.extend(f"    {count:6d}  {tag}" for tag, count in self.top_tags)
        return "\n".join(lines)
