from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrieval.metrics import (
    METRIC_NAMES,
    map_at_k,
    map_at_k_linear,
    mean_reciprocal_rank,
    median_rank,
    ndcg_at_k,
    precision_at_k,
    ranks_from_ranking,
    ranks_from_scores,
    recall_at_k,
    retrieval_report,
    tie_order,
    top_k,
)

rank_lists = st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=50)


def test_hand_computed_example() -> None:
    ranks = np.array([1, 2, 4, 20, 21])
    assert map_at_k(ranks, 20) == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 20 + 0) / 5)
    assert map_at_k_linear(ranks, 20) == pytest.approx(
        (20 / 20 + 19 / 20 + 17 / 20 + 1 / 20 + 0) / 5
    )
    assert recall_at_k(ranks, 1) == pytest.approx(0.2)
    assert recall_at_k(ranks, 20) == pytest.approx(0.8)
    assert precision_at_k(ranks, 5) == pytest.approx(0.6 / 5)
    assert ndcg_at_k(ranks, 20) == pytest.approx(
        (1 + 1 / np.log2(3) + 1 / np.log2(5) + 1 / np.log2(21)) / 5
    )
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 20 + 1 / 21) / 5)
    assert median_rank(ranks) == 4.0


def test_ranks_and_top_k_share_one_tie_rule() -> None:
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.5, 0.5, 0.5]])
    order = tie_order(3)  # equal scores: position j comes order[j]-th
    ranks = ranks_from_scores(scores, [0, 0, 1])
    assert ranks[:2].tolist() == [1, 3] and ranks[2] == order[1] + 1
    with pytest.raises(ValueError, match="outside"):
        ranks_from_scores(scores, [0, 0, 3])


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=10_000))
def test_the_rank_of_an_item_is_its_place_in_top_k(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(6, n)).astype(float)  # many ties
    full = top_k(scores, n)
    for relevant in range(n):
        ranks = ranks_from_scores(scores, np.full(6, relevant))
        expected = [int(np.flatnonzero(row == relevant)[0]) + 1 for row in full]
        assert ranks.tolist() == expected
    k = max(1, n // 3)
    np.testing.assert_array_equal(top_k(scores, k), full[:, :k])


def test_a_constant_scorer_ranks_like_chance_on_paired_data() -> None:
    n = 2000
    ranks = ranks_from_scores(np.zeros((n, n)), np.arange(n))
    assert (
        abs(map_at_k(ranks, 20) - map_at_k(np.random.default_rng(0).permutation(n)[:n] + 1, 20))
        < 0.01
    )
    assert ranks[:20].mean() > 100  # the first gallery positions are not favoured


def test_ranks_from_ranking_of_ids() -> None:
    ranking = np.array([["3", "1", "2"], ["2", "3", "1"]])
    assert ranks_from_ranking(ranking, ["1", "9"]).tolist() == [2, 4]
    assert ranks_from_ranking(ranking, ["1", "9"], missing_rank=1000).tolist() == [2, 1000]


def test_report_names_both_map_forms() -> None:
    report = retrieval_report([1, 3])
    assert list(report) == list(METRIC_NAMES)
    assert report["MAP@20 (1/r, Kaggle)"] == pytest.approx((1 + 1 / 3) / 2)
    assert report["MAP@20 (linear, (21-r)/20)"] == pytest.approx((1 + 18 / 20) / 2)
    assert report["R@1"] == 0.5


@pytest.mark.parametrize("bad", [[], [0, 1], [1.5], [[1, 2]]])
def test_bad_ranks_are_refused(bad: list) -> None:
    with pytest.raises(ValueError, match="ranks"):
        map_at_k(np.array(bad), 20)
    with pytest.raises(ValueError, match="k must be"):
        map_at_k([1], 0)


@given(rank_lists, st.integers(min_value=1, max_value=50))
def test_bounds_and_order_of_metrics(ranks: list[int], k: int) -> None:
    for metric in (map_at_k, map_at_k_linear, ndcg_at_k, recall_at_k):
        assert 0.0 <= metric(ranks, k) <= 1.0
    # 1/r <= (k+1-r)/k for 1 <= r <= k, so the Kaggle form never exceeds the linear one
    assert map_at_k(ranks, k) <= map_at_k_linear(ranks, k) + 1e-12
    assert map_at_k(ranks, k) <= ndcg_at_k(ranks, k) + 1e-12
    assert mean_reciprocal_rank(ranks) >= map_at_k(ranks, k) - 1e-12


@given(rank_lists, st.integers(min_value=1, max_value=50))
def test_improving_a_rank_never_lowers_a_metric(ranks: list[int], k: int) -> None:
    better = [max(1, r - 1) for r in ranks]
    for metric in (map_at_k, map_at_k_linear, ndcg_at_k, recall_at_k):
        assert metric(better, k) >= metric(ranks, k)


@given(st.integers(min_value=2, max_value=30), st.integers(min_value=0, max_value=10_000))
def test_ranks_from_scores_matches_sorting(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random((5, n))
    relevant = rng.integers(0, n, 5)
    order = np.argsort(-scores, axis=1)  # continuous scores: no ties
    expected = [int(np.flatnonzero(order[i] == relevant[i])[0]) + 1 for i in range(5)]
    assert ranks_from_scores(scores, relevant).tolist() == expected


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=30))
def test_all_within_k_means_full_recall_and_perfect_first_rank_means_one(ranks: list[int]) -> None:
    assert recall_at_k(ranks, 20) == 1.0
    assert map_at_k([1] * len(ranks), 20) == 1.0 == map_at_k_linear([1] * len(ranks), 20)
