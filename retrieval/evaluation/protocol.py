"""A protocol for quality claims that cannot fool itself.

1. **Choose on train folds.** :func:`cross_validate` trains a config on k-1 folds of a train
   part and ranks the held-out fold's images for each of its descriptions; the mean MAP@20
   over folds is what selection looks at (:meth:`retrieval.evaluation.study.ScoreCache.choose`,
   which keeps each score). Test parts are never used to choose.
2. **Report on test parts, with intervals.** Each chosen config is trained once on the whole
   train part and scored on the test part. :func:`bootstrap_interval` gives a 95% interval
   of a per-query metric by resampling the queries; :func:`paired_test` compares two methods
   on the same queries (bootstrap of the mean difference and its two-sided p-value).

Examples
--------
>>> import numpy as np
>>> ranks = np.array([1, 2, 3, 50, 4, 1, 30, 2])
>>> low, high = bootstrap_interval(reciprocal_ranks(ranks), seed=0)
>>> bool(low < reciprocal_ranks(ranks).mean() < high)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.config import RunConfig
from retrieval.core import Trainer
from retrieval.data import Dataset
from retrieval.evaluation._evaluate import evaluate
from retrieval.metrics import TOP_K


def reciprocal_ranks(ranks: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Each query's MAP@k contribution (Kaggle's form): ``1/r`` if ``r <= k``, else 0."""
    ranks = np.asarray(ranks)
    return np.where(ranks <= k, 1.0 / ranks, 0.0)


def fold_indices(n: int, folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``folds`` disjoint, sorted index sets covering ``range(n)`` (a seeded permutation).

    Examples
    --------
    >>> [f.tolist() for f in fold_indices(6, folds=3, seed=0)]
    [[2, 3], [4, 5], [0, 1]]
    """
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the number of items ({n}), got {folds}")
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def folds_per_dataset(folds: Sequence[int], datasets: int) -> list[int]:
    """The number of folds for each of ``datasets`` datasets: one number for all, or one each.

    >>> folds_per_dataset([3], 2), folds_per_dataset([5, 3], 2)
    ([3, 3], [5, 3])
    """
    out = list(folds) * datasets if len(folds) == 1 else list(folds)
    if len(out) != datasets:
        raise ValueError(f"give one number of folds or {datasets} (one per dataset), got {folds}")
    return out


def held_out_ranks(config: RunConfig, train: Dataset, held_out: Dataset) -> np.ndarray:
    """Train ``config`` on ``train`` and rank ``held_out``'s images for each of its descriptions."""
    return evaluate(Trainer(config).fit(train), held_out).ranks


@dataclass
class CrossValidation:
    """Per-fold ranks of a config; ``score`` is the mean over folds of MAP@20 (1/r)."""

    name: str
    fold_ranks: list[np.ndarray] = field(default_factory=list)

    @property
    def fold_scores(self) -> list[float]:
        return [float(reciprocal_ranks(r).mean()) for r in self.fold_ranks]

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))


def cross_validate(
    config: RunConfig,
    train: Dataset,
    *,
    folds: int = 5,
    seed: int = 0,
    ranks: Callable[[RunConfig, Dataset, Dataset], np.ndarray] = held_out_ranks,
    train_fraction: float = 1.0,
) -> CrossValidation:
    """k-fold cross-validation of ``config`` on a paired train part.

    With ``train_fraction`` below 1, each fold trains on that fraction of its training items
    (a seeded sample; the held-out fold stays whole): a point of a learning curve."""
    if not train.is_paired:
        raise ValueError("cross-validation needs paired data (description i describes image i)")
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
    result = CrossValidation(config.name)
    everything = np.arange(len(train))
    for number, fold in enumerate(fold_indices(len(train), folds, seed)):
        rest = np.setdiff1d(everything, fold)
        if train_fraction < 1.0:
            size = max(2, int(round(len(rest) * train_fraction)))
            sample = np.random.default_rng([seed, number]).choice(rest, size, replace=False)
            rest = np.sort(sample)
        result.fold_ranks.append(ranks(config, train.subset(rest), train.subset(fold)))
    return result


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-query ``values``."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


@dataclass(frozen=True)
class PairedComparison:
    """Mean of ``a - b`` over the same queries, its bootstrap interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    ratio: float


def paired_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resamples: int = 4000,
    seed: int = 0,
) -> PairedComparison:
    """Compare two methods' per-query values on the same queries by a paired bootstrap.

    The p-value is twice the smaller share of resampled mean differences on either side of 0.

    >>> result = paired_test([1.0, 0.5, 1.0, 1.0, 0.5, 1.0], [0.5, 0.5, 0.2, 0.5, 0.5, 0.1], seed=0)
    >>> result.difference > 0, result.p_value < 0.05
    (True, True)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("a paired test needs the same queries on both sides")
    difference = a - b
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, len(difference), (resamples, len(difference)))].mean(axis=1)
    p_value = min(1.0, 2.0 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return PairedComparison(
        difference=float(difference.mean()),
        low=float(np.quantile(means, 0.025)),
        high=float(np.quantile(means, 0.975)),
        p_value=p_value,
        ratio=float(a.mean() / b.mean()) if b.mean() > 0 else float("inf"),
    )
