"""The Keras models train on JAX too, and what JAX trains loads and predicts the same here.

A child process trains the autoencoder and the regressor (each loss) with
``KERAS_BACKEND=jax`` and saves them with their predictions; this process (TensorFlow)
loads the saved models and must reproduce those predictions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from retrieval.models.autoencoder import Autoencoder
from retrieval.models.regressor import TextToCodeRegressor

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

TRAIN_ON_JAX = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import keras
    import numpy as np
    from retrieval.models.autoencoder import Autoencoder
    from retrieval.models.regressor import TextToCodeRegressor

    out = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    images = np.maximum(rng.normal(size=(256, 64)), 0).astype(np.float32)
    texts = rng.normal(size=(256, 40)).astype(np.float32)
    np.save(out / "images.npy", images)
    np.save(out / "texts.npy", texts)
    report = {"backend": keras.backend.backend()}
    auto = Autoencoder(code_dim=8, hidden=[32], epochs=15, validation_fraction=0.0).fit(images)
    auto.save(out / "autoencoder")
    np.save(out / "codes.npy", auto.transform(images))
    report["autoencoder"] = auto.history_["loss"]
    codes = auto.transform(images)
    for loss in ("rmse", "triplet", "contrastive"):
        model = TextToCodeRegressor(
            loss=loss, hidden=[32], epochs=15, batch_size=32, validation_fraction=0.0
        ).fit(texts, codes)
        model.save(out / f"{loss}.keras")
        np.save(out / f"{loss}.npy", model.predict(texts))
        report[loss] = model.history_["loss"]
    (out / "report.json").write_text(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def trained_on_jax(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("jax", reason="jax is in the dev extra")
    out = tmp_path_factory.mktemp("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_ON_JAX, str(out)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
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
        model = TextToCodeRegressor.load(trained_on_jax / f"{loss}.keras")
        np.testing.assert_allclose(
            model.predict(texts), np.load(trained_on_jax / f"{loss}.npy"), atol=1e-4
        )
