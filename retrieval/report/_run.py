"""The input of a report: one retrieval run as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval import metrics


@dataclass
class RunResult:
    """One retrieval run over a gallery.

    ``relevant[q]`` is the gallery index of the image query ``q`` describes. Give either
    ``scores`` (``n_queries x n_gallery``, higher is better) or ``ranking`` (``n_queries x k``
    gallery indices, best first) together with ``ranks`` (1-based rank of the true image in the
    whole gallery). Scores are ranked by :func:`retrieval.metrics.top_k`, the rule submissions
    use. ``codes`` (``n_gallery x d``) feed the PCA map, ``history`` (networks' Keras-style
    ``{"loss": [...], "val_loss": [...]}`` by name) the loss curves, ``config`` the settings.
    ``gallery_captions`` (one text per image, shown when hovering its thumbnail) and
    ``gallery_groups`` (one label per image, such as its tag's supercategory, colouring the
    PCA map) are optional.
    """

    name: str
    gallery_paths: list[Path]
    query_texts: list[str]
    relevant: np.ndarray
    scores: np.ndarray | None = None
    ranking: np.ndarray | None = None
    ranks: np.ndarray | None = None
    codes: np.ndarray | None = None
    history: dict[str, dict[str, list[float]]] | None = None
    config: dict | None = None
    gallery_captions: list[str] | None = None
    gallery_groups: list[str] | None = None

    def __post_init__(self) -> None:
        self.gallery_paths = [Path(p) for p in self.gallery_paths]
        for name in ("gallery_captions", "gallery_groups"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.gallery_paths):
                raise ValueError(f"{name} must hold one entry per gallery image")
        self.relevant = np.asarray(self.relevant, dtype=np.int64)
        n = len(self.query_texts)
        if self.relevant.shape != (n,):
            raise ValueError(f"relevant must hold one index per query ({n})")
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64)
            if self.scores.shape != (n, len(self.gallery_paths)):
                raise ValueError("scores must be n_queries x n_gallery")
            self.ranking = metrics.top_k(self.scores, metrics.TOP_K)
            if self.ranks is None:
                self.ranks = metrics.ranks_from_scores(self.scores, self.relevant)
        if self.ranking is None or self.ranks is None:
            raise ValueError("give scores, or ranking together with ranks")
        self.ranking = np.asarray(self.ranking, dtype=np.int64)
        self.ranks = np.asarray(self.ranks, dtype=np.int64)
        if self.ranking.shape[0] != n or self.ranks.shape != (n,):
            raise ValueError("ranking and ranks must hold one row per query")

    @property
    def gallery_size(self) -> int:
        return len(self.gallery_paths)

    def metrics(self) -> dict[str, float]:
        """Every metric of :data:`retrieval.metrics.METRIC_NAMES` for this run."""
        return metrics.retrieval_report(self.ranks)
