from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.base import clone

from retrieval.models._keras_files import load_keras
from retrieval.models.kinds import mapper_from_state
from retrieval.models.losses import ContrastiveLoss, RMSELoss, TripletLoss, make_loss
from retrieval.models.neural import NeuralMapper
from retrieval.text import TfidfEncoder

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "descriptions_train"


def _texts() -> list[str]:
    if DEMO.is_dir():
        files = sorted(DEMO.glob("*.txt"), key=lambda p: int(p.stem))
        return [f.read_text(encoding="utf-8", errors="replace").strip() for f in files]
    animals = ["dog", "cat", "horse", "bird", "cow", "sheep", "goat", "duck", "fox", "owl"]
    colours = ["red", "brown", "white", "black", "grey"]
    places = ["field", "house", "river", "tree"]
    return [f"A {c} {a} near a {p}." for a in animals for c in colours for p in places]


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, np.ndarray]:
    """Real captions as TF-IDF rows, and a random 16-d code per image."""
    texts = _texts()
    X = TfidfEncoder().fit(texts).transform(texts)
    Y = np.random.default_rng(0).normal(size=(len(texts), 16)).astype(np.float32)
    return X, Y


def _rank_of_own(similarity: np.ndarray) -> np.ndarray:
    own = np.diag(similarity)
    return (similarity > own[:, None]).sum(axis=1)  # 0 = ranked first


@pytest.mark.parametrize(
    "loss, options",
    [
        ("rmse", {}),
        ("triplet", {"hard_negatives": True}),
        ("triplet", {"hard_negatives": False}),
        ("contrastive", {}),
    ],
)
def test_each_loss_decreases_on_real_batch(pairs, loss, options):
    X, Y = pairs
    X, Y = X[:128], Y[:128]
    mapper = NeuralMapper(
        init="random",
        loss=loss,
        hidden=(64,),
        epochs=8,
        batch_size=32,
        learning_rate=0.01,
        weight_decay=0.0,
        **options,
    )
    losses = mapper.fit(X, Y).history_["loss"]
    assert len(losses) == 8
    assert losses[-1] < 0.8 * losses[0], losses


def test_losses_values_by_hand():
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    perfect = y.copy()
    swapped = y[::-1].copy()
    assert float(RMSELoss()(y, perfect)) < 1e-3
    np.testing.assert_allclose(float(RMSELoss()(y, swapped)), 1.0, rtol=1e-4)
    np.testing.assert_allclose(float(TripletLoss(margin=0.2)(y, perfect)), 0.0, atol=1e-6)
    # Swapped rows: positive cosine 0, negative cosine 1.
    np.testing.assert_allclose(float(TripletLoss(margin=0.2)(y, swapped)), 1.2, rtol=1e-5)
    np.testing.assert_allclose(
        float(TripletLoss(margin=0.2, negatives="random")(y, swapped)), 1.2, rtol=1e-5
    )
    t = 0.5
    expected = -np.log(np.exp(1 / t) / (np.exp(1 / t) + np.exp(0)))
    np.testing.assert_allclose(float(ContrastiveLoss(t)(y, perfect)), expected, rtol=1e-5)
    assert float(ContrastiveLoss(t)(y, swapped)) > float(ContrastiveLoss(t)(y, perfect))
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="negatives"):
        TripletLoss(negatives="semi")


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["rmse", "triplet", "contrastive"])
def test_training_captions_retrieve_their_image(pairs, loss):
    X, Y = pairs
    mapper = NeuralMapper(
        init="random",
        loss=loss,
        hidden=(256,),
        epochs=40,
        batch_size=64,
        learning_rate=1e-3,
        standardize=True,
        weight_decay=0.0,
    )
    mapper.fit(X, Y)
    top10 = float((_rank_of_own(mapper.similarity(X, Y)) < 10).mean())
    # Repeated captions ("A flower." five times) cap what is reachable.
    assert top10 > 0.5 and top10 > 20 * 10 / len(Y), (loss, top10)


def test_early_stopping_stops_on_unpredictable_codes(pairs):
    X, Y = pairs
    mapper = NeuralMapper(
        init="random",
        learning_rate=1e-3,
        loss="rmse",
        hidden=(32,),
        epochs=200,
        patience=2,
        validation_fraction=0.2,
        weight_decay=0.0,
    ).fit(X[:200], Y[:200])
    assert (
        len(mapper.history_["val_loss"]) < 200
    )  # random codes cannot be predicted for unseen captions


def test_a_sklearn_estimator_that_clones_and_validates(pairs):
    X, Y = pairs
    mapper = NeuralMapper(init="random", learning_rate=1e-3, loss="triplet", hidden=(8,), epochs=1)
    copy = clone(mapper).set_params(margin=0.5)
    assert copy.get_params()["margin"] == 0.5 and mapper.margin == 0.2
    with pytest.raises(ValueError, match="'loss' parameter"):
        NeuralMapper(loss="hinge").fit(X[:10], Y[:10])
    with pytest.raises(ValueError, match="'dropout' parameter"):
        NeuralMapper(dropout=1.5).fit(X[:10], Y[:10])


def test_state_round_trip_and_keras_file(tmp_path, pairs):
    X, Y = pairs
    mapper = NeuralMapper(
        init="random", learning_rate=1e-3, loss="triplet", hidden=(32,), epochs=2, margin=0.3
    ).fit(X[:100], Y[:100])
    meta, arrays = mapper.get_state()
    again = mapper_from_state(meta, arrays)
    assert isinstance(again, NeuralMapper) and again.get_params() == mapper.get_params()
    np.testing.assert_array_equal(again.query_keys(X[:50]), mapper.query_keys(X[:50]))
    assert again.history_ == mapper.history_
    mapper.save_keras(tmp_path / "net")
    model, params, _ = load_keras(tmp_path / "net")
    assert (
        isinstance(model.loss, TripletLoss) and model.loss.margin == 0.3 and params["margin"] == 0.3
    )
    np.testing.assert_allclose(model.predict(X[:5], verbose=0), mapper.query_keys(X[:5]), atol=1e-5)
    with pytest.raises(ValueError, match="fitted in this process"):
        again.save_keras(tmp_path / "again")


def test_nan_inputs_and_wrong_shapes_are_rejected(pairs):
    X, Y = pairs
    bad = X[:20].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NeuralMapper(epochs=1).fit(bad, Y[:20])
    Y2 = Y[:20].copy()
    Y2[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        NeuralMapper(epochs=1).fit(X[:20], Y2)
    mapper = NeuralMapper(loss="rmse", epochs=1).fit(X[:20], Y[:20])
    with pytest.raises(ValueError, match="NaN"):
        mapper.query_keys(bad)
    with pytest.raises(ValueError, match="columns"):
        mapper.query_keys(X[:, :5])
    with pytest.raises(ValueError, match="not fitted"):
        NeuralMapper().query_keys(X)


def test_zero_rows_from_unknown_words_still_map(pairs):
    X, Y = pairs
    mapper = NeuralMapper(
        init="random", learning_rate=1e-3, loss="rmse", hidden=(16,), epochs=1
    ).fit(X[:50], Y[:50])
    out = mapper.query_keys(np.zeros((2, X.shape[1]), dtype=np.float32))
    assert out.shape == (2, 16) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], out[1])


def test_seeded_fit_is_reproducible(pairs):
    X, Y = pairs
    a = NeuralMapper(
        init="random", learning_rate=1e-3, loss="contrastive", hidden=(16,), epochs=2, seed=5
    ).fit(X[:80], Y[:80])
    b = NeuralMapper(
        init="random", learning_rate=1e-3, loss="contrastive", hidden=(16,), epochs=2, seed=5
    ).fit(X[:80], Y[:80])
    np.testing.assert_allclose(a.query_keys(X[:10]), b.query_keys(X[:10]), atol=1e-6)


def test_numpy_export_matches_keras(pairs):
    X, Y = pairs
    mapper = NeuralMapper(
        init="random", loss="contrastive", hidden=(32, 16), dropout=0.3, input_dropout=0.2, epochs=1
    )
    mapper.fit(X[:60], Y[:60])
    np.testing.assert_allclose(
        mapper.query_keys(X[:20]), mapper.model_.predict(X[:20], verbose=0), rtol=1e-4, atol=1e-4
    )


def test_soft_contrastive_targets_follow_the_images_similarity():
    distinct = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    texts = np.array([[0.9, 0.1], [0.2, 0.8], [-0.7, -0.3]], dtype=np.float32)
    hard, soft = ContrastiveLoss(0.5), ContrastiveLoss(0.5, target_temperature=0.01)
    # distinct images: the soft targets are the identity, as the hard ones
    np.testing.assert_allclose(
        float(soft(distinct, texts)), float(hard(distinct, texts)), rtol=1e-5
    )
    # near-duplicate images 0 and 1, each text pointing at the other one: soft targets
    # forgive that much more than hard ones; the value matches a NumPy computation
    images = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]], dtype=np.float32)
    texts = images[[1, 0, 2]]
    soft = ContrastiveLoss(0.1, target_temperature=0.05)
    assert float(soft(images, texts)) < float(ContrastiveLoss(0.1)(images, texts)) - 0.02

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    def log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
        a = a - a.max(axis=axis, keepdims=True)
        return a - np.log(np.exp(a).sum(axis=axis, keepdims=True))

    logits = unit(texts) @ unit(images).T / 0.1
    targets = np.exp(log_softmax(unit(images) @ unit(images).T / 0.05, axis=1))
    rows = -(targets * log_softmax(logits, 1)).sum(1) - (targets * log_softmax(logits, 0)).sum(0)
    np.testing.assert_allclose(float(soft(images, texts)), rows.mean() / 2, rtol=1e-4)
    with pytest.raises(ValueError, match="target_temperature"):
        ContrastiveLoss(0.5, target_temperature=-1.0)


@pytest.mark.parametrize(
    "loss",
    [
        RMSELoss(),
        TripletLoss(margin=0.5, negatives="random"),
        ContrastiveLoss(temperature=0.1, target_temperature=0.05),
    ],
)
def test_losses_are_registered_and_serializable(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert keras.saving.get_registered_object(f"retrieval>{type(loss).__name__}") is type(loss)


def test_ridge_start_is_the_ridge_solution_and_training_refines_it(pairs):
    from retrieval.models.mappers import RidgeMapper

    X, Y = pairs
    ridge = RidgeMapper(alpha=0.5).fit(X[:300], Y[:300])
    start = NeuralMapper(init="ridge", ridge_alpha=0.5, epochs=0).fit(X[:300], Y[:300])
    np.testing.assert_allclose(start.query_keys(X[300:]), ridge.query_keys(X[300:]), atol=1e-4)
    tuned = NeuralMapper(init="ridge", ridge_alpha=0.5, epochs=3, learning_rate=1e-3).fit(
        X[:300], Y[:300]
    )
    assert not np.allclose(tuned.query_keys(X[300:]), start.query_keys(X[300:]), atol=1e-4)
    assert len(tuned.history_["loss"]) == 3 and start.history_ == {}
    with pytest.raises(ValueError, match="linear network"):
        NeuralMapper(init="ridge", hidden=(8,)).fit(X[:20], Y[:20])


def test_cca_start_is_the_cca_peer_and_training_refines_it() -> None:
    from retrieval.models.mappers import CCAMapper

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40)).astype("float32")
    Y = (X[:, :20] @ rng.normal(size=(20, 30)) + rng.normal(size=(300, 30))).astype("float32")
    untrained = NeuralMapper(init="cca", cca_components=16, epochs=0).fit(X, Y)
    peer = CCAMapper(n_components=16).fit(X, Y)
    np.testing.assert_allclose(
        untrained.similarity(X[:20], Y), peer.similarity(X[:20], Y), atol=1e-5
    )
    trained = NeuralMapper(init="cca", cca_components=16, epochs=5, learning_rate=1e-3).fit(X, Y)
    assert trained.gallery_keys(Y[:3]).shape == (3, 16)
    assert not np.allclose(trained.query_keys(X[:5]), untrained.query_keys(X[:5]))
    loaded = mapper_from_state(*trained.get_state())
    np.testing.assert_allclose(loaded.similarity(X[:5], Y), trained.similarity(X[:5], Y), atol=1e-6)
    with pytest.raises(ValueError, match="init='cca' needs a linear network"):
        NeuralMapper(init="cca", hidden=(8,)).fit(X, Y)
    start = NeuralMapper(init="cca", cca_components=16, epochs=5).without_refinement().fit(X, Y)
    np.testing.assert_allclose(start.similarity(X[:20], Y), peer.similarity(X[:20], Y), atol=1e-5)
    randomly_started = NeuralMapper(init="random", epochs=5)
    assert randomly_started.without_refinement() is randomly_started


def test_two_towers_train_the_image_projection_too_and_rank_better_on_their_pairs() -> None:
    from retrieval.metrics import ranks_from_scores
    from retrieval.models.losses import PairedLoss

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 40)).astype("float32")
    Y = (X[:, :20] @ rng.normal(size=(20, 30)) + 6 * rng.normal(size=(400, 30))).astype("float32")
    settings = {"init": "cca", "cca_components": 16, "batch_size": 64, "learning_rate": 1e-3}
    start = NeuralMapper(**settings, epochs=0, train_images=True).fit(X, Y)
    text_only = NeuralMapper(**settings, epochs=0).fit(X, Y)
    np.testing.assert_allclose(start.similarity(X, Y), text_only.similarity(X, Y), atol=1e-6)
    joint = NeuralMapper(**settings, epochs=15, train_images=True).fit(X, Y)
    moved = np.abs(joint.image_projection_[1] - start.image_projection_[1]).max()
    assert moved > 1e-3  # the image side was trained, not only the text side
    assert joint.history_["loss"][-1] < joint.history_["loss"][0]

    def mean_rank(mapper: NeuralMapper) -> float:
        return float(ranks_from_scores(mapper.similarity(X, Y), np.arange(len(X))).mean())

    assert mean_rank(joint) < mean_rank(start)
    loaded = mapper_from_state(*joint.get_state())
    np.testing.assert_allclose(loaded.similarity(X[:5], Y), joint.similarity(X[:5], Y), atol=1e-6)
    paired = PairedLoss(ContrastiveLoss(temperature=0.1))
    assert isinstance(keras.losses.deserialize(keras.losses.serialize(paired)), PairedLoss)
    for wrong in ({"init": "ridge"}, {"init": "cca", "loss": "rmse"}):
        with pytest.raises(ValueError, match="train_images=True needs init='cca'"):
            NeuralMapper(**wrong, train_images=True).fit(X, Y)
