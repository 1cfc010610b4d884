"""CLIP embeddings as the features of the classic pipeline (``[data] features = "clip"``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.cli import main
from retrieval.config import RunConfig
from retrieval.core import Searcher, Trainer, load_bundle, save_bundle
from retrieval.data import load_competition

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


def small_competition(root: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """The first demo items, pictures included, in the competition layout (no feature CSVs)."""
    for split, n in (("train", n_train), ("test", n_test)):
        for kind in ("descriptions", "tags", "images"):
            (root / f"{kind}_{split}").mkdir(parents=True)
        for i in range(n):
            for kind, suffix in (("descriptions", ".txt"), ("tags", ".txt"), ("images", ".jpg")):
                name = f"{i}{suffix}"
                shutil.copyfile(DEMO / f"{kind}_{split}" / name, root / f"{kind}_{split}" / name)
    return root


def test_clip_features_train_search_and_encode_pictures_the_same_way(
    clip_preset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    root = small_competition(tmp_path / "comp")
    for split in ("train", "test"):
        args = ["features", "--competition", str(root), "--split", split]
        assert main([*args, "--model", f"clip:{clip_preset}"]) == 0
    assert (root / "features_train" / "features_clip_train.csv").is_file()

    train = load_competition(root, "train")
    assert train.extra["clip"].shape == (30, 16) and train.pool5 is None
    assert train.record_of("clip")["model"] == "clip"
    config = RunConfig.from_dict(
        {
            "data": {"features": "clip"},
            "image": {"use_autoencoder": False, "whiten": False, "power": 1.0},
            "mappers": [{"kind": "ridge", "space": "features"}],
            "tags": {"enabled": False},
        }
    )
    model = Trainer(config).fit(train)
    assert model.feature_record["model"] == "clip" and model.feature_record["preset"] == str(
        clip_preset
    )
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    model, gallery = load_bundle(bundle)
    searcher = Searcher(model, gallery)
    # an example picture is embedded by the recorded CLIP: a training picture finds itself
    hits = searcher.search_image(train.image_paths[7], k=1)
    assert hits[0].id == "7"
    np.testing.assert_allclose(
        model.encode_images([train.image_paths[7]])[0], gallery.spaces["features"][7], atol=1e-4
    )
    assert len(searcher.search("a red apple", k=5)) == 5

    # a library coded with this bundle embeds new pictures with the same CLIP
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(train.image_paths[3], photos / "three.jpg")
    store = tmp_path / "library"
    assert main(["index", str(photos), "--bundle", str(bundle), "--store", str(store)]) == 0
    assert main(["search", "--image", str(photos / "three.jpg"), "--library", str(store)]) == 0


def test_clip_features_of_pictures_and_an_unknown_preset(
    clip_preset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLIP embeds pictures into a .npy (and into shards) as the other networks do; a preset
    that is neither a folder nor a known name is one line naming it."""
    import json

    pictures = [str(p) for p in sorted((DEMO / "images_train").glob("*.jpg"))[:3]]
    out = tmp_path / "clip.npy"
    command = ["features", *pictures, "--out", str(out), "--model", f"clip:{clip_preset}"]
    assert main([*command, "--no-cache"]) == 0
    rows = np.load(out)
    assert rows.shape[0] == 3 and np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert json.loads(out.with_suffix(".json").read_text())["features"]["model"] == "clip"
    capsys.readouterr()
    assert main(["features", "x.jpg", "--out", "f.npy", "--model", "clip:somewhere"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "somewhere" in err[-1] and err[-1].startswith("retrieval features: error:")
