"""The input of a report: one retrieval run as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval import metrics

TOP_K = 20


@dataclass
class RunResult:
    """One retrieval run over a gallery.

    ``relevant[q]`` is the gallery index of the image query ``q`` describes. Give either
    ``scores`` (``n_queries x n_gallery``, higher is better) or ``ranking`` (``n_queries x k``
    gallery indices, best first) together with ``ranks`` (1-based rank of the true image in the
    whole gallery). ``codes`` (``n_gallery x d``) feed the PCA map, ``history`` (Keras-style
    ``{"loss": [...], "val_loss": [...]}``) the loss curves, ``config`` the run's settings.
    """

    name: str
    gallery_paths: list[Path]
    query_texts: list[str]
    relevant: np.ndarray
    scores: np.ndarray | None = None
    ranking: np.ndarray | None = None
    ranks: np.ndarray | None = None
    codes: np.ndarray | None = None
    history: dict[str, list[float]] | None = None
    config: dict | None = None

    def __post_init__(self) -> None:
        self.gallery_paths = [Path(p) for p in self.gallery_paths]
        self.relevant = np.asarray(self.relevant, dtype=np.int64)
        n = len(self.query_texts)
        if self.relevant.shape != (n,):
            raise ValueError(f"relevant must hold one index per query ({n})")
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64)
            if self.scores.shape != (n, len(self.gallery_paths)):
                raise ValueError("scores must be n_queries x n_gallery")
            # ties are ordered against the true image, as the ranks count them
            is_true = np.zeros(self.scores.shape, dtype=np.int8)
            is_true[np.arange(n), self.relevant] = 1
            order = np.lexsort((is_true, -self.scores), axis=1)
            self.ranking = order[:, :TOP_K]
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


def run_metrics(run: RunResult) -> dict[str, float]:
    """MAP@20 in both forms, R@1/5/10/20 and the median rank of one run."""
    r = run.ranks
    out = {
        "MAP@20 (1/r)": metrics.map_at_k(r, 20),
        "MAP@20 linear ((21-r)/20)": metrics.map_at_k_linear(r, 20),
    }
    for k in (1, 5, 10, 20):
        out[f"R@{k}"] = metrics.recall_at_k(r, k)
    out["median rank"] = metrics.median_rank(r)
    return out
