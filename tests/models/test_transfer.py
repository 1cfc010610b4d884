"""Text transfer: neighbours, weights, scores against a direct computation, and state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from retrieval.models.transfer import TextTransfer
from retrieval.store import load, save


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def test_scores_are_the_weighted_cosines_with_the_neighbours_descriptions() -> None:
    rng = np.random.default_rng(0)
    codes, texts = rng.normal(size=(30, 4)), rng.normal(size=(30, 6))
    transfer = TextTransfer(k=5, temperature=0.1).fit(codes, sparse.csr_matrix(texts))
    gallery, queries = rng.normal(size=(7, 4)), rng.normal(size=(3, 6))
    neighbours, weights = transfer.neighbours(gallery)
    similarity = unit(gallery) @ unit(codes).T
    for j in range(7):
        expected = np.argsort(-similarity[j])[:5]
        assert set(neighbours[j].astype(int)) == set(expected)
        w = np.exp(similarity[j, neighbours[j].astype(int)] / 0.1)
        np.testing.assert_allclose(weights[j], w / w.sum(), rtol=1e-4)
    expected_scores = np.stack(
        [
            [
                (unit(queries)[i] @ unit(texts)[neighbours[j].astype(int)].T) @ weights[j]
                for j in range(7)
            ]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(
        transfer.scores(queries, neighbours, weights), expected_scores, atol=1e-5
    )


def test_state_round_trips_and_bad_settings_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    transfer = TextTransfer(k=3).fit(rng.normal(size=(10, 4)), rng.normal(size=(10, 5)))
    meta, arrays = transfer.get_state()
    stored = load(save(tmp_path / "t", "transfer", {"transfer": meta}, arrays), "transfer")
    again = TextTransfer.from_state(stored.meta["transfer"], stored.arrays)
    gallery, queries = rng.normal(size=(4, 4)), rng.normal(size=(2, 5))
    n, w = transfer.neighbours(gallery)
    np.testing.assert_array_equal(again.neighbours(gallery)[0], n)
    np.testing.assert_allclose(
        again.scores(queries, n, w), transfer.scores(queries, n, w), atol=1e-6
    )
    with pytest.raises(ValueError, match="k must be 1 or more"):
        TextTransfer(k=0)
    with pytest.raises(ValueError, match="outside the training pictures"):
        transfer.scores(queries, n + 100, w)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_a_model_with_text_transfer_fuses_it_and_keeps_it_in_its_bundle(tmp_path: Path) -> None:
    from retrieval.config import RunConfig
    from retrieval.core import Searcher, Trainer, load_bundle, save_bundle
    from retrieval.data import load_competition

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    train = load_competition(demo, "train")
    config = RunConfig.from_dict(
        {
            "data": {"features": "efficientnet_lite0"},
            "tags": {"enabled": False},
            "concepts": {"enabled": False},
            "transfer": {"enabled": True, "k": 10, "space": "features"},
            "fusion": {"select": "fixed"},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    model = Trainer(config).fit(train)
    assert model.transfer is not None and model.transfer_weight == 1.0
    gallery = model.gallery_from_dataset(train)
    assert model.weights(gallery) == [1.0, 1.0]
    assert gallery.spaces["transfer"].shape == (len(train), 10)
    before = Searcher(model, gallery).rank(train.texts()[:20], 5)
    model, gallery = load_bundle(save_bundle(tmp_path / "bundle", model, gallery))
    np.testing.assert_array_equal(Searcher(model, gallery).rank(train.texts()[:20], 5), before)
    # a training picture's own description finds it among its nearest neighbours' texts
    assert (before[:, 0] == np.arange(20)).mean() > 0.5
