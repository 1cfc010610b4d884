"""The image branch's standardisation: a column constant in training is not blown up."""

from __future__ import annotations

import numpy as np

from retrieval.models.image_code import ImageCoder


def test_a_column_constant_in_training_keeps_scale_one() -> None:
    """Before, such a column was scaled by 10^6: a gallery image with a value there had a
    norm thousands of times the others' and never reached a top-20 list."""
    rng = np.random.default_rng(0)
    train = np.abs(rng.normal(size=(40, 6))).astype(np.float32)
    train[:, 2] = 0.0  # a dead unit: zero for every training picture
    coder = ImageCoder(use_autoencoder=False, whiten=False, power=0.5).fit(train)
    gallery = np.abs(rng.normal(size=(5, 6))).astype(np.float32)
    gallery[0, 2] = 4.0
    rows = coder.features(gallery)
    norms = np.linalg.norm(rows, axis=1)
    assert norms[0] < 3 * np.median(norms), norms
    np.testing.assert_allclose(rows[0, 2], 2.0, rtol=1e-6)  # sqrt(4), shifted by 0, scale 1


def test_fewer_pictures_than_the_code_is_wide_is_one_clear_error() -> None:
    """Before, 60 captioned pictures gave a Keras weight-shape error; now the message names
    the setting and the count it needs."""
    import pytest

    from retrieval.models.autoencoder import Autoencoder

    features = np.abs(np.random.default_rng(0).normal(size=(60, 120))).astype(np.float32)
    with pytest.raises(
        ValueError,
        match=r"\[image\] code_dim = 100 needs at least 100 training pictures, and there are 60",
    ):
        Autoencoder(code_dim=100).fit(features)
