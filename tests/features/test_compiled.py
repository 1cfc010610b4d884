"""The compiled uint8 path against the eager one and against the old float path.

Measured on the 2-core CPU (Keras 3.15, seeded random weights, the demo's pictures, pool5
values up to 34), max abs difference to the old path (``preprocess_input`` on the host, then
the eager ``keras.applications`` model):

- the new network (uint8 in, preprocessing in the graph, batch norms folded into the
  convolutions), eager or compiled, padded or not: 2.1e-05 under TensorFlow
  (``tf.function``); 3.4e-05 under JAX (``jax.jit``, on random pixels); 0.0 with ``fold=False``
  under TensorFlow;
- JAX (eager or ``jax.jit``, the same weights file) vs TensorFlow's old path: 2.1e-05;
- fc1000 logits in the graph vs pool5 @ kernel + bias on the host: 1.0e-05;
- mixed bfloat16 vs float32: min cosine 0.999995, max abs difference about 0.12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.features import load_picture
from retrieval.features._compiled import CompiledCall, pad_batch
from retrieval.features._extract import get_model
from tests.jax_child import run_on_jax

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.stack([load_picture(DEMO / "images_train" / f"{i}.jpg") for i in range(5)])


def old_path(model: object, pixels: np.ndarray) -> np.ndarray:
    """What ``ResNet50Features.__call__`` did before: preprocess on the host, eager model call."""
    from keras.applications.resnet50 import preprocess_input

    batch = preprocess_input(pixels.astype(np.float32))
    return np.asarray(model.model(batch, training=False), dtype=np.float32)


def test_eager_and_compiled_paths_match_the_old_path(pixels: np.ndarray) -> None:
    model = get_model(None, False, 0)
    old = old_path(model, pixels)
    eager, logits = model(pixels)
    assert logits is None and eager.shape == (5, 2048) and eager.dtype == np.float32
    assert np.abs(eager - old).max() <= TOLERANCE
    for batch_size in (4, 5):  # 4, then 1 padded to 4; 5 unpadded
        (compiled,) = model.compiled(batch_size)(pixels)
        assert compiled.shape == (5, 2048)
        assert np.abs(compiled - old).max() <= TOLERANCE, batch_size


def test_without_folding_the_network_is_the_old_model_exactly(pixels: np.ndarray) -> None:
    from retrieval.features._model import ResNet50Features

    model = ResNet50Features(None, fold=False)
    assert np.abs(model(pixels[:2])[0] - old_path(model, pixels[:2])).max() <= 1e-6


def test_padding_the_last_batch_gives_the_same_rows(pixels: np.ndarray) -> None:
    call = get_model(None, False, 0).compiled(8)
    assert isinstance(call, CompiledCall) and call.shape == (8, 224, 224, 3)
    (alone,) = call.fetch(call.submit(pad_batch(pixels[:3], 8)))
    (full,) = call.fetch(call.submit(pad_batch(pixels, 8)))
    np.testing.assert_allclose(alone[:3], full[:3], atol=TOLERANCE, rtol=0)
    assert not np.allclose(alone[3:5], full[3:5])  # padding rows: black pictures, dropped
    with pytest.raises(ValueError, match="uint8"):
        call.submit(pixels.astype(np.float32))


def test_logits_are_computed_in_the_graph(pixels: np.ndarray) -> None:
    model = get_model(None, True, 0)
    pool5, logits = model(pixels[:2])
    expected = pool5 @ model._fc_kernel + model._fc_bias
    assert logits.shape == (2, 1000)
    assert np.abs(logits - expected).max() <= TOLERANCE
    compiled_pool5, compiled_logits = model.split(model.compiled(2)(pixels[:2]))
    assert np.abs(compiled_logits - logits).max() <= TOLERANCE
    assert np.abs(compiled_pool5 - pool5).max() <= TOLERANCE


def test_mixed_bfloat16_features_keep_their_direction(pixels: np.ndarray) -> None:
    import keras

    fp32, _ = get_model(None, False, 0)(pixels)
    bf16, _ = get_model(None, False, 0, "bfloat16")(pixels)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    cosine = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cosine.min() >= 0.9999
    assert bf16.dtype == np.float32 and not np.array_equal(bf16, fp32)
    with pytest.raises(ValueError, match="precision"):
        get_model(None, False, 0, "float16")


JAX_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import keras, numpy as np
from retrieval.features._model import ResNet50Features
folder = sys.argv[1]
model = ResNet50Features(folder + "/w.weights.h5")
pixels = np.load(folder + "/pixels.npy")
np.save(folder + "/jax_eager.npy", model(pixels)[0])
np.save(folder + "/jax_compiled.npy", model.compiled(2)(pixels)[0])
print(keras.backend.backend(), model.compiled(2).label)
"""


def test_the_jax_compiled_path_gives_the_same_features(pixels: np.ndarray, tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="jax is in the dev extra")
    model = get_model(None, False, 0)
    model.model.save_weights(tmp_path / "w.weights.h5")
    np.save(tmp_path / "pixels.npy", pixels[:3])
    done = run_on_jax(JAX_SCRIPT, tmp_path)
    assert done.stdout.split()[:2] == ["jax", "jax.jit,"]
    old = old_path(model, pixels[:3])
    assert np.abs(np.load(tmp_path / "jax_eager.npy") - old).max() <= TOLERANCE
    assert np.abs(np.load(tmp_path / "jax_compiled.npy") - old).max() <= TOLERANCE
