from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from retrieval.models.baselines import PLSBaseline, RidgeBaseline, tfidf_pls, tfidf_ridge
from retrieval.text import TfidfEncoder

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "descriptions_train"


def _texts() -> list[str]:
    if DEMO.is_dir():
        files = sorted(DEMO.glob("*.txt"), key=lambda p: int(p.stem))
        return [f.read_text(encoding="utf-8", errors="replace").strip() for f in files]
    animals = ["dog", "cat", "horse", "bird", "cow", "sheep", "goat", "duck", "fox", "owl"]
    colours = ["red", "brown", "white", "black", "grey"]
    return [f"A {c} {a} near a {p}." for a in animals for c in colours for p in ("field", "tree")]


@pytest.fixture(scope="module")
def data():
    texts = _texts()
    Y = np.random.default_rng(0).normal(size=(len(texts), 32)).astype(np.float32)
    return texts, Y


def _top10(pred: np.ndarray, Y: np.ndarray) -> float:
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    c = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    sim = p @ c.T
    ranks = (sim > np.diag(sim)[:, None]).sum(axis=1)
    return float((ranks < 10).mean())


@pytest.mark.parametrize("make", [lambda: tfidf_ridge(alpha=0.01), lambda: tfidf_pls(48)])
def test_training_captions_retrieve_their_image(data, make):
    texts, Y = data
    model = make().fit(texts, Y)
    pred = model.predict(texts)
    assert pred.dtype == np.float32 and pred.shape == Y.shape
    chance = 10 / len(Y)
    assert _top10(pred, Y) > max(0.3, 10 * chance)


def test_ridge_generalises_a_linear_map(data):
    texts, _ = data
    X = TfidfEncoder().fit(texts).transform(texts)
    W = np.random.default_rng(1).normal(size=(X.shape[1], 8)).astype(np.float32)
    Y = X @ W
    half = len(texts) // 2
    model = RidgeBaseline(alpha=1e-3).fit(X[:half], Y[:half])
    pred = model.predict(X[half:])
    baseline_error = np.mean((Y[half:] - Y[:half].mean(axis=0)) ** 2)
    assert np.mean((pred - Y[half:]) ** 2) < 0.8 * baseline_error
    sparse_pred = RidgeBaseline(alpha=1e-3).fit(sparse.csr_matrix(X[:half]), Y[:half])
    np.testing.assert_allclose(sparse_pred.predict(sparse.csr_matrix(X[half:])), pred, atol=1e-3)


def test_pls_caps_components_and_round_trips(tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    Y = X[:, :2] * 2
    model = PLSBaseline(n_components=50).fit(X, Y)
    assert model.n_components_ == 3
    np.testing.assert_allclose(model.predict(X), Y, atol=1e-3)
    path = model.save(tmp_path / "pls.pkl")
    np.testing.assert_array_equal(PLSBaseline.load(path).predict(X), model.predict(X))
    with pytest.raises(TypeError, match="not a RidgeBaseline"):
        RidgeBaseline.load(path)


def test_pipeline_pickles(data, tmp_path):
    texts, Y = data
    model = tfidf_ridge().fit(texts, Y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(texts[:3]), model.predict(texts[:3]))


def test_nan_and_shape_errors():
    X = np.ones((4, 2), dtype=np.float32)
    Y = np.ones((4, 2), dtype=np.float32)
    bad = X.copy()
    bad[0, 0] = np.nan
    for model in (RidgeBaseline(), PLSBaseline()):
        with pytest.raises(ValueError, match="NaN"):
            model.fit(bad, Y)
        with pytest.raises(ValueError, match="rows"):
            model.fit(X, Y[:3])
    with pytest.raises(ValueError, match="NaN"):
        RidgeBaseline().fit(sparse.csr_matrix(bad), Y)


def test_docstring_examples():
    import doctest

    import retrieval.models.baselines as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
