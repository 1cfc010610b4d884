from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.config import RunConfig
from retrieval.core import Searcher, TrainedModel, Trainer, load_bundle, save_bundle
from retrieval.data import load_competition, train_val_split
from retrieval.evaluation import evaluate
from retrieval.metrics import ranks_from_scores
from retrieval.store import StoreError

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = pytest.mark.slow


def small_config() -> RunConfig:
    return RunConfig.from_dict(
        {
            "image": {"code_dim": 32, "epochs": 3},
            "mappers": [
                {
                    "kind": "neural",
                    "params": {
                        "init": "random",
                        "hidden": [64],
                        "epochs": 20,
                        "learning_rate": 0.001,
                    },
                },
                {"kind": "reverse_ridge", "space": "features", "weight": 0.5},
            ],
            "tags": {"enabled": True, "weight": 0.5},
            "fusion": {"select": "fixed"},
        }
    )


@pytest.fixture(scope="module")
def parts():
    return train_val_split(load_competition(DEMO, "train"), val_size=0.2, seed=0)


@pytest.fixture(scope="module")
def trained(parts) -> TrainedModel:
    fit_part, _ = parts
    return Trainer(small_config()).fit(fit_part)


@pytest.fixture(scope="module")
def searcher(trained: TrainedModel, parts) -> Searcher:
    return Searcher(trained, trained.gallery_from_dataset(parts[0]))


def test_training_captions_find_their_own_image(searcher: Searcher, parts) -> None:
    fit_part, _ = parts
    ranks = ranks_from_scores(searcher.scores(fit_part.texts()), np.arange(len(fit_part)))
    assert np.mean(ranks <= 20) > 10 * 20 / len(fit_part)


def test_held_out_retrieval_beats_chance(trained: TrainedModel, parts) -> None:
    _, held_out = parts
    result = evaluate(trained, held_out)
    assert result.gallery_size == len(held_out) == 112
    assert result.top.shape == (112, 20)
    assert np.mean(result.ranks <= 20) > 1.5 * 20 / 112


def test_every_part_is_used_and_weighted(trained: TrainedModel, parts) -> None:
    assert [m.mapper.kind for m in trained.members] == ["neural", "reverse_ridge"]
    assert trained.spaces == ["code", "features"] and trained.tag_weight == 0.5
    _, held_out = parts
    gallery = trained.gallery_from_dataset(held_out)
    X = trained.text_features(held_out.texts())
    components = trained.component_scores(X, gallery)
    assert len(components) == 3  # two mappers and the tag score
    fused = trained.fuse(components, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(trained.scores(held_out.texts(), gallery), fused, rtol=1e-5)
    without_tags = trained.fuse(components[:2], [1.0, 0.5])
    assert not np.allclose(fused, without_tags)


def test_search_returns_sorted_hits_from_the_gallery(searcher: Searcher, parts) -> None:
    fit_part, _ = parts
    hits = searcher.search(fit_part.texts()[3], k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.path == fit_part.image_paths[h.index] for h in hits)
    with pytest.raises(ValueError, match="empty"):
        searcher.search("   ")


def test_bundle_round_trip_ranks_exactly_as_before(
    searcher: Searcher, parts, tmp_path: Path
) -> None:
    _, held_out = parts
    before = searcher.rank(held_out.texts(), 20)
    save_bundle(tmp_path / "bundle", searcher.model, searcher.gallery)
    model, gallery = load_bundle(tmp_path / "bundle")
    assert gallery.ids == searcher.gallery.ids
    loaded = Searcher(model, gallery)
    np.testing.assert_array_equal(loaded.rank(held_out.texts(), 20), before)
    after, before_hits = loaded.search("a red apple", 3), searcher.search("a red apple", 3)
    assert [h.id for h in after] == [h.id for h in before_hits]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before_hits], rtol=1e-5)


def test_a_loaded_bundle_saves_back_identical(searcher: Searcher, tmp_path: Path) -> None:
    save_bundle(tmp_path / "a", searcher.model, searcher.gallery)
    save_bundle(tmp_path / "b", *load_bundle(tmp_path / "a"))
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) > 10
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_loaded_bundle_searches_without_keras_or_gensim(searcher: Searcher, tmp_path: Path) -> None:
    save_bundle(tmp_path / "bundle", searcher.model, searcher.gallery)
    code = (
        "import sys; from retrieval.core import Searcher, load_bundle;"
        f"s = Searcher(*load_bundle({str(tmp_path / 'bundle')!r})); print(len(s.search('a dog', 3)));"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules, 'gensim' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["3", "False", "False", "False"]


def test_a_bundle_is_stored_through_the_state_protocol_and_the_former_layout_still_loads(
    searcher: Searcher, parts, tmp_path: Path
) -> None:
    """A bundle is one Stateful object under the manifest's "state" key; a bundle written
    with its model and gallery at the manifest's top level (the layout before) loads and
    ranks the same."""
    _, held_out = parts
    save_bundle(tmp_path / "bundle", searcher.model, searcher.gallery)
    stored = store.load(tmp_path / "bundle", "retrieval.bundle")
    assert set(stored.meta) == {store.STATE} and set(stored.meta[store.STATE]) == {
        "model",
        "gallery",
    }
    store.save(tmp_path / "former", "retrieval.bundle", stored.meta[store.STATE], stored.arrays)
    # the copy sits at the same depth as the original, so its relative paths still hold
    model, gallery = load_bundle(tmp_path / "former")
    assert [p.resolve() for p in gallery.paths] == [p.resolve() for p in searcher.gallery.paths]
    np.testing.assert_array_equal(
        Searcher(model, gallery).rank(held_out.texts(), 20), searcher.rank(held_out.texts(), 20)
    )


def test_other_format_versions_and_older_bundles_fail_clearly(
    searcher: Searcher, tmp_path: Path
) -> None:
    save_bundle(tmp_path / "bundle", searcher.model, searcher.gallery)
    manifest = tmp_path / "bundle" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="format version 99"):
        load_bundle(tmp_path / "bundle")
    older = tmp_path / "older"
    older.mkdir()
    (older / "bundle.json").write_text('{"kind": "retrieval-bundle", "format": 1}')
    with pytest.raises(StoreError, match="older version of retrieval"):
        load_bundle(older)
    with pytest.raises(StoreError, match="no manifest.json"):
        load_bundle(tmp_path)


def _resaved_with(folder: Path, change) -> str:
    """The bundle saved again with one mapper array changed, its manifest written to match."""
    stored = store.load(folder, "retrieval.bundle")
    arrays = dict(stored.arrays)
    name = max(
        (n for n, a in arrays.items() if n.startswith("model/mappers/") and a.ndim == 2),
        key=lambda n: arrays[n].size,
    )
    arrays[name] = change(np.array(arrays[name]))
    store.save(folder, "retrieval.bundle", stored.meta, arrays)
    return name


@pytest.mark.parametrize(
    "change",
    [lambda a: a[:, :-1], lambda a: np.full_like(a, np.nan)],
    ids=["a column short", "NaN"],
)
def test_a_kernel_whose_manifest_was_written_to_match_is_refused_at_load(
    searcher: Searcher, tmp_path: Path, change
) -> None:
    folder = save_bundle(tmp_path / "bundle", searcher.model, searcher.gallery)
    _resaved_with(folder, change)
    with pytest.raises(
        StoreError, match=r"manifest.json: its (parts do not fit together|model gives non-finite)"
    ):
        load_bundle(folder)


def test_rank_texts_puts_the_true_caption_first_for_many_images(searcher: Searcher, parts) -> None:
    fit_part, _ = parts
    code_only = Trainer(
        RunConfig.from_dict(
            {"image": {"code_dim": 32, "epochs": 2}, "mappers": [{"kind": "ridge"}]}
        )
    )
    model = code_only.fit(fit_part)
    gallery = model.gallery_from_dataset(fit_part)
    captions = fit_part.texts()[:30]
    hits = sum(
        Searcher(model, gallery).rank_texts(gallery.codes[i], captions)[0][0] == captions[i]
        for i in range(30)
    )
    assert hits >= 10  # chance: 1 in 30
    with pytest.raises(ValueError, match="code space"):
        searcher.rank_texts(gallery.codes[0], captions)


@pytest.mark.slow
def test_rank_texts_takes_a_picture_for_a_model_that_works_in_the_features_space(
    trained: TrainedModel, parts
) -> None:
    """A picture is encoded into every space the model needs, so the default kind of model
    (mappers in the features space) captions pictures too."""
    fit_part, _ = parts
    assert "features" in trained.spaces
    captions = fit_part.texts()[:30]
    ranked = Searcher(trained, trained.gallery_from_dataset(fit_part)).rank_texts(
        fit_part.image_paths[4], captions
    )
    assert sorted(text for text, _ in ranked) == sorted(captions)
    assert [text for text, _ in ranked[:5]].count(captions[4]) == 1


def test_nan_features_and_unpaired_data_are_refused(trained: TrainedModel) -> None:
    with pytest.raises(ValueError, match="finite"):
        trained.image_spaces(np.full((1, 2048), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="paired"):
        Trainer(small_config()).fit(load_competition(DEMO, "test"))


@pytest.mark.parametrize(
    "backend, params", [("hnsw", {"ef": 64}), ("binary", {"candidates": 1000})]
)
def test_an_index_backend_proposes_candidates_that_are_scored_in_full(
    searcher: Searcher, parts, backend: str, params: dict
) -> None:
    fit_part, _ = parts
    settings = RunConfig.from_dict(
        {"index": {"backend": backend, "params": params, "candidates": 40}}
    ).index
    indexed = Searcher(searcher.model, searcher.gallery, index=settings)
    queries = fit_part.texts()[:25]
    fused = searcher.scores(queries)
    keys = searcher.model.query_keys(searcher.model.text_features(queries))[0]
    gallery_keys = searcher.model.gallery_keys(searcher.gallery)[0]
    recalls = []
    for row, text in enumerate(queries):
        hits = [h.index for h in indexed.search(text, k=10)]
        proposed = indexed._candidates(keys[row], 10)
        assert len(proposed) == 40
        expected = proposed[np.argsort(-fused[row, proposed], kind="stable")[:10]]
        assert set(hits) == set(expected.tolist())
        nearest = np.argsort(-(gallery_keys @ keys[row]))[:40]
        recalls.append(len(set(proposed) & set(nearest)) / 40)
    assert np.mean(recalls) > 0.9
    # other index settings build another index
    other = Searcher(searcher.model, searcher.gallery, index=settings)
    other.index_config = RunConfig.from_dict({"index": {"backend": "exact"}}).index
    assert other._candidates(keys[0], 10) is None


def test_a_bare_string_where_a_list_is_expected_is_refused(searcher: Searcher) -> None:
    with pytest.raises(TypeError, match="single string"):
        searcher.scores("a red apple")
    with pytest.raises(TypeError, match="single string"):
        searcher.rank_texts(searcher.gallery.codes[0], "a red apple")


def test_without_the_autoencoder_text_maps_straight_to_the_standardised_features(parts) -> None:
    fit_part, held_out = parts
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False},
            "mappers": [{"kind": "neural", "params": {"epochs": 0}}],
            "tags": {"enabled": False},
        }
    )
    model = Trainer(config).fit(fit_part)
    assert model.image_coder.code_dim_ == 2048
    result = evaluate(model, held_out)
    assert np.mean(result.ranks <= 20) > 2 * 20 / len(held_out)  # far from chance


@pytest.mark.parametrize(
    ("fusion", "selection_fit", "message"),
    [
        (
            {"holdout_items": 0, "holdout_refine": True},
            (359, 2),
            "fitting on 359 items, choosing on 90",
        ),
        (
            {"holdout_items": 100, "holdout_refine": False},
            (80, 0),
            "fitting on 80 items (learned mappers without refinement), choosing on 20",
        ),
    ],
)
def test_fusion_weights_are_chosen_on_a_capped_sample_without_refinement_when_asked(
    parts, monkeypatch, capsys, fusion: dict, selection_fit: tuple, message: str
) -> None:
    from retrieval.models.neural import NeuralMapper

    fits = []
    fit = NeuralMapper.fit

    def recorded_fit(self, X, Y):  # noqa: ANN001, ANN202
        fits.append((X.shape[0], self.epochs))
        return fit(self, X, Y)

    monkeypatch.setattr(NeuralMapper, "fit", recorded_fit)
    fit_part, _ = parts
    params = {"init": "cca", "cca_components": 16, "epochs": 2}
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False},
            "mappers": [{"kind": "neural", "space": "features", "params": params}],
            "tags": {"enabled": True, "joint_weights": [0.0]},
            "fusion": {"select": "holdout", **fusion},
        }
    )
    model = Trainer(config, verbose=True).fit(fit_part)
    assert fits == [selection_fit, (len(fit_part), 2)]  # the final fit is always the same
    assert message in capsys.readouterr().err
    assert model.tag_weight in config.fusion.grid


def joint_config(joint_weights: list[float], select: str = "holdout") -> RunConfig:
    params = {"init": "cca", "cca_components": 16, "epochs": 0}
    return RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False},
            "mappers": [{"kind": "neural", "space": "features", "params": params}],
            "tags": {"enabled": True, "joint_weights": joint_weights},
            "fusion": {"select": select},
        }
    )


def test_tags_join_the_features_space_with_the_weight_that_wins_on_the_holdout(
    parts, capsys, tmp_path
) -> None:
    import re

    fit_part, held_out = parts
    model = Trainer(joint_config([0.0, 1.0, 3.0]), verbose=True).fit(fit_part)
    log = capsys.readouterr().err
    tried = {
        float(w): float(v)
        for w, v in re.findall(r"tags in the features space with weight (\S+): (\S+)", log)
    }
    assert sorted(tried) == [0.0, 1.0, 3.0]
    chosen = 0.0 if model.tag_side is None else model.tag_side.weight
    assert tried[chosen] == max(tried.values())
    assert chosen > 0  # on the demo, the images' own tags help the mapping
    width = fit_part.features("pool5").shape[1] + len(model.tag_side.classes_)
    tagged = model.gallery_from_dataset(held_out)
    assert tagged.spaces["features"].shape == (len(held_out), width)
    # an untagged gallery of the same images: predicted tag scores where the tags would be,
    # or zeros from a model that predicts none
    n_tags = len(model.tag_side.classes_)
    untagged = model.gallery(held_out.ids, held_out.image_paths, held_out.features("pool5"))
    assert untagged.spaces["features"][:, -n_tags:].std(axis=0).max() > 0
    blank = dataclasses.replace(model, image_tags=None)
    blank_gallery = blank.gallery(held_out.ids, held_out.image_paths, held_out.features("pool5"))
    np.testing.assert_array_equal(blank_gallery.spaces["features"][:, -n_tags:], 0)
    rank_tagged = ranks_from_scores(
        Searcher(model, tagged).scores(held_out.texts()), held_out.relevant
    )
    rank_untagged = ranks_from_scores(
        Searcher(model, untagged).scores(held_out.texts()), held_out.relevant
    )
    assert np.mean(rank_untagged <= 20) > 2 * 20 / len(held_out)  # still far from chance
    assert np.mean(1 / rank_tagged) > np.mean(1 / rank_untagged)
    # the bundle keeps the indicators: the loaded model scores a gallery the same
    save_bundle(tmp_path / "bundle", model, tagged)
    loaded, gallery = load_bundle(tmp_path / "bundle")
    assert loaded.tag_side.weight == chosen and loaded.tag_side.classes_ == model.tag_side.classes_
    again = loaded.gallery_from_dataset(held_out)
    np.testing.assert_allclose(again.spaces["features"], tagged.spaces["features"], atol=1e-5)
    np.testing.assert_allclose(
        Searcher(loaded, gallery).scores(held_out.texts()[:5]),
        Searcher(model, tagged).scores(held_out.texts()[:5]),
        atol=1e-4,
    )


def test_each_tag_weight_refits_only_the_mappers_in_the_features_space(parts, monkeypatch) -> None:
    from retrieval.models.mappers import CCAMapper, RidgeMapper

    fits = {"ridge": 0, "cca": 0}
    for kind, cls in (("ridge", RidgeMapper), ("cca", CCAMapper)):
        original = cls.fit

        def counted(self, X, Y, _kind=kind, _original=original):  # noqa: ANN001, ANN202
            fits[_kind] += 1
            return _original(self, X, Y)

        monkeypatch.setattr(cls, "fit", counted)
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False},
            "mappers": [
                {"kind": "cca", "space": "features", "params": {"n_components": 16}},
                {"kind": "ridge", "space": "code"},
            ],
            "tags": {"enabled": True, "joint_weights": [0.0, 1.0, 3.0]},
            "fusion": {"select": "holdout"},
        }
    )
    Trainer(config).fit(parts[0])
    # the holdout fits the features-space member once per tag weight, the other once; then
    # both are fitted again on every item
    assert fits == {"cca": 3 + 1, "ridge": 1 + 1}


@pytest.mark.parametrize(("joint_weights", "expected"), [([3.0], 3.0), ([0.0, 3.0], None)])
def test_fixed_fusion_puts_the_tags_in_the_features_space_with_the_first_weight(
    parts, joint_weights: list[float], expected: float | None
) -> None:
    model = Trainer(joint_config(joint_weights, select="fixed")).fit(parts[0])
    assert (model.tag_side and model.tag_side.weight) == expected


def test_features_of_another_width_are_refused_naming_the_dataset(trained, parts) -> None:
    import dataclasses

    from retrieval.errors import DataFormatError

    _, held_out = parts
    narrow = dataclasses.replace(held_out, pool5=held_out.pool5[:, :-1])
    with pytest.raises(
        DataFormatError, match="2047 numbers per image, but the model was trained on 2048"
    ):
        trained.gallery_from_dataset(narrow)
