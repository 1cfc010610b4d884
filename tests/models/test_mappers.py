from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone

from retrieval.models.kinds import MAPPERS, make_mapper, mapper_from_state
from retrieval.models.mappers import (
    CCAMapper,
    KernelRidgeMapper,
    PLSMapper,
    ReverseRidgeMapper,
    RidgeMapper,
    unit_rows,
)
from retrieval.text import TfidfEncoder

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "descriptions_train"
CLASSICAL = [
    RidgeMapper(alpha=0.01),
    ReverseRidgeMapper(alpha=0.01),
    KernelRidgeMapper(alpha=0.01, gamma=1.0),
    PLSMapper(n_components=48),
    CCAMapper(reg=0.01, n_components=32),
]


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
    X = TfidfEncoder().fit(texts).transform(texts)
    Y = np.random.default_rng(0).normal(size=(len(texts), 32)).astype(np.float32)
    return X, Y


def _top10(similarity: np.ndarray) -> float:
    ranks = (similarity > np.diag(similarity)[:, None]).sum(axis=1)
    return float((ranks < 10).mean())


@pytest.mark.parametrize("mapper", CLASSICAL, ids=lambda m: m.kind)
def test_training_captions_retrieve_their_image(data, mapper):
    X, Y = data
    fitted = clone(mapper).fit(X, Y)
    similarity = fitted.similarity(X, Y)
    assert similarity.shape == (len(Y), len(Y))
    assert _top10(similarity) > max(0.3, 10 * 10 / len(Y))


@pytest.mark.parametrize("mapper", CLASSICAL, ids=lambda m: m.kind)
def test_state_round_trip_gives_the_same_similarities(data, mapper):
    X, Y = data
    fitted = clone(mapper).fit(X[:200], Y[:200])
    meta, arrays = fitted.get_state()
    again = mapper_from_state(meta, arrays)
    assert type(again) is type(fitted) and again.get_params() == fitted.get_params()
    np.testing.assert_array_equal(
        again.similarity(X[200:260], Y[200:260]), fitted.similarity(X[200:260], Y[200:260])
    )


@pytest.mark.parametrize("mapper", CLASSICAL, ids=lambda m: m.kind)
def test_keys_are_what_the_similarity_multiplies(data, mapper):
    X, Y = data
    fitted = clone(mapper).fit(X[:200], Y[:200])
    product = fitted.unit_query_keys(X[:30]) @ fitted.unit_gallery_keys(Y[:40]).T
    np.testing.assert_allclose(product, fitted.similarity(X[:30], Y[:40]), rtol=1e-5, atol=1e-6)
    assert np.abs(product).max() <= 1.0 + 1e-5  # cosines


def test_reverse_ridge_keys_equal_the_cosine_with_predicted_text(data):
    X, Y = data
    mapper = ReverseRidgeMapper(alpha=1.0).fit(X, Y)
    predicted = Y[:20] @ mapper.coef_ + mapper.intercept_
    expected = unit_rows(X[:15]) @ unit_rows(predicted).T
    np.testing.assert_allclose(mapper.similarity(X[:15], Y[:20]), expected, rtol=1e-4, atol=1e-5)


def test_ridge_generalises_a_linear_map_and_takes_sparse_input(data):
    X, _ = data
    W = np.random.default_rng(1).normal(size=(X.shape[1], 8)).astype(np.float32)
    Y = X @ W
    half = len(X) // 2
    model = RidgeMapper(alpha=1e-3).fit(X[:half], Y[:half])
    pred = model.query_keys(X[half:])
    baseline_error = np.mean((Y[half:] - Y[:half].mean(axis=0)) ** 2)
    assert np.mean((pred - Y[half:]) ** 2) < 0.8 * baseline_error
    from_sparse = RidgeMapper(alpha=1e-3).fit(sparse.csr_matrix(X[:half]), Y[:half])
    np.testing.assert_allclose(from_sparse.query_keys(sparse.csr_matrix(X[half:])), pred, atol=1e-3)


def test_pls_caps_components_and_matches_scikit_learn():
    from sklearn.cross_decomposition import PLSRegression

    X = np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32)
    Y = X[:, :3] * 2 + 1
    model = PLSMapper(n_components=50).fit(X, Y)
    assert model.n_components_ == 3
    reference = PLSRegression(n_components=3, scale=False).fit(X, Y)
    np.testing.assert_allclose(model.query_keys(X), reference.predict(X), atol=1e-4)


def test_cca_finds_the_shared_direction():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(400, 1))
    X = np.hstack([shared + 0.1 * rng.normal(size=(400, 1)), rng.normal(size=(400, 4))])
    Y = np.hstack([rng.normal(size=(400, 3)), -shared + 0.1 * rng.normal(size=(400, 1))])
    cca = CCAMapper(reg=1e-3, n_components=2).fit(X, Y)
    assert cca.correlations_[0] > 0.95 > cca.correlations_[1] + 0.5


def _cca_by_whitened_svd(X: np.ndarray, Y: np.ndarray, reg: float, k: int):
    """Textbook regularised CCA: whiten each centred side by its shrunk covariance (SVD),
    then take the SVD of the whitened cross-covariance."""

    def whitener(centred: np.ndarray) -> np.ndarray:
        _, singular, right = np.linalg.svd(centred, full_matrices=False)
        power = singular**2
        return right.T / np.sqrt(power + reg * power.mean())

    xc, yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    wx, wy = whitener(xc), whitener(yc)
    left, correlations, right = np.linalg.svd((xc @ wx).T @ (yc @ wy), full_matrices=False)
    weight = np.sqrt(correlations[:k])
    similarity = (xc @ wx @ left[:, :k] * weight) @ (yc @ wy @ right.T[:, :k] * weight).T
    return correlations[:k], similarity


@pytest.mark.parametrize(
    ("n", "d", "p", "sparse_text"),
    [(200, 500, 50, True), (300, 40, 60, False), (80, 30, 120, False), (150, 400, 300, True)],
)
def test_cca_equals_the_whitened_svd_for_wide_and_narrow_sides(n, d, p, sparse_text):
    """The mapper never decomposes the text side, yet gives the textbook answer whether the
    text side is wider than the rows (sparse TF-IDF) or narrower, and the image side too."""
    rng = np.random.default_rng(n)
    X = (
        sparse.random(n, d, density=0.05, random_state=1, format="csr")
        if sparse_text
        else sparse.csr_matrix(rng.normal(size=(n, d)))
    )
    dense = X.toarray()
    Y = rng.normal(size=(n, p)) + 3 * np.hstack([dense] * (p // d + 1))[:, :p]
    for reg in (0.3, 1.0):
        correlations, expected = _cca_by_whitened_svd(dense, Y, reg, 20)
        cca = CCAMapper(reg=reg, n_components=20).fit(X if sparse_text else dense, Y)
        np.testing.assert_allclose(cca.correlations_, correlations, atol=1e-6)
        actual = cca.query_keys(X) @ cca.gallery_keys(Y).T
        np.testing.assert_allclose(actual, expected, atol=2e-5 * np.abs(expected).max())


def test_parameters_are_validated_and_inputs_checked():
    X = np.ones((4, 2), dtype=np.float32)
    Y = np.ones((4, 2), dtype=np.float32)
    bad = X.copy()
    bad[0, 0] = np.nan
    for mapper in CLASSICAL:
        with pytest.raises(ValueError, match="NaN"):
            clone(mapper).fit(bad, Y)
        with pytest.raises(ValueError, match="rows"):
            clone(mapper).fit(X, Y[:3])
    with pytest.raises(ValueError, match="'alpha' parameter"):
        RidgeMapper(alpha=-1).fit(X, Y)
    with pytest.raises(ValueError, match="'n_components' parameter"):
        CCAMapper(n_components=0).fit(X, Y)
    with pytest.raises(ValueError, match="unknown mapper"):
        make_mapper("lasso")


def test_every_kind_is_made_from_its_config_params():
    from retrieval.config import MAPPER_PARAMS

    assert set(MAPPER_PARAMS) == set(MAPPERS)
    for kind, params in MAPPER_PARAMS.items():
        import dataclasses

        mapper = make_mapper(kind, dataclasses.asdict(params()), seed=3)
        assert mapper.kind == kind
        for name, value in dataclasses.asdict(params()).items():
            assert mapper.get_params()[name] == value


def test_each_registered_kind_names_its_own_estimator_and_parameters():
    """The one list of kinds names estimators by import path: each must be the class of that
    kind, built from the registered parameters (a wrong path fails here, not in a user's run)."""
    from retrieval.mapper_kinds import MAPPER_KINDS
    from retrieval.models.kinds import mapper_class

    for kind, entry in MAPPER_KINDS.items():
        cls = mapper_class(kind)
        assert cls.kind == kind and cls.parameters[0] is entry.params


def test_a_kind_added_to_the_list_is_built_and_loaded_without_other_edits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new mapper kind is its module plus its entry in ``retrieval.mapper_kinds``: config
    checking, building and loading all read that list."""
    import dataclasses

    from retrieval import mapper_kinds
    from retrieval.config import RunConfig
    from retrieval.models import kinds
    from retrieval.models.mappers import RidgeMapper

    @dataclasses.dataclass
    class ShrunkParams:
        alpha: float = 5.0

    class ShrunkRidge(RidgeMapper):
        kind = "shrunk_ridge"
        parameters = (ShrunkParams,)

    module = type(sys)("shrunk_mapper_module")
    module.ShrunkRidge = ShrunkRidge
    monkeypatch.setitem(sys.modules, "shrunk_mapper_module", module)
    entry = mapper_kinds.MapperKind(ShrunkParams, "shrunk_mapper_module:ShrunkRidge")
    monkeypatch.setitem(mapper_kinds.MAPPER_KINDS, "shrunk_ridge", entry)
    monkeypatch.setitem(mapper_kinds.MAPPER_PARAMS, "shrunk_ridge", ShrunkParams)
    kinds.mapper_class.cache_clear()
    try:
        config = RunConfig.from_dict({"mappers": [{"kind": "shrunk_ridge"}]})
        assert config.mappers[0].params == {"alpha": 5.0}
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(30, 6)), rng.normal(size=(30, 3))
        mapper = make_mapper("shrunk_ridge", config.mappers[0].params).fit(X, Y)
        loaded = mapper_from_state(*mapper.get_state())
        assert isinstance(loaded, ShrunkRidge) and loaded.alpha == 5.0
        assert np.allclose(loaded.query_keys(X), mapper.query_keys(X))
        assert "shrunk_ridge" in MAPPERS
    finally:
        kinds.mapper_class.cache_clear()


def test_the_centred_gram_of_sparse_rows_with_frequent_columns_is_exact():
    """Frequent columns (a dense GloVe block, common words) take a dense product, the rest a
    sparse one; the sum is the centred Gram matrix."""
    from retrieval.models.mappers import _centred_gram

    rng = np.random.default_rng(3)
    rare = sparse.random(300, 400, density=0.02, random_state=3)
    frequent = sparse.csr_matrix(rng.normal(size=(300, 20)))
    X = sparse.hstack([rare, frequent]).tocsr()
    gram, mean = _centred_gram(X)
    centred = X.toarray() - X.toarray().mean(axis=0)
    np.testing.assert_allclose(gram, centred @ centred.T, atol=1e-9)
    np.testing.assert_allclose(mean, X.toarray().mean(axis=0))


def test_mappers_score_map_at_20_so_grid_search_can_choose_them() -> None:
    from sklearn.model_selection import GridSearchCV, KFold

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 12)).astype("float32")
    Y = X @ rng.normal(size=(12, 6)).astype("float32") + 0.3 * rng.normal(size=(120, 6))
    mapper = RidgeMapper(alpha=0.1).fit(X, Y)
    assert 0.5 < mapper.score(X, Y) <= 1.0
    shuffled = mapper.score(X, Y[rng.permutation(120)])
    assert shuffled < mapper.score(X, Y) / 2  # the pairs matter, not the rows alone
    with pytest.raises(ValueError, match="X has 3 rows but Y has 4"):
        mapper.score(X[:3], Y[:4])
    search = GridSearchCV(RidgeMapper(), {"alpha": [0.01, 1e5]}, cv=KFold(3)).fit(X, Y)
    assert search.best_params_ == {"alpha": 0.01}  # a huge penalty flattens the mapping
    assert search.best_score_ > search.cv_results_["mean_test_score"].min()
