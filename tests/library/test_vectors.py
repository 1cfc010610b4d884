"""A vector index built from feature shards under a bundle, and searched by text."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.cli import main
from retrieval.core import load_bundle
from retrieval.errors import DataFormatError
from retrieval.features.shards import load_shards, write_shards
from retrieval.index import load_index
from retrieval.library.vectors import SAMPLE, index_shards, picture_keys, search_index
from tests.library.conftest import bundle_network_shards
from tests.qdrant_standin import serving

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards (of 5) of 14 demo pictures, from the network the bundle was trained on."""
    root = tmp_path_factory.mktemp("archive")
    pictures = []
    for i in range(14):
        pictures.append(root / f"p{i:02d}.jpg")
        shutil.copyfile(DEMO / "images_test" / f"{i}.jpg", pictures[-1])
    return bundle_network_shards(pictures, root / "shards", shard_size=5)


def expected_ranking(bundle: Path, shards: Path, query: str) -> tuple[list[str], np.ndarray]:
    """Every picture by the first mapper's z-score over the whole collection, best first."""
    model, _ = load_bundle(bundle)
    paths, rows = load_shards(shards)
    keys = picture_keys(model, rows)
    scores = (model.query_keys(model.text_features([query]))[0] @ keys.T)[0]
    z = (scores - scores.mean()) / scores.std()
    order = np.argsort(-z, kind="stable")
    return [str(paths[i]) for i in order], z[order]


def test_an_index_from_shards_holds_every_picture_and_ranks_as_the_collection(
    bundle: Path, shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        main(
            ["index", "--from-shards", str(shards), "--bundle", str(bundle)]
            + ["--backend", "hnsw", "--out", str(tmp_path / "index")]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("14 pictures in a hnsw index")
    index = load_index(tmp_path / "index")
    assert len(index) == 14 and index.info["bundle"] == str(bundle.resolve())
    assert index.info_arrays[SAMPLE].shape[0] == 14  # a small collection is its own sample

    assert main(["search", "a red apple", "--vectors", str(tmp_path / "index"), "--k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    paths, z = expected_ranking(bundle, shards, "a red apple")
    assert [line.split("\t")[1] for line in lines] == paths[:4]
    np.testing.assert_allclose([float(line.split("\t")[0]) for line in lines], z[:4], atol=1e-3)


def test_qdrant_on_a_server_receives_the_points_in_parallel_batches(
    bundle: Path, shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model, _ = load_bundle(bundle)
    with serving() as server:
        index = index_shards(
            model,
            bundle,
            shards,
            backend="qdrant",
            url=server.url,
            collection="archive",
            upload_workers=3,
            batch_size=2,
            progress=False,
        )
        index.save(tmp_path / "qdrant")
        stored = server.points("archive")
        assert len(stored) == 14 and sorted(p["id"] for _, p in stored.values()) == sorted(
            index.ids_
        )
        assert server.most_in_flight >= 2  # a shard's 5 points went up as 3 batches at once
        assert main(["search", "a red apple", "--vectors", str(tmp_path / "qdrant")]) == 0
    found = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert found == expected_ranking(bundle, shards, "a red apple")[0]


def test_the_command_line_uploads_to_a_qdrant_server(
    bundle: Path, shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with serving() as server:
        args = ["index", "--from-shards", str(shards), "--bundle", str(bundle)]
        args += ["--backend", "qdrant", "--qdrant-url", server.url, "--collection", "mine"]
        assert main(args + ["--out", str(tmp_path / "q")]) == 0
        assert len(server.points("mine")) == 14
    assert f"(points on {server.url}, collection mine)" in capsys.readouterr().out
    assert load_index(tmp_path / "q").params()["url"] == server.url


def test_mistakes_are_named(bundle: Path, shards: Path, tmp_path: Path, capsys) -> None:
    base = ["index", "--from-shards", str(shards), "--bundle", str(bundle), "--backend", "hnsw"]
    assert main(base) == 1
    assert "--backend hnsw needs --out" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x"), str(tmp_path)]) == 1
    assert "give no folders" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x"), "--qdrant-url", "http://h"]) == 1
    assert "--qdrant-url goes with --backend qdrant" in capsys.readouterr().err
    assert main(["index", str(tmp_path), "--out", str(tmp_path / "y")]) == 1
    assert "--out goes with --backend" in capsys.readouterr().err

    other = tmp_path / "other"
    write_shards([], other, record={"model": "efficientnet_lite0"})
    model, _ = load_bundle(bundle)
    with pytest.raises(DataFormatError, match="other/manifest.json: its rows come from"):
        index_shards(model, bundle, other)

    index = index_shards(model, bundle, shards, backend="exact", progress=False)
    index.info["features"] = {"model": "efficientnet_lite0"}
    with pytest.raises(DataFormatError, match="not keys of this bundle"):
        search_index(model, index, ["a dog"])
