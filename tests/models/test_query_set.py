from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.config import ConfigError, RunConfig
from retrieval.core import Searcher, Trainer, load_bundle, save_bundle
from retrieval.evaluation import evaluate
from retrieval.metrics import ranks_from_scores
from retrieval.models.query_set import dual_softmax
from tests.models.demo_runs import RIDGE, SMALL_CCA, demo_split, small_run


def test_a_hub_that_every_query_likes_is_shared_out() -> None:
    # picture 0 is every query's favourite; each query's own picture is its second best
    scores = np.array([[0.9, 0.8, 0.1], [0.9, 0.1, 0.8], [0.95, 0.2, 0.3]])
    assert scores.argmax(axis=1).tolist() == [0, 0, 0]
    normalised = dual_softmax(scores, 0.5)
    assert normalised.argmax(axis=1).tolist() == [1, 2, 0]
    assert normalised.shape == scores.shape and normalised.dtype == scores.dtype


def test_the_temperature_is_in_standard_deviations_of_the_scores() -> None:
    scores = np.random.default_rng(0).normal(size=(30, 20))
    for scale, shift in ((10.0, 0.0), (0.01, 3.0)):
        np.testing.assert_array_equal(
            np.argsort(-dual_softmax(scores * scale + shift, 1.0), axis=1),
            np.argsort(-dual_softmax(scores, 1.0), axis=1),
        )


def test_off_one_query_or_flat_scores_leave_the_order_alone() -> None:
    scores = np.random.default_rng(1).normal(size=(5, 7)).astype(np.float32)
    np.testing.assert_array_equal(dual_softmax(scores, 0.0), scores)
    np.testing.assert_array_equal(dual_softmax(scores[:1], 1.0), scores[:1])
    np.testing.assert_array_equal(dual_softmax(np.ones((3, 3)), 1.0), np.ones((3, 3)))
    with pytest.raises(ValueError, match="temperature must be 0 or more"):
        dual_softmax(scores, -1.0)


def test_negative_scores_keep_a_larger_share_better() -> None:
    # standardised fusions are negative for most pictures: the share must still count upward
    scores = np.array([[-1.0, -1.1], [-1.0, -3.0]])
    normalised = dual_softmax(scores, 1.0)
    assert normalised[0].argmax() == 1  # query 0 likes picture 1 far more than query 1 does


@pytest.mark.parametrize("table", [{"temperatures": []}, {"temperatures": [-0.5]}])
def test_bad_temperatures_are_refused_by_name(table: dict) -> None:
    with pytest.raises(ConfigError, match="query_set.temperatures"):
        RunConfig.from_dict({"query_set": table})


@pytest.mark.slow
def test_the_trainer_chooses_a_temperature_that_set_rankings_use(tmp_path: Path) -> None:
    fit_part, held_out = demo_split()
    # one candidate: kept
    config = small_run(SMALL_CCA, query_set={"enabled": True, "temperatures": [0.5]})
    model = Trainer(config).fit(fit_part)
    assert model.query_set == 0.5
    searcher = Searcher(model, model.gallery_from_dataset(held_out))
    texts = held_out.texts()
    plain = searcher.scores(texts)
    as_a_set = searcher.scores(texts, as_a_set=True)
    np.testing.assert_allclose(as_a_set, dual_softmax(plain, 0.5), rtol=1e-6)
    assert not np.allclose(as_a_set, plain)
    # a single search is not changed; evaluation and rankings of a set are
    assert searcher.search(texts[0], k=1)[0].index == int(plain[0].argmax())
    np.testing.assert_array_equal(
        searcher.rank(texts, 20), np.argsort(-as_a_set, axis=1, kind="stable")[:, :20]
    )
    np.testing.assert_array_equal(
        evaluate(model, held_out).ranks, ranks_from_scores(as_a_set, held_out.relevant)
    )
    save_bundle(tmp_path / "bundle", model, searcher.gallery)
    loaded, _ = load_bundle(tmp_path / "bundle")
    assert loaded.query_set == 0.5


@pytest.mark.slow
def test_off_wins_when_the_normalisation_does_not_help(monkeypatch) -> None:
    from retrieval.core import trainer as trainer_module

    fit_part, _ = demo_split()
    # a normalisation that only hurts on the held-out items: it pushes every true match down
    monkeypatch.setattr(
        trainer_module,
        "dual_softmax",
        lambda scores, t: scores - t * 10 * np.eye(len(scores)) if t else scores,
    )
    config = small_run(RIDGE, query_set={"enabled": True})
    assert Trainer(config).fit(fit_part).query_set == 0.0
