"""Retrieval metrics with one relevant item per query, and the one ranking rule.

Everything starts from ``ranks``: the 1-based position of each query's relevant item in
its ranking. :func:`top_k` (what a submission lists) and :func:`ranks_from_scores` (what
the metrics count) order items the same way: by score, and equal scores in a fixed
pseudo-random order of the gallery (:func:`tie_order`), so a constant scorer ranks like
chance instead of favouring low gallery positions, and a report shows exactly the top 20
that a submission file holds.

MAP@K has two published forms for this task, and both are reported, always named:

- ``map_at_k`` (Kaggle's MAP@K with one relevant item): ``1 / r`` if ``r <= K`` else 0;
- ``map_at_k_linear`` (the linear score in several course write-ups): ``(K + 1 - r) / K``
  if ``r <= K`` else 0.

:data:`METRIC_NAMES` is the one table of metric names: evaluation results, JSON files,
submissions and reports all use these keys.

Examples
--------
>>> import numpy as np
>>> ranks = np.array([1, 2, 25])
>>> round(map_at_k(ranks, 20), 4), round(map_at_k_linear(ranks, 20), 4)
(0.5, 0.65)
>>> recall_at_k(ranks, 5), median_rank(ranks)
(0.6666666666666666, 2.0)
>>> top_k(np.array([[0.1, 0.9, 0.5]]), 2).tolist()
[[1, 2]]
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

TOP_K = 20
"""How many images a submission lists per description, and the K of MAP@K."""

MAP = "MAP@20 (1/r, Kaggle)"
MAP_LINEAR = "MAP@20 (linear, (21-r)/20)"
MEDIAN_RANK = "median rank"
RECALL_KS = (1, 5, 10, 20)
METRIC_NAMES: tuple[str, ...] = (
    MAP,
    MAP_LINEAR,
    *(f"R@{k}" for k in RECALL_KS),
    f"nDCG@{TOP_K}",
    "MRR",
    MEDIAN_RANK,
)
"""Every metric :func:`retrieval_report` returns, in display order."""


def _ranks(ranks: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(ranks)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("ranks must be a non-empty 1-d array")
    if not np.issubdtype(array.dtype, np.integer) or (array < 1).any():
        raise ValueError("ranks must be integers >= 1 (1 = the relevant item came first)")
    return array.astype(np.int64)


def _k(k: int) -> int:
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return int(k)


@functools.lru_cache(maxsize=8)
def tie_order(n: int) -> np.ndarray:
    """The fixed order in which equal scores are ranked: position ``j`` comes ``tie_order(n)[j]``-th.

    >>> tie_order(4).tolist()
    [0, 1, 3, 2]
    """
    order = np.empty(n, dtype=np.int64)
    order[np.random.default_rng(20).permutation(n)] = np.arange(n)
    order.flags.writeable = False
    return order


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores of each row, best first (ties by :func:`tie_order`)."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-d, got shape {scores.shape}")
    n = scores.shape[1]
    k = min(_k(k), n)
    ties = tie_order(n)
    if k == n:
        return np.lexsort((np.broadcast_to(ties, scores.shape), -scores), axis=1)
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    out = np.empty((len(scores), k), dtype=np.int64)
    for row, (values, bound) in enumerate(zip(scores, kth, strict=True)):
        candidates = np.flatnonzero(values >= bound[0])
        order = np.lexsort((ties[candidates], -values[candidates]))
        out[row] = candidates[order[:k]]
    return out


def ranks_from_scores(scores: np.ndarray, relevant: Sequence[int] | np.ndarray) -> np.ndarray:
    """Ranks from a ``(n_queries, n_items)`` score matrix (higher is better), as :func:`top_k` orders."""
    scores = np.asarray(scores)
    relevant = np.asarray(relevant, dtype=np.int64)
    if scores.ndim != 2 or relevant.shape != (scores.shape[0],):
        raise ValueError("scores must be (n, m) and relevant (n,)")
    if (relevant < 0).any() or (relevant >= scores.shape[1]).any():
        raise ValueError("relevant holds an index outside the score columns")
    ties = tie_order(scores.shape[1])
    true = scores[np.arange(len(relevant)), relevant][:, None]
    ahead_on_ties = (scores == true) & (ties[None, :] < ties[relevant][:, None])
    return (scores > true).sum(axis=1) + ahead_on_ties.sum(axis=1) + 1


def ranks_from_ranking(
    ranking: np.ndarray, relevant: Sequence[object], *, missing_rank: int | None = None
) -> np.ndarray:
    """Ranks from ranked id rows (e.g. the 20 ids of a submission) and each row's relevant id.

    A relevant id absent from its row gets ``missing_rank`` (default: row length + 1).
    """
    ranking = np.asarray(ranking)
    relevant = np.asarray(relevant)
    if ranking.ndim != 2 or relevant.shape != (ranking.shape[0],):
        raise ValueError("ranking must be (n, k) and relevant (n,)")
    hits = ranking == relevant[:, None]
    found = hits.any(axis=1)
    fallback = ranking.shape[1] + 1 if missing_rank is None else missing_rank
    return np.where(found, hits.argmax(axis=1) + 1, fallback).astype(np.int64)


def map_at_k(ranks: Sequence[int] | np.ndarray, k: int = TOP_K) -> float:
    """Kaggle's MAP@K with one relevant item: mean of ``1/r`` for ``r <= k``, else 0."""
    r, k = _ranks(ranks), _k(k)
    return float(np.where(r <= k, 1.0 / r, 0.0).mean())


def map_at_k_linear(ranks: Sequence[int] | np.ndarray, k: int = TOP_K) -> float:
    """The linear form: mean of ``(k + 1 - r) / k`` for ``r <= k``, else 0."""
    r, k = _ranks(ranks), _k(k)
    return float(np.where(r <= k, (k + 1 - r) / k, 0.0).mean())


def recall_at_k(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    """Fraction of queries whose relevant item is in the top ``k``."""
    return float((_ranks(ranks) <= _k(k)).mean())


def precision_at_k(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    """Mean precision of the top ``k`` with one relevant item: ``1/k`` on a hit, else 0."""
    return recall_at_k(ranks, k) / _k(k)


def ndcg_at_k(ranks: Sequence[int] | np.ndarray, k: int) -> float:
    """nDCG@K with one relevant item: ``1 / log2(r + 1)`` if ``r <= k``, else 0 (ideal DCG is 1)."""
    r, k = _ranks(ranks), _k(k)
    return float(np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0).mean())


def mean_reciprocal_rank(ranks: Sequence[int] | np.ndarray) -> float:
    """Mean of ``1 / r`` over all queries (no cut-off)."""
    return float((1.0 / _ranks(ranks)).mean())


def median_rank(ranks: Sequence[int] | np.ndarray) -> float:
    """Median of the ranks (lower is better)."""
    return float(np.median(_ranks(ranks)))


def retrieval_report(ranks: Sequence[int] | np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRIC_NAMES`, in that order: both MAP@20 forms, R@1/5/10/20,
    nDCG@20, MRR and the median rank."""
    r = _ranks(ranks)
    report = {MAP: map_at_k(r, TOP_K), MAP_LINEAR: map_at_k_linear(r, TOP_K)}
    report.update({f"R@{k}": recall_at_k(r, k) for k in RECALL_KS})
    report[f"nDCG@{TOP_K}"] = ndcg_at_k(r, TOP_K)
    report["MRR"] = mean_reciprocal_rank(r)
    report[MEDIAN_RANK] = median_rank(r)
    return report


def format_metric(name: str, value: float) -> str:
    """``value`` as tables show it: the median rank as a number, the rest with 4 decimals."""
    return f"{value:g}" if name == MEDIAN_RANK else f"{value:.4f}"
