from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.config import ConfigError, RunConfig
from retrieval.core import Searcher, Trainer, load_bundle, save_bundle
from retrieval.core.model import HUBNESS
from retrieval.models import hubness as hubness_module
from retrieval.models.hubness import HubnessCorrection, mean_top_similarity
from retrieval.store import load, save
from tests.models.demo_runs import RIDGE, SMALL_CCA, demo_split, small_run


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_mean_top_similarity_matches_a_full_sort_across_chunks(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    bank, keys = unit(rng.normal(size=(40, 8))), unit(rng.normal(size=(23, 8)))
    monkeypatch.setattr(hubness_module, "CHUNK", 5)  # several chunks, the last one short
    expected = np.sort(bank @ keys.T, axis=0)[-7:].mean(axis=0)
    np.testing.assert_allclose(mean_top_similarity(bank, keys, 7), expected, rtol=1e-5)
    # more neighbours than the bank holds: all of it
    np.testing.assert_allclose(
        mean_top_similarity(bank, keys, 100), (bank @ keys.T).mean(axis=0), rtol=1e-5
    )


def test_a_hub_picture_loses_its_place_at_the_top() -> None:
    # picture 0 sits between every description of the bank; picture 1 matches the query best
    # once the hub is discounted
    bank = [unit(np.array([[1.0, 0.2], [1.0, -0.2], [0.9, 0.4], [0.9, -0.4]]))]
    gallery = [unit(np.array([[1.0, 0.0], [0.6, 0.8]]))]
    query = unit(np.array([[0.9, 0.45]]))
    raw = query @ gallery[0].T
    assert raw.argmax() == 0
    hub = HubnessCorrection(bank, neighbours=2, strength=1.0)
    penalties = hub.penalties(gallery)
    assert penalties[0, 0] > penalties[1, 0]
    assert hub.corrected(raw, penalties, 0).argmax() == 1
    # strength 0 changes nothing
    hub.strength = 0.0
    np.testing.assert_array_equal(hub.corrected(raw, penalties, 0), raw)


def test_the_correction_round_trips_through_the_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    hub = HubnessCorrection([unit(rng.normal(size=(6, 3))), unit(rng.normal(size=(6, 4)))], 3, 0.5)
    save(tmp_path / "hub", "hubness", *hub.get_state())
    stored = load(tmp_path / "hub", "hubness")
    loaded = HubnessCorrection.from_state(stored.meta, stored.arrays)
    gallery = [unit(rng.normal(size=(5, 3))), unit(rng.normal(size=(5, 4)))]
    np.testing.assert_array_equal(loaded.penalties(gallery), hub.penalties(gallery))
    assert (loaded.neighbours, loaded.strength) == (3, 0.5)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"bank": 0}, "hubness.bank"),
        ({"neighbours": []}, "hubness.neighbours"),
        ({"neighbours": [0]}, "hubness.neighbours"),
        ({"strengths": [-0.5]}, "hubness.strengths"),
    ],
)
def test_bad_settings_are_refused_by_name(table: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        RunConfig.from_dict({"hubness": table})


@pytest.mark.slow
def test_the_trainer_chooses_a_correction_and_single_queries_get_it_too(tmp_path: Path) -> None:
    fit_part, held_out = demo_split()
    # only strengths above 0: a correction is always kept
    config = small_run(
        SMALL_CCA, hubness={"enabled": True, "bank": 150, "neighbours": [5], "strengths": [0.5]}
    )
    model = Trainer(config).fit(fit_part)
    assert model.hubness is not None
    assert model.hubness.bank_keys[0].shape[0] == 150
    gallery = model.gallery_from_dataset(held_out)
    assert gallery.spaces[HUBNESS].shape == (len(held_out), 1)
    searcher = Searcher(model, gallery)
    scores = searcher.scores(held_out.texts())
    # the corrected similarity is the plain one minus half the picture's penalty
    plain = model.query_keys(model.text_features(held_out.texts()))[0] @ searcher._keys[0].T
    np.testing.assert_allclose(scores, plain - 0.5 * gallery.spaces[HUBNESS][:, 0], atol=1e-5)
    # a single search ranks and scores as the whole set does
    text = held_out.texts()[3]
    hits = searcher.search(text, k=5)
    assert [h.index for h in hits] == list(np.argsort(-scores[3], kind="stable")[:5])
    # and so does a loaded bundle
    save_bundle(tmp_path / "bundle", model, gallery)
    loaded_model, loaded_gallery = load_bundle(tmp_path / "bundle")
    np.testing.assert_allclose(
        Searcher(loaded_model, loaded_gallery).scores(held_out.texts()), scores, atol=1e-6
    )


@pytest.mark.slow
def test_strength_zero_wins_when_the_correction_does_not_help(monkeypatch) -> None:
    fit_part, _ = demo_split()
    # a correction that only hurts on the held-out items: every penalty pushes the true match
    # down, so the trainer keeps strength 0 and stores no correction
    monkeypatch.setattr(
        HubnessCorrection,
        "corrected",
        lambda self, scores, penalties, member: scores - self.strength * np.eye(len(scores)),
    )
    config = small_run(RIDGE, hubness={"enabled": True, "neighbours": [5], "strengths": [0.0, 5.0]})
    assert Trainer(config).fit(fit_part).hubness is None
