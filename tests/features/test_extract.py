from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.data import load_competition, read_feature_csv
from retrieval.features import WeightsUnavailableError, extract_features, write_competition_features
from retrieval.features._model import ResNet50Features

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


@pytest.fixture
def pictures(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "pics"
    folder.mkdir()
    paths = []
    for i in range(5):
        path = folder / f"{i}.jpg"
        shutil.copyfile(DEMO / "images_train" / f"{i}.jpg", path)
        paths.append(path)
    return paths


def test_bad_files_are_skipped_without_shifting_rows(
    pictures: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    mixed = [
        pictures[0],
        tmp_path / "empty.jpg",
        pictures[1],
        tmp_path / "text.jpg",
        tmp_path / "gone.jpg",
        pictures[2],
    ]
    result = extract_features(mixed, weights=None, batch_size=2, workers=2)
    clean = extract_features(pictures[:3], weights=None, batch_size=3)
    assert result.paths == pictures[:3]
    np.testing.assert_allclose(result.pool5, clean.pool5, rtol=1e-4, atol=1e-4)
    reasons = dict(result.failures)
    assert reasons[tmp_path / "empty.jpg"].startswith("empty file")
    assert reasons[tmp_path / "text.jpg"] == "not an image"
    assert "cannot read" in reasons[tmp_path / "gone.jpg"]
    assert f"skipping {tmp_path / 'text.jpg'}: not an image" in capsys.readouterr().err


def test_cache_extracts_only_new_or_changed_files(pictures: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = extract_features(pictures[:3], weights=None, cache_dir=cache, fc1000=True)
    assert first.reused == 0
    second = extract_features(pictures, weights=None, cache_dir=cache, fc1000=True)
    assert second.reused == 3
    np.testing.assert_array_equal(second.pool5[:3], first.pool5)
    Image.open(DEMO / "images_train" / "9.jpg").save(pictures[0])  # changed content and mtime
    third = extract_features(
        pictures, weights=None, cache_dir=cache, fc1000=True, out=tmp_path / "pool5.npy"
    )
    assert third.reused == 4
    assert not np.allclose(third.pool5[0], first.pool5[0])
    np.testing.assert_array_equal(np.load(tmp_path / "pool5.npy"), third.pool5)
    assert third.fc1000.shape == (5, 1000)


def test_interrupted_manifest_line_is_ignored(pictures: list[Path], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extract_features(pictures[:2], weights=None, cache_dir=cache)
    manifest = next(cache.glob("*/manifest.jsonl"))
    manifest.write_text(manifest.read_text() + '{"key": "half a li')
    again = extract_features(pictures[:3], weights=None, cache_dir=cache)
    assert again.reused == 2 and len(again.paths) == 3


def test_competition_csvs_round_trip_through_the_reader(tmp_path: Path) -> None:
    root = tmp_path / "comp"
    for kind in ("images", "descriptions", "tags"):
        (root / f"{kind}_train").mkdir(parents=True)
    for i in range(4):
        shutil.copyfile(DEMO / "images_train" / f"{i}.jpg", root / "images_train" / f"{i}.jpg")
        (root / "descriptions_train" / f"{i}.txt").write_text(f"Picture {i}.\n")
        (root / "tags_train" / f"{i}.txt").write_text("a:b\n")
    written = write_competition_features(root, "train", weights=None, float_format="%.6g")
    ids, _ = read_feature_csv(written[0])
    assert sorted(ids) == ["0", "1", "2", "3"] and ids != [
        "0",
        "1",
        "2",
        "3",
    ]  # shuffled rows, as in the competition
    part = load_competition(root, "train", on_error="raise")
    direct = extract_features(part.image_paths, weights=None, fc1000=True)
    np.testing.assert_allclose(part.pool5, direct.pool5, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(part.fc1000, direct.fc1000, rtol=1e-4, atol=1e-3)
    assert "random initialisation" in (root / "features_train" / "NOTE.txt").read_text()


def test_missing_weights_give_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(WeightsUnavailableError, match="weights file not found"):
        ResNet50Features(tmp_path / "missing.h5")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv(
        "HTTPS_PROXY", "http://127.0.0.1:9"
    )  # any download fails at once, offline or not
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    with pytest.raises(
        WeightsUnavailableError, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ) as err:
        ResNet50Features("imagenet")
    # the ways out, in the command line's words first
    for option in ("--weights PATH", "--weights none", "--model efficientnet_lite0"):
        assert option in str(err.value)


def test_demo_feature_csvs_match_a_fresh_extraction() -> None:
    part = load_competition(DEMO, "test")
    fresh = extract_features(part.image_paths[:4], weights=None, fc1000=True)
    np.testing.assert_allclose(part.pool5[:4], fresh.pool5, rtol=6e-3, atol=2e-3)


@pytest.mark.parametrize("damage", ["truncated", "wrong shape", "pickled", "not finite"])
def test_damaged_cache_shard_is_reported_and_extracted_again(
    damage: str, pictures: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    first = extract_features(pictures[:2], weights=None, cache_dir=cache)
    (shard,) = cache.glob("*/*.pool5.npy")
    if damage == "truncated":
        shard.write_bytes(shard.read_bytes()[:1000])
    elif damage == "wrong shape":
        np.save(shard, np.zeros((2, 7), np.float32))
    elif damage == "not finite":  # a NaN shard used to block every later run
        rows = np.load(shard)
        rows[1, 5] = np.nan
        np.save(shard, rows)
    else:
        np.save(shard, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    capsys.readouterr()
    again = extract_features(pictures[:3], weights=None, cache_dir=cache)
    assert again.reused == 0 and again.paths == pictures[:3]
    np.testing.assert_allclose(again.pool5[:2], first.pool5, rtol=1e-4, atol=1e-4)
    err = capsys.readouterr().err
    assert err.count("ignoring damaged cache file") == 1 and f"{shard}: " in err
    third = extract_features(pictures[:3], weights=None, cache_dir=cache)  # cache rewritten
    assert third.reused == 3 and "damaged" not in capsys.readouterr().err
    np.testing.assert_array_equal(third.pool5, again.pool5)
