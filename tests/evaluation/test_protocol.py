from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RunConfig
from retrieval.data import Dataset, load_competition
from retrieval.evaluation.protocol import (
    bootstrap_interval,
    cross_validate,
    fold_indices,
    folds_per_dataset,
    paired_test,
    reciprocal_ranks,
)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def test_folds_partition_the_items() -> None:
    folds = fold_indices(103, folds=5, seed=1)
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(103))
    assert {len(f) for f in folds} <= {20, 21}
    assert [f.tolist() for f in fold_indices(103, 5, 1)] == [f.tolist() for f in folds]
    with pytest.raises(ValueError, match="folds"):
        fold_indices(3, folds=5)


def test_folds_are_one_number_for_all_datasets_or_one_each() -> None:
    assert folds_per_dataset([3], 3) == [3, 3, 3]
    assert folds_per_dataset([5, 3, 3], 3) == [5, 3, 3]
    with pytest.raises(ValueError, match="one per dataset"):
        folds_per_dataset([5, 3], 3)


def recording_ranks(seen: list[tuple[list[str], set[str]]]) -> Callable[..., np.ndarray]:
    """A stand-in for training and ranking that records each fold's training and held-out ids."""

    def ranks(config: RunConfig, fit_part: Dataset, held_out: Dataset) -> np.ndarray:
        seen.append((list(fit_part.ids), set(held_out.ids)))
        return np.arange(1, len(held_out) + 1)

    return ranks


def test_cross_validation_never_shows_a_fold_to_its_own_training() -> None:
    train = load_competition(DEMO, "train", features=["pool5"])
    seen: list[tuple[list[str], set[str]]] = []
    result = cross_validate(RunConfig(), train, folds=4, seed=0, ranks=recording_ranks(seen))
    assert len(seen) == 4 and len(result.fold_ranks) == 4
    for fit_list, held_ids in seen:
        fit_ids = set(fit_list)
        assert not fit_ids & held_ids and len(fit_ids | held_ids) == len(train)
    assert set().union(*(held for _, held in seen)) == set(train.ids)
    assert result.score == pytest.approx(
        np.mean([reciprocal_ranks(r).mean() for r in result.fold_ranks])
    )


def test_a_learning_curve_point_trains_each_fold_on_a_seeded_sample_of_its_items() -> None:
    train = load_competition(DEMO, "train", features=["pool5"])
    seen: list[tuple[list[str], set[str]]] = []
    spy = recording_ranks(seen)
    cross_validate(RunConfig(), train, folds=4, seed=0, ranks=spy, train_fraction=0.25)
    first = list(seen)
    cross_validate(RunConfig(), train, folds=4, seed=0, ranks=spy, train_fraction=0.25)
    assert seen[4:] == first  # the same sample every time
    for fit_ids, held_ids in first:
        assert len(held_ids) in (len(train) // 4, len(train) // 4 + 1)  # the fold stays whole
        assert len(fit_ids) == round((len(train) - len(held_ids)) * 0.25)
        assert not set(fit_ids) & held_ids and len(set(fit_ids)) == len(fit_ids)
    with pytest.raises(ValueError, match="train_fraction"):
        cross_validate(RunConfig(), train, folds=4, ranks=spy, train_fraction=0.0)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_queries() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.random(50), rng.random(5000)
    low, high = bootstrap_interval(small, seed=1)
    assert low < small.mean() < high
    low_large, high_large = bootstrap_interval(large, seed=1)
    assert high_large - low_large < (high - low) / 5


def test_paired_test_finds_a_real_difference_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(400)
    better = paired_test(base + 0.05, base)
    assert better.p_value < 0.001 and better.difference == pytest.approx(0.05)
    assert better.low < 0.05 < better.high or better.low == pytest.approx(0.05)
    same = paired_test(base + rng.normal(0, 0.01, 400), base)
    assert same.p_value > 0.01
    with pytest.raises(ValueError, match="same queries"):
        paired_test([1.0], [1.0, 2.0])
