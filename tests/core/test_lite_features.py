"""EfficientNet-Lite0 features through the classic pipeline (``[data] features =
"efficientnet_lite0"``): written by the CLI, trained on, recorded in bundles and libraries,
rebuilt for example-image queries; and features that mean something.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.arrays import unit_rows
from retrieval.cli import main
from retrieval.config import RunConfig
from retrieval.core import Searcher, Trainer, load_bundle, save_bundle
from retrieval.data import load_competition
from retrieval.features import WeightsUnavailableError, extraction_settings
from tests.core.test_clip_features import small_competition

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
LITE0 = "efficientnet_lite0"


def demo_items(kind: str) -> tuple[np.ndarray, list[set[str]]]:
    """Every demo picture's ``kind`` features (shipped CSVs) and its tags."""
    parts = [
        load_competition(DEMO, "train", features=[kind]),
        load_competition(DEMO, "test", features=[kind], answers=DEMO / "answers_test.csv"),
    ]
    features = np.vstack([p.features(kind) for p in parts])
    return features, [{str(t) for t in tags} for p in parts for tags in p.tags]


def example_query_precision(kind: str, k: int = 5) -> float:
    """P@k of example-image queries: each demo picture queries the others; a hit shares a tag."""
    features, tags = demo_items(kind)
    codes = unit_rows(features)
    scores = codes @ codes.T
    np.fill_diagonal(scores, -np.inf)
    top = np.argsort(-scores, axis=1)[:, :k]
    return float(np.mean([[bool(tags[i] & tags[j]) for j in row] for i, row in enumerate(top)]))


def test_lite0_example_queries_find_their_own_category_random_resnet_does_not() -> None:
    """Measured: P@5 0.464 with Lite0, 0.158 with the random-weight ResNet-50 (701 pictures)."""
    lite0, resnet = example_query_precision(LITE0), example_query_precision("pool5")
    assert lite0 >= 0.40 and resnet <= 0.25 and lite0 >= 2 * resnet, (lite0, resnet)


def test_shipped_lite0_csvs_are_recorded_and_load_as_their_kind() -> None:
    train = load_competition(DEMO, "train")
    assert train.features(LITE0).shape == (len(train), 1280)
    record = train.record_of(LITE0)
    assert (
        record["model"] == LITE0 and record["weights"] == "imagenet" and len(record["sha256"]) == 64
    )
    assert extraction_settings(record) == {"model": LITE0, "weights": "imagenet", "seed": 0}


def test_a_record_of_other_weights_is_refused(tmp_path: Path) -> None:
    record = {**load_competition(DEMO, "train").record_of(LITE0), "sha256": "0" * 64}
    with pytest.raises(WeightsUnavailableError, match="not the efficientnet_lite0 weights"):
        extraction_settings(record)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_lite0_features_train_search_and_encode_pictures_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    root = small_competition(tmp_path / "comp")
    for split in ("train", "test"):
        args = ["features", "--competition", str(root), "--split", split, "--model", LITE0]
        assert main(args) == 0
    record = json.loads((root / "features_train" / f"features_{LITE0}.json").read_text())
    assert record["model"] == LITE0 and record["skipped"] == 0

    train = load_competition(root, "train")
    assert train.features(LITE0).shape == (30, 1280) and train.pool5 is None
    shipped = load_competition(DEMO, "train", features=[LITE0]).features(LITE0)[:30]
    np.testing.assert_allclose(train.features(LITE0), shipped, rtol=1e-3, atol=1e-4)
    config = RunConfig.from_dict(
        {
            "data": {"features": LITE0},
            "image": {"use_autoencoder": False, "whiten": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
            "tags": {"enabled": False},
        }
    )
    model = Trainer(config).fit(train)
    assert model.feature_record["model"] == LITE0
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    model, gallery = load_bundle(bundle)
    searcher = Searcher(model, gallery)
    hits = searcher.search_image(train.image_paths[7], k=1)  # rebuilt from the bundle's record
    assert hits[0].id == "7"

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(train.image_paths[3], photos / "three.jpg")
    store = tmp_path / "library"
    assert main(["index", str(photos), "--bundle", str(bundle), "--store", str(store)]) == 0
    manifest = json.loads((store / "index" / "manifest.json").read_text())
    assert manifest["features"]["model"] == LITE0
    assert main(["search", "--image", str(photos / "three.jpg"), "--library", str(store)]) == 0


def test_features_cli_names_the_networks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "x.jpg", "--out", "f.npy", "--model", "efficientnet"]) == 1
    err = capsys.readouterr().err
    assert "resnet50, efficientnet_lite0" in err and len(err.strip().splitlines()) == 1
