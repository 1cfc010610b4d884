"""The ImageNet concept bridge: class names, image vectors, state, and the words it reaches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RunConfig
from retrieval.core import Searcher, TrainedModel, Trainer, load_bundle, save_bundle
from retrieval.data import load_competition
from retrieval.models.concepts import ConceptBridge, imagenet_class_names
from retrieval.store import load, save

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
LITE0 = "efficientnet_lite0"


def test_class_names_are_the_thousand_imagenet_classes() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) > 990
    assert names[949] == "strawberry" and names[954] == "banana"
    assert imagenet_class_names(1)[2] == "great white shark"  # synonyms cut after the first


def test_image_vectors_are_the_probability_weighted_class_vectors() -> None:
    rng = np.random.default_rng(0)
    labels = rng.normal(size=(5, 4)).astype(np.float32)
    kernel, bias = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    features = rng.normal(size=(2, 3)).astype(np.float32)
    bridge = ConceptBridge(temperature=2.0).fit(labels, kernel, bias, text_columns=(1, 5))
    logits = (features @ kernel + bias) / 2.0
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = p @ (labels / np.linalg.norm(labels, axis=1, keepdims=True))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(bridge.image_vectors(features), expected, rtol=1e-5, atol=1e-6)
    X = np.hstack([np.full((2, 1), 7.0), expected * 3.0]).astype(
        np.float32
    )  # column 0 is not words
    np.testing.assert_allclose(np.diag(bridge.scores(X, expected)), 1.0, rtol=1e-5)


def test_the_state_round_trips_through_the_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    bridge = ConceptBridge(0.5).fit(
        rng.normal(size=(4, 3)), rng.normal(size=(2, 4)), rng.normal(size=4), (2, 5)
    )
    meta, arrays = bridge.get_state()
    stored = load(save(tmp_path / "b", "bridge", {"bridge": meta}, arrays), "bridge")
    again = ConceptBridge.from_state(stored.meta["bridge"], stored.arrays)
    features = rng.normal(size=(3, 2)).astype(np.float32)
    np.testing.assert_allclose(
        again.image_vectors(features), bridge.image_vectors(features), atol=1e-6
    )
    assert again.text_columns_ == (2, 5) and again.temperature == 0.5


def test_the_side_is_the_weighted_standardised_concept_vectors() -> None:
    rng = np.random.default_rng(2)
    bridge = ConceptBridge(1.0, side_weight=3.0).fit(
        rng.normal(size=(6, 4)), rng.normal(size=(5, 6)), rng.normal(size=6), (0, 4)
    )
    train = rng.normal(size=(50, 5)).astype(np.float32)
    side = bridge.fit_side(train).side(train)
    assert side.shape == (50, 4)
    np.testing.assert_allclose(side.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(side.std(axis=0), 3.0, rtol=1e-4)
    assert ConceptBridge(1.0).fit(np.eye(2), np.eye(2), np.zeros(2), (0, 2)).side(
        train[:, :2]
    ).shape == (50, 0)


def test_bad_shapes_and_temperatures_are_refused() -> None:
    with pytest.raises(ValueError, match="temperature must be positive"):
        ConceptBridge(0)
    with pytest.raises(ValueError, match="does not give the 4 classes"):
        ConceptBridge().fit(np.ones((4, 3)), np.ones((2, 5)), np.ones(5), (0, 3))
    with pytest.raises(ValueError, match="do not hold the 3-d word vectors"):
        ConceptBridge().fit(np.ones((4, 3)), np.ones((2, 4)), np.ones(4), (0, 2))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_a_lite0_model_fuses_the_bridge_and_reaches_words_training_never_used(
    tmp_path: Path,
) -> None:
    """Trained on the demo's train part without any strawberry or banana caption, the bridge
    still ranks those pictures high for the words; ResNet features get no bridge."""
    train = load_competition(DEMO, "train")
    unseen = {"strawberry", "strawberries", "banana", "bananas"}
    keep = [
        i
        for i, t in enumerate(train.texts())
        if not unseen & set(t.lower().replace(".", "").split())
    ]
    part = train.subset(keep)
    config = RunConfig.from_dict(
        {
            "data": {"features": LITE0},
            "tags": {"enabled": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    model = Trainer(config).fit(part)
    assert model.concepts is not None and model.concept_weight > 0
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    model, gallery = load_bundle(bundle)
    assert "concepts" in gallery.spaces
    searcher = Searcher(model, gallery)
    for word, ids in (("strawberry", {"0", "38", "367"}), ("banana", {"499"})):
        top = {hit.id for hit in searcher.search(f"a {word}", k=10)}
        assert top & ids, word
    resnet = Trainer(RunConfig.from_dict({**config.to_dict(), "data": {"features": "pool5"}})).fit(
        part
    )
    assert resnet.concepts is None and "concepts" not in resnet.spaces


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_a_gallery_without_tags_gets_predicted_tags(tmp_path: Path) -> None:
    train = load_competition(DEMO, "train")
    config = RunConfig.from_dict(
        {
            "data": {"features": LITE0},
            "tags": {"predict_missing": True},
            "mappers": [{"kind": "ridge", "space": "features"}],
            "fusion": {"select": "fixed"},  # the tag score fused whatever a held-out part says
        }
    )
    model = Trainer(config).fit(train)
    assert model.image_tags is not None and model.tag_weight > 0
    ranked = Searcher(model, model.gallery_from_dataset(train)).rank_texts(
        train.image_paths[0], train.texts()[:5]
    )
    assert len(ranked) == 5  # one picture, no tags: predicted ones, and the weights follow
    untagged = model.gallery(train.ids[:50], train.image_paths[:50], train.features(LITE0)[:50])
    assert untagged.tags is None and "predicted_tags" in untagged.spaces
    assert model.tag_matrix(untagged) is not None  # tag fusion runs on the predicted tags
    truth = model.tag_model.binarize([[str(t) for t in ts] for ts in train.tags[:50]])
    scores = untagged.spaces["predicted_tags"]
    assert scores.shape == truth.shape and scores.min() >= 0 and scores.max() <= 1
    best = truth[np.arange(50), scores.argmax(axis=1)]
    assert best.mean() > 0.7  # training pictures: their best-scored tag is mostly theirs
    # the soft scores, standardised as indicators are, stand where the true tags would
    side = untagged.spaces["features"][:, -len(model.tag_side.classes_) :]
    standardised = model.image_coder.features(train.features(LITE0)[:50])
    expected = model.tag_side.transform_scores(
        model.image_tags.predict_over(standardised, model.tag_side.classes_)
    )
    np.testing.assert_allclose(side, expected, rtol=1e-5, atol=1e-5)
    assert side.std(axis=0).max() > 0  # not the zeros of a gallery left untagged
    tagged = model.gallery_from_dataset(train.subset(range(50)))
    assert "predicted_tags" not in tagged.spaces
    model, gallery = load_bundle(save_bundle(tmp_path / "bundle", model, untagged))
    assert model.image_tags is not None and "predicted_tags" in gallery.spaces
    assert len(Searcher(model, gallery).search("a red apple", k=5)) == 5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_the_tag_weight_for_predicted_tags_is_chosen_on_held_out_pictures(tmp_path: Path) -> None:
    train = load_competition(DEMO, "train")

    def trained(candidates: list[float]) -> TrainedModel:
        values = {
            "data": {"features": LITE0},
            "tags": {"predict_missing": True, "predicted_weights": candidates},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
        return Trainer(RunConfig.from_dict(values)).fit(train)

    features = train.features(LITE0)[:40]
    for candidates in ([0.0], [0.4]):  # a lone candidate is what is chosen
        model = trained(candidates)
        assert model.predicted_tag_weight == candidates[0]
        untagged = model.gallery(train.ids[:40], train.image_paths[:40], features)
        tagged = model.gallery_from_dataset(train.subset(range(40)))
        assert model.gallery_tag_weight(untagged) == candidates[0]
        assert model.gallery_tag_weight(tagged) == model.tag_weight
        # weight 0: no tag score for the gallery without tags; the tagged one keeps its own
        assert (model.tag_matrix(untagged) is None) == (candidates[0] == 0)
        if model.tag_weight:
            assert model.tag_matrix(tagged) is not None
    loaded, gallery = load_bundle(save_bundle(tmp_path / "bundle", model, untagged))
    assert loaded.predicted_tag_weight == 0.4 and loaded.gallery_tag_weight(gallery) == 0.4
    np.testing.assert_allclose(
        Searcher(loaded, gallery).scores(train.texts()[:5]),
        Searcher(model, untagged).scores(train.texts()[:5]),
        rtol=1e-5,
        atol=1e-6,
    )
    several = trained([0.0, 0.1, 0.25, 0.5, 1.0])
    assert several.predicted_tag_weight in (0.0, 0.1, 0.25, 0.5, 1.0)


def test_tag_weights_for_predicted_tags_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="tags.predicted_weights"):
        RunConfig.from_dict({"tags": {"predicted_weights": [-1.0]}})
