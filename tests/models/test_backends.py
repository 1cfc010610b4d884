"""The Keras models train on JAX too, and what JAX trains loads and predicts the same here.

A child process trains the autoencoder and the learned mapping (each loss) with
``KERAS_BACKEND=jax`` and saves them (Keras files and plain-data state) with their
predictions; this process (TensorFlow) loads them and must reproduce those predictions.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.models._keras_files import load_keras
from retrieval.models.autoencoder import Autoencoder
from retrieval.models.kinds import mapper_from_state
from tests.jax_child import run_on_jax

pytestmark = pytest.mark.slow

TRAIN_ON_JAX = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import keras
    import numpy as np
    from retrieval import store
    from retrieval.models.autoencoder import Autoencoder
    from retrieval.models.neural import NeuralMapper

    out = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    images = np.maximum(rng.normal(size=(256, 64)), 0).astype(np.float32)
    texts = rng.normal(size=(256, 40)).astype(np.float32)
    np.save(out / "images.npy", images)
    np.save(out / "texts.npy", texts)
    report = {"backend": keras.backend.backend()}
    auto = Autoencoder(code_dim=8, hidden=(32,), epochs=15, validation_fraction=0.0).fit(images)
    auto.save(out / "autoencoder")
    np.save(out / "codes.npy", auto.transform(images))
    report["autoencoder"] = auto.history_["loss"]
    codes = auto.transform(images)
    for loss in ("rmse", "triplet", "contrastive"):
        model = NeuralMapper(
            init="random", loss=loss, hidden=(32,), epochs=15, batch_size=32, learning_rate=0.003
        ).fit(texts, codes)
        model.save_keras(out / f"{loss}-keras")
        meta, arrays = model.get_state()
        store.save(out / loss, "mapper", {"mapper": meta}, arrays)
        np.save(out / f"{loss}.npy", model.query_keys(texts))
        report[loss] = model.history_["loss"]
    (out / "report.json").write_text(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def trained_on_jax(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("jax", reason="jax is in the dev extra")
    out = tmp_path_factory.mktemp("jax")
    run_on_jax(TRAIN_ON_JAX, out)
    return out


def test_training_on_jax_lowers_every_loss(trained_on_jax: Path) -> None:
    report = json.loads((trained_on_jax / "report.json").read_text())
    assert report["backend"] == "jax"
    for name in ("autoencoder", "rmse", "triplet", "contrastive"):
        assert report[name][-1] < 0.9 * report[name][0], (name, report[name])


def test_jax_trained_models_predict_the_same_on_tensorflow(trained_on_jax: Path) -> None:
    import keras

    assert keras.backend.backend() == "tensorflow"
    images, texts = np.load(trained_on_jax / "images.npy"), np.load(trained_on_jax / "texts.npy")
    auto = Autoencoder.load(trained_on_jax / "autoencoder")
    np.testing.assert_allclose(
        auto.transform(images), np.load(trained_on_jax / "codes.npy"), atol=1e-4
    )
    for loss in ("rmse", "triplet", "contrastive"):
        expected = np.load(trained_on_jax / f"{loss}.npy")
        network, _, _ = load_keras(trained_on_jax / f"{loss}-keras")
        np.testing.assert_allclose(network.predict(texts, verbose=0), expected, atol=1e-4)
        stored = store.load(trained_on_jax / loss, "mapper")
        np.testing.assert_allclose(
            mapper_from_state(stored.meta["mapper"], stored.arrays).query_keys(texts),
            expected,
            atol=1e-4,
        )
