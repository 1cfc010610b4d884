from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.data import load_competition
from retrieval.models.autoencoder import Autoencoder, neighbour_overlap

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool5() -> np.ndarray:
    return load_competition(DEMO, "train").pool5


@pytest.fixture(scope="module")
def fitted(pool5: np.ndarray) -> Autoencoder:
    return Autoencoder(code_dim=100, hidden=(256,), epochs=30, seed=0).fit(pool5)


def test_training_reduces_reconstruction_error(fitted: Autoencoder, pool5: np.ndarray) -> None:
    assert fitted.history_["loss"][-1] < 0.5 * fitted.history_["loss"][0]
    assert fitted.transform(pool5).shape == (len(pool5), 100)
    report = fitted.evaluate(pool5)
    baseline = float(np.sqrt(np.mean((pool5 - pool5.mean(0)) ** 2)))  # predicting the mean
    assert report["rmse"] < 0.8 * baseline
    assert report["neighbour_overlap@20"] > 0.3  # chance: about 20 / 561
    assert fitted.inverse_transform(fitted.transform(pool5[:3])).shape == (3, 2048)


def test_same_seed_same_code(pool5: np.ndarray) -> None:
    a = (
        Autoencoder(code_dim=16, hidden=(32,), epochs=2, seed=3)
        .fit(pool5[:200])
        .transform(pool5[:5])
    )
    b = (
        Autoencoder(code_dim=16, hidden=(32,), epochs=2, seed=3)
        .fit(pool5[:200])
        .transform(pool5[:5])
    )
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_save_load_and_numpy_encoder_agree(
    fitted: Autoencoder, pool5: np.ndarray, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "ae")
    loaded = Autoencoder.load(tmp_path / "ae")
    np.testing.assert_allclose(
        loaded.transform(pool5[:10]), fitted.transform(pool5[:10]), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        fitted.encoder_stack()(pool5[:10]), fitted.transform(pool5[:10]), rtol=1e-4, atol=1e-4
    )
    assert loaded.get_params() == fitted.get_params()


def test_bad_input_and_parameters_are_refused(fitted: Autoencoder) -> None:
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(np.vstack([np.zeros((1, 2048)), np.full((1, 2048), np.nan)]))
    with pytest.raises(ValueError, match="10 features, but Autoencoder is expecting 2048"):
        fitted.transform(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="not fitted"):
        Autoencoder().transform(np.zeros((2, 2048)))
    with pytest.raises(ValueError, match="'code_dim' parameter"):
        Autoencoder(code_dim=0).fit(np.zeros((8, 4)))


def test_a_linear_autoencoder_starts_at_the_principal_directions(pool5: np.ndarray) -> None:
    from sklearn.base import clone
    from sklearn.decomposition import PCA

    linear = Autoencoder(code_dim=10, hidden=(), epochs=0).fit(pool5)
    standardized = (pool5 - linear.mean_) / linear.scale_
    pca = PCA(n_components=10).fit(standardized)
    codes = linear.transform(pool5)
    # the same subspace: the PCA scores are a rotation of the codes
    fit = np.linalg.lstsq(codes, pca.transform(standardized), rcond=None)[1].sum()
    assert fit < 1e-3 * np.square(pca.transform(standardized)).sum()
    assert clone(linear).get_params() == linear.get_params()


def test_neighbour_overlap_of_identical_and_unrelated_spaces() -> None:
    x = np.random.default_rng(0).normal(size=(300, 20))
    assert neighbour_overlap(x, x, k=10) == 1.0
    assert neighbour_overlap(x, np.random.default_rng(1).normal(size=(300, 20)), k=10) < 0.15
