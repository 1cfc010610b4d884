"""Retrieval metrics with one relevant item per query, vectorised over queries.

Everything starts from ``ranks``: the 1-based position of each query's relevant item in
its ranking (``len(gallery) + 1`` or more, or ``0``/negative never; use
:func:`ranks_from_scores` or :func:`ranks_from_ranking` to get them).

MAP@K has two published forms for this task, and both are reported, always named:

- ``map_at_k`` (Kaggle's MAP@K with one relevant item): ``1 / r`` if ``r <= K`` else 0;
- ``map_at_k_linear`` (the linear score in several course write-ups): ``(K + 1 - r) / K``
  if ``r <= K`` else 0.

Examples
--------
>>> import numpy as np
>>> ranks = np.array([1, 2, 25])
>>> round(map_at_k(ranks, 20), 4), round(map_at_k_linear(ranks, 20), 4)
(0.5, 0.65)
>>> recall_at_k(ranks, 5), median_rank(ranks)
(0.6666666666666666, 2.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


def ranks_from_scores(scores: np.ndarray, relevant: Sequence[int] | np.ndarray) -> np.ndarray:
    """Ranks from a ``(n_queries, n_items)`` score matrix (higher is better).

    Ties are counted against the relevant item (a constant scorer gets the worst rank).
    """
    scores = np.asarray(scores)
    relevant = np.asarray(relevant, dtype=np.int64)
    if scores.ndim != 2 or relevant.shape != (scores.shape[0],):
        raise ValueError("scores must be (n, m) and relevant (n,)")
    if (relevant < 0).any() or (relevant >= scores.shape[1]).any():
        raise ValueError("relevant holds an index outside the score columns")
    true = scores[np.arange(len(relevant)), relevant][:, None]
    return (scores > true).sum(axis=1) + (scores == true).sum(axis=1)


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


def map_at_k(ranks: Sequence[int] | np.ndarray, k: int = 20) -> float:
    """Kaggle's MAP@K with one relevant item: mean of ``1/r`` for ``r <= k``, else 0."""
    r, k = _ranks(ranks), _k(k)
    return float(np.where(r <= k, 1.0 / r, 0.0).mean())


def map_at_k_linear(ranks: Sequence[int] | np.ndarray, k: int = 20) -> float:
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


def retrieval_report(
    ranks: Sequence[int] | np.ndarray, ks: Sequence[int] = (1, 5, 10, 20), *, map_k: int = 20
) -> dict[str, float]:
    """The standard table: both MAP@K forms, R@K for each ``k``, nDCG@K, MRR and median rank."""
    r = _ranks(ranks)
    report = {
        f"MAP@{map_k} (1/r, Kaggle)": map_at_k(r, map_k),
        f"MAP@{map_k} (linear, ({map_k}+1-r)/{map_k})": map_at_k_linear(r, map_k),
    }
    report.update({f"R@{k}": recall_at_k(r, k) for k in ks})
    report[f"nDCG@{map_k}"] = ndcg_at_k(r, map_k)
    report["MRR"] = mean_reciprocal_rank(r)
    report["median rank"] = median_rank(r)
    report["queries"] = int(len(r))
    return report
