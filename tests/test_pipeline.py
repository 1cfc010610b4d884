from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.config import RunConfig
from retrieval.data import load_competition, train_val_split
from retrieval.evaluation import evaluate, relevant_ranks
from retrieval.pipeline import BundleError, Retriever

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
pytestmark = pytest.mark.slow


def small_config(**regressor: object) -> RunConfig:
    return RunConfig.from_dict(
        {
            "image": {"code_dim": 32, "hidden": [128], "epochs": 15},
            "regressor": {"hidden": [128], "epochs": 40, **regressor},
            "tags": {"enabled": True, "weight": 0.5},
        }
    )


@pytest.fixture(scope="module")
def parts():
    return train_val_split(load_competition(DEMO, "train"), val_size=0.2, seed=0)


@pytest.fixture(scope="module")
def trained(parts) -> Retriever:
    fit_part, _ = parts
    return Retriever(small_config()).fit(fit_part)


def test_training_captions_find_their_own_image(trained: Retriever, parts) -> None:
    fit_part, _ = parts
    scores = trained.scores(fit_part.texts())
    ranks = relevant_ranks(scores, np.arange(len(fit_part)))
    chance_top20 = 20 / len(fit_part)
    assert np.mean(ranks <= 20) > 10 * chance_top20


def test_held_out_retrieval_beats_chance(trained: Retriever, parts) -> None:
    _, held_out = parts
    result = evaluate(trained, held_out)
    assert result.gallery_size == len(held_out) == 112
    assert result.top.shape == (112, 20)
    assert np.mean(result.ranks <= 20) > 1.5 * 20 / 112


def test_search_returns_sorted_hits_from_the_gallery(trained: Retriever, parts) -> None:
    fit_part, _ = parts
    hits = trained.search(fit_part.texts()[3], k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.path == fit_part.image_paths[h.index] for h in hits)
    with pytest.raises(ValueError, match="empty"):
        trained.search("   ")


def test_bundle_round_trip_ranks_exactly_as_before(
    trained: Retriever, parts, tmp_path: Path
) -> None:
    _, held_out = parts
    before = trained.rank(held_out.texts(), held_out, k=20)
    trained.save(tmp_path / "bundle")
    loaded = Retriever.load(tmp_path / "bundle")
    np.testing.assert_array_equal(loaded.rank(held_out.texts(), held_out, k=20), before)
    after, before_hits = loaded.search("a red apple", 3), trained.search("a red apple", 3)
    assert [h.id for h in after] == [h.id for h in before_hits]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before_hits], rtol=1e-5)


def test_loaded_bundle_searches_without_keras(trained: Retriever, tmp_path: Path) -> None:
    trained.save(tmp_path / "bundle")
    code = (
        "import sys; from retrieval.pipeline import Retriever;"
        f"r = Retriever.load({str(tmp_path / 'bundle')!r}); print(len(r.search('a dog', 3)));"
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["3", "False", "False"]


def test_unknown_bundle_format_fails_clearly(trained: Retriever, tmp_path: Path) -> None:
    trained.save(tmp_path / "bundle")
    manifest = tmp_path / "bundle" / "bundle.json"
    data = json.loads(manifest.read_text())
    data["format"] = 99
    manifest.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="bundle format 99"):
        Retriever.load(tmp_path / "bundle")
    with pytest.raises(BundleError, match="no bundle.json"):
        Retriever.load(tmp_path)


def test_rank_texts_puts_the_true_caption_first_for_most_images(trained: Retriever, parts) -> None:
    fit_part, _ = parts
    captions = fit_part.texts()[:30]
    hits = 0
    for i in range(30):
        ranked = trained.rank_texts(trained.gallery_.codes[i], captions)
        hits += ranked[0][0] == captions[i]
    assert hits >= 10  # chance: 1 in 30


def test_nan_features_and_unpaired_data_are_refused(trained: Retriever) -> None:
    with pytest.raises(ValueError, match="NaN"):
        trained.encode_features(np.full((1, 2048), np.nan, dtype=np.float32))
    test_part = load_competition(DEMO, "test")
    with pytest.raises(ValueError, match="paired"):
        Retriever(small_config()).fit(test_part)


@pytest.mark.parametrize(
    "backend, params", [("hnsw", {"ef": 64}), ("binary", {"candidates": 1000})]
)
def test_an_index_backend_proposes_candidates_that_are_scored_in_full(
    trained: Retriever, parts, backend: str, params: dict, tmp_path: Path
) -> None:
    fit_part, _ = parts
    loaded = Retriever.load(trained.save(tmp_path / "bundle"))
    loaded.config.index.backend, loaded.config.index.params = backend, params
    loaded.config.index.candidates = 40
    queries = fit_part.texts()[:25]
    with_index = [[hit.index for hit in loaded.search(text, k=10)] for text in queries]
    assert loaded._gallery_index[1].backend == backend
    # the index proposes about the 40 nearest codes; those are ranked by the fused score
    codes, fused = trained.encode_texts(queries), trained.scores(queries)
    recalls = []
    for row, hits in enumerate(with_index):
        proposed = loaded._candidates(codes[row], 10)
        assert len(proposed) == 40
        expected = proposed[np.argsort(-fused[row, proposed], kind="stable")[:10]]
        assert hits == expected.tolist()
        nearest = np.argsort(-(trained.gallery_.codes @ codes[row]))[:40]
        recalls.append(len(set(proposed) & set(nearest)) / 40)
    assert np.mean(recalls) > 0.9
    # code-space search needs no fusion: the index's answer is the exact one
    code = loaded.gallery_.codes[7]
    assert [h.index for h in loaded.search_code(code, k=10)] == [
        h.index for h in trained.search_code(code, k=10)
    ]
    # a new gallery gets a new index
    loaded.set_gallery(loaded.gallery_.subset(range(100)))
    assert loaded.search_code(code, k=1)[0].index == 7
    assert len(loaded._gallery_index[1]) == 100


def test_a_bare_string_where_a_list_is_expected_is_refused(trained: Retriever) -> None:
    with pytest.raises(TypeError, match=r"scores\(\) takes a list of descriptions"):
        trained.scores("a red apple")
    with pytest.raises(TypeError, match=r"encode_texts\(\) takes a list"):
        trained.encode_texts("a red apple")
