from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.data import Tag, load_competition, train_val_split
from retrieval.models.tags import TagModel, tag_scores
from retrieval.text import TfidfEncoder

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture(scope="module")
def split():
    if not (DEMO / "descriptions_train").is_dir():
        pytest.skip("demo data not present")
    ds = load_competition(DEMO, "train", features=None)
    return train_val_split(ds, val_size=0.25, seed=0)


def test_tags_from_held_out_text_beat_the_prior(split):
    train, val = split
    enc = TfidfEncoder().fit(train.texts())
    pred = TagModel(C=10).fit(enc.transform(train.texts()), train.tags)
    truth = pred.binarize(val.tags)
    proba = pred.predict_proba(enc.transform(val.texts()))
    assert proba.shape == truth.shape and proba.dtype == np.float32
    # Log-likelihood of the held-out tags, against predicting each tag's training frequency.
    eps = 1e-6

    def loglik(p):
        p = np.clip(p, eps, 1 - eps)
        return float(np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))

    prior = np.broadcast_to(pred.prior_, truth.shape)
    assert loglik(proba) > loglik(prior) + 0.005


def test_tag_scores_rank_the_true_image_high(split):
    train, val = split
    enc = TfidfEncoder().fit(train.texts())
    model = TagModel(C=10).fit(enc.transform(train.texts()), train.tags)
    scores = tag_scores(model.predict_proba(enc.transform(val.texts())), model.binarize(val.tags))
    own = np.diag(scores)
    mean_rank = float((scores > own[:, None]).sum(axis=1).mean())
    assert mean_rank < 0.35 * len(val)  # chance: half the gallery


def test_tag_scores_by_hand():
    proba = np.array([[0.9, 0.1, 0.0]], dtype=np.float32)
    gallery = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
    s = tag_scores(proba, gallery)
    assert s.shape == (1, 3) and s[0, 0] > s[0, 1] > s[0, 2] == 0
    with pytest.raises(ValueError, match="tag columns"):
        tag_scores(proba, gallery[:, :2])


def test_rare_and_universal_tags_get_constant_probability(tmp_path):
    X = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)
    tags = [
        [Tag("animal", "dog"), Tag("x", "all")],
        [Tag("animal", "dog"), Tag("x", "all")],
        [Tag("x", "all"), "rare:one"],
        [Tag("x", "all")],
    ]
    pred = TagModel(C=10).fit(X, tags)
    assert pred.classes_ == ["animal:dog", "rare:one", "x:all"]
    proba = pred.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 0.25)
    np.testing.assert_allclose(proba[:, 2], 1.0)
    assert pred.predict(X[:1]) == [["animal:dog", "x:all"]]
    meta, arrays = pred.get_state()
    again = TagModel.from_state(meta, arrays)
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    assert again.classes_ == pred.classes_
    with pytest.raises(ValueError, match="no image has a tag"):
        TagModel().fit(X, [[], [], [], []])
    assert pred.binarize([["unknown:tag"]]).sum() == 0


def test_tag_indicators_are_standardised_weighted_and_ignore_unknown_tags() -> None:
    from retrieval.models.tags import TagIndicators

    tags = [["animal:dog"], ["animal:dog", "food:apple"], [], ["food:apple"]]
    side = TagIndicators(weight=3.0).fit(tags)
    rows = side.transform(tags)
    assert side.classes_ == ["animal:dog", "food:apple"]
    np.testing.assert_allclose(rows.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(rows.std(axis=0), 3.0 * 0.5 / (0.5 + 1e-3), rtol=1e-5)
    # an unknown tag counts as no tag; no tag lists at all give zeros (the training mean)
    np.testing.assert_array_equal(side.transform([["vehicle:car"]]), side.transform([[]]))
    np.testing.assert_array_equal(side.transform(None, n=2), np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="number of images"):
        side.transform(None)
    with pytest.raises(ValueError, match="no image has a tag"):
        TagIndicators().fit([[], []])


def test_tag_indicators_round_trip_through_their_state() -> None:
    from retrieval.models.tags import TagIndicators

    tags = [["a"], ["a", "b"], ["c"], []]
    side = TagIndicators(weight=2.0).fit(tags)
    meta, arrays = side.get_state()
    again = TagIndicators.from_state(meta, arrays)
    assert again.weight == 2.0 and again.classes_ == side.classes_
    np.testing.assert_array_equal(again.transform(tags), side.transform(tags))
    with pytest.raises(ValueError, match="do not match"):
        TagIndicators.from_state({**meta, "classes": ["a"]}, arrays)


def test_tag_ridge_predicts_the_tags_of_similar_pictures_and_round_trips(tmp_path) -> None:
    from retrieval.models.tags import TagRidge
    from retrieval.store import load, save

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 4
    labels = rng.integers(0, 3, size=120)
    X = (centres[labels] + rng.normal(size=(120, 8))).astype(np.float32)
    names = ["animal:cat", "animal:dog", "food:fruit"]
    model = TagRidge(alpha=1.0).fit(X[:100], [[names[i]] for i in labels[:100]])
    predicted = model.predict_tags(X[100:])
    assert [p[0] for p in predicted] == [names[i] for i in labels[100:]]
    meta, arrays = model.get_state()
    stored = load(save(tmp_path / "t", "tags", {"model": meta}, arrays), "tags")
    again = TagRidge.from_state(stored.meta["model"], stored.arrays)
    np.testing.assert_array_equal(again.predict_proba(X[100:]), model.predict_proba(X[100:]))
