from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from retrieval.models.regressor import (
    ContrastiveLoss,
    RMSELoss,
    TextToCodeRegressor,
    TripletLoss,
    make_loss,
)
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


def _rank_of_own(pred: np.ndarray, codes: np.ndarray) -> np.ndarray:
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    c = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    sim = p @ c.T
    own = np.diag(sim)
    return (sim > own[:, None]).sum(axis=1)  # 0 = ranked first


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
    reg = TextToCodeRegressor(
        loss=loss, hidden=[64], epochs=8, batch_size=32, validation_fraction=0, **options
    ).fit(X, Y)
    losses = reg.history_["loss"]
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
    reg = TextToCodeRegressor(
        loss=loss, hidden=[256], dropout=0.0, epochs=40, batch_size=64, validation_fraction=0
    ).fit(X, Y)
    ranks = _rank_of_own(reg.predict(X), Y)
    top10 = float((ranks < 10).mean())
    chance = 10 / len(Y)
    # Repeated captions ("A flower." five times) cap what is reachable.
    assert top10 > 0.5 and top10 > 20 * chance, (loss, top10)


def test_early_stopping_restores_best(pairs):
    X, Y = pairs
    reg = TextToCodeRegressor(
        loss="rmse", hidden=[32], epochs=200, patience=2, validation_fraction=0.2
    ).fit(X[:200], Y[:200])
    val = reg.history_["val_loss"]
    assert len(val) < 200  # random codes cannot be predicted for unseen captions: it stops
    assert reg.score(*_val_part(X[:200], Y[:200], reg)) == pytest.approx(min(val), rel=1e-3)


def _val_part(X, Y, reg):
    order = np.random.default_rng(reg.seed).permutation(len(X))
    idx = order[: int(round(len(X) * reg.validation_fraction))]
    return X[idx], Y[idx]


def test_save_load_predicts_identically(tmp_path, pairs):
    X, Y = pairs
    reg = TextToCodeRegressor(loss="triplet", hidden=[32], epochs=2, margin=0.3).fit(
        X[:100], Y[:100]
    )
    path = reg.save(tmp_path / "reg.keras")
    again = TextToCodeRegressor.load(path)
    np.testing.assert_array_equal(again.predict(X[:50]), reg.predict(X[:50]))
    assert isinstance(again.model_.loss, TripletLoss) and again.model_.loss.margin == 0.3
    assert again.history_ == reg.history_ and again.get_params() == reg.get_params()
    # The file is also a plain Keras model file.
    plain = keras.saving.load_model(path)
    np.testing.assert_allclose(plain.predict(X[:5], verbose=0), reg.predict(X[:5]), atol=1e-6)
    with pytest.raises(ValueError, match=".keras"):
        reg.save(tmp_path / "reg.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.keras"]


def test_load_rejects_other_versions(tmp_path, pairs):
    X, Y = pairs
    reg = TextToCodeRegressor(loss="rmse", hidden=[], epochs=1).fit(X[:40], Y[:40])
    path = reg.save(tmp_path / "reg.keras")
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "retrieval_regressor.json":
                data = data.replace(b'"format_version": 1', b'"format_version": 99')
            dst.writestr(item, data)
    with pytest.raises(ValueError, match="format version 99"):
        TextToCodeRegressor.load(bad)
    with pytest.raises(FileNotFoundError):
        TextToCodeRegressor.load(tmp_path / "none.keras")


def test_nan_inputs_are_rejected(pairs):
    X, Y = pairs
    X = X[:20].copy()
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values in 1 rows"):
        TextToCodeRegressor(epochs=1).fit(X, Y[:20])
    Y2 = Y[:20].copy()
    Y2[0, 0] = np.inf
    with pytest.raises(ValueError, match="Y holds NaN"):
        TextToCodeRegressor(epochs=1).fit(pairs[0][:20], Y2)
    reg = TextToCodeRegressor(loss="rmse", hidden=[], epochs=1).fit(pairs[0][:20], Y[:20])
    with pytest.raises(ValueError, match="X holds NaN"):
        reg.predict(X)
    with pytest.raises(ValueError, match="columns"):
        reg.predict(X[:, :5])
    with pytest.raises(RuntimeError, match="not fitted"):
        TextToCodeRegressor().predict(X)


def test_zero_rows_from_unknown_words_still_predict(pairs):
    X, Y = pairs
    reg = TextToCodeRegressor(loss="rmse", hidden=[16], epochs=1).fit(X[:50], Y[:50])
    out = reg.predict(np.zeros((2, X.shape[1]), dtype=np.float32))
    assert out.shape == (2, 16) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[0], out[1])


def test_seeded_fit_is_reproducible(pairs):
    X, Y = pairs
    a = TextToCodeRegressor(loss="contrastive", hidden=[16], epochs=2, seed=5).fit(X[:80], Y[:80])
    b = TextToCodeRegressor(loss="contrastive", hidden=[16], epochs=2, seed=5).fit(X[:80], Y[:80])
    np.testing.assert_allclose(a.predict(X[:10]), b.predict(X[:10]), atol=1e-6)


def test_numpy_export_matches_keras(pairs):
    from retrieval.models.dense_stack import DenseStack

    X, Y = pairs
    reg = TextToCodeRegressor(loss="contrastive", hidden=[32, 16], epochs=1).fit(X[:60], Y[:60])
    np.testing.assert_allclose(
        DenseStack.from_keras(reg.model_)(X[:20]), reg.predict(X[:20]), rtol=1e-4, atol=1e-4
    )


def test_docstring_examples():
    import doctest

    import retrieval.models.regressor as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "loss",
    [RMSELoss(), TripletLoss(margin=0.5, negatives="random"), ContrastiveLoss(temperature=0.1)],
)
def test_losses_are_registered_and_serializable(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    name = f"retrieval>{type(loss).__name__}"
    assert keras.saving.get_registered_object(name) is type(loss)
