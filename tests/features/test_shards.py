"""Sharded feature outputs: the layout, resuming after an interruption, bad files, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrieval.errors import DataFormatError
from retrieval.features import extract_features
from retrieval.features.shards import load_shards, read_manifest, read_shards, write_shards

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
SETTINGS = {"model": "efficientnet_lite0", "batch_size": 4, "workers": 1, "progress": False}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eleven demo pictures with a corrupt file in the middle."""
    folder = tmp_path_factory.mktemp("pictures")
    bad = folder / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    paths = sorted((DEMO / "images_train").glob("*.jpg"))[:10]
    return paths[:6] + [bad] + paths[6:]


class Counting:
    """extract_features, counting the pictures it is asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __call__(self, chunk: list[Path]):
        self.asked.append(len(chunk))
        return extract_features(chunk, **SETTINGS)


@pytest.mark.slow
def test_shards_hold_the_local_rows_and_list_every_input(pictures, tmp_path: Path) -> None:
    summary = write_shards(pictures, tmp_path / "s", extract=Counting(), shard_size=4)
    assert (summary.shards, summary.written, summary.pictures) == (3, 3, 10)
    assert summary.skipped[0][0].endswith("corrupt.jpg")
    paths, rows = load_shards(tmp_path / "s")
    direct = extract_features(pictures, **SETTINGS)
    assert paths == direct.paths
    np.testing.assert_allclose(rows, direct.pool5, rtol=0, atol=1e-5)
    metadata = pd.concat([s.metadata for s in read_shards(tmp_path / "s")])
    assert metadata["path"].tolist() == [str(p) for p in pictures]  # none lost, none repeated
    bad = metadata[metadata["path"].str.endswith("corrupt.jpg")].iloc[0]
    assert bad["row"] == -1 and bad["status"] != "ok" and bad["sha256"] == ""
    good = metadata.iloc[0]
    assert good["status"] == "ok" and len(good["sha256"]) == 64 and good["size"] > 0
    assert read_manifest(tmp_path / "s")["shard_size"] == 4


@pytest.mark.slow
def test_an_interrupted_run_redoes_only_its_unfinished_shard(pictures, tmp_path: Path) -> None:
    write_shards(pictures, tmp_path / "s", extract=Counting(), shard_size=4)
    _, before = load_shards(tmp_path / "s")
    (tmp_path / "s" / "metadata" / "part-00001.parquet").unlink()  # killed before its metadata
    again = Counting()
    summary = write_shards(pictures, tmp_path / "s", extract=again, shard_size=4)
    assert again.asked == [4] and (summary.written, summary.kept) == (1, 2)
    _, after = load_shards(tmp_path / "s")
    np.testing.assert_array_equal(after, before)
    more = Counting()  # two pictures appended: the last shard grows, one more starts
    write_shards(pictures + pictures[:2], tmp_path / "s", extract=more, shard_size=4)
    assert more.asked == [4, 1]  # the last shard, now with 4 inputs, and a new one


def test_a_folder_of_another_kind_or_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="manifest.json: no such file"):
        list(read_shards(tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "retrieval.bundle"}))
    with pytest.raises(DataFormatError, match="not a folder of feature shards"):
        read_manifest(tmp_path)
    empty = tmp_path / "e"
    write_shards([], empty, extract=Counting(), shard_size=2, record={"model": "a"})
    with pytest.raises(DataFormatError, match="written with another features"):
        write_shards([], empty, extract=Counting(), shard_size=2, record={"model": "b"})
    with pytest.raises(DataFormatError, match="another shard_size"):
        write_shards([], empty, extract=Counting(), shard_size=3, record={"model": "a"})


def test_a_shard_whose_rows_disagree_with_its_metadata_is_named(tmp_path: Path) -> None:
    class Fake:
        def __call__(self, chunk):
            from retrieval.features import ExtractionResult

            return ExtractionResult(paths=list(chunk), pool5=np.ones((len(chunk), 3)), fc1000=None)

    write_shards(
        [tmp_path / "a.jpg", tmp_path / "b.jpg"], tmp_path / "s", extract=Fake(), shard_size=2
    )
    array = tmp_path / "s" / "features" / "part-00000.npy"
    np.save(array, np.ones((1, 3)))
    with pytest.raises(DataFormatError, match="part-00000.npy: 1 rows, its metadata lists 2"):
        load_shards(tmp_path / "s")


@pytest.mark.slow
def test_the_command_writes_shards_of_a_folder(tmp_path: Path) -> None:
    pictures = tmp_path / "pictures" / "sub"
    pictures.mkdir(parents=True)
    for path in sorted((DEMO / "images_test").glob("*.jpg"))[:5]:
        (pictures / path.name).write_bytes(path.read_bytes())
    command = [sys.executable, "-m", "retrieval", "features", str(tmp_path / "pictures")]
    command += [
        "--shards",
        str(tmp_path / "s"),
        "--shard-size",
        "2",
        "--model",
        "efficientnet_lite0",
    ]
    command += ["--no-cache", "--float16"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("3 shards in")
    paths, rows = load_shards(tmp_path / "s")
    assert len(paths) == 5 and rows.shape == (5, 1280)
    assert np.load(tmp_path / "s" / "features" / "part-00000.npy").dtype == np.float16
    assert read_manifest(tmp_path / "s")["features"]["model"] == "efficientnet_lite0"
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "(0 written, 3 already complete)" in again.stdout


def test_an_index_is_built_shard_by_shard(tmp_path: Path) -> None:
    from retrieval.features import ExtractionResult
    from retrieval.index import add_shards, make_index

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    paths = [tmp_path / f"{i}.jpg" for i in range(50)]
    lookup = {str(p): v for p, v in zip(paths, vectors, strict=True)}

    def extract(chunk):
        return ExtractionResult(
            paths=list(chunk), pool5=np.stack([lookup[str(p)] for p in chunk]), fc1000=None
        )

    write_shards(paths, tmp_path / "s", extract=extract, shard_size=16)
    for backend in ("exact", "hnsw"):
        index = make_index(backend)
        assert add_shards(index, tmp_path / "s", transform=lambda rows: 2 * rows) == 50
        ids, _ = index.search(vectors[[7, 31]], k=1)
        assert ids.tolist() == [[str(paths[7])], [str(paths[31])]]


def test_a_picture_listed_twice_in_one_shard_has_a_row_for_each_listing(tmp_path: Path) -> None:
    from retrieval.features import ExtractionResult

    rng = np.random.default_rng(0)
    vectors = {name: rng.normal(size=4).astype(np.float32) for name in "abc"}
    listed = [tmp_path / name for name in "abac"]

    def extract(chunk):  # as extract_features returns them: every listing, in input order
        return ExtractionResult(
            paths=list(chunk), pool5=np.stack([vectors[p.name] for p in chunk]), fc1000=None
        )

    write_shards(listed, tmp_path / "s", extract=extract, shard_size=4)
    (shard,) = read_shards(tmp_path / "s")
    assert shard.metadata["row"].tolist() == [0, 1, 2, 3]
    assert [p.name for p in shard.paths] == ["a", "b", "a", "c"]
    np.testing.assert_array_equal(shard.features[2], vectors["a"])
