"""The Ray engine on a real Ray cluster on this machine (a head and a worker on 127.0.0.1):
the same rows as the local engine, a worker killed mid-run, an interrupted and resumed run.

The cluster is the one ``RAY_ADDRESS`` names (``.ci/run`` starts one), or one these tests
start and stop themselves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrieval.features import extract_features
from retrieval.features.ray_engine import RayUnavailableError
from retrieval.features.shards import load_shards, read_shards, write_shards

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
BIN = Path(sys.executable).parent
MODEL = "efficientnet_lite0"
BATCH = 16
SHARD = 64
NODE = ["--node-ip-address=127.0.0.1", "--disable-usage-stats", "--object-store-memory=300000000"]


def _ray(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ray"), *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a running Ray cluster with a head and one worker node.

    A cluster these tests start runs without token authentication (it listens on
    127.0.0.1 only), whatever token an earlier ``ray.init()`` left in ``~/.ray``."""
    pytest.importorskip("ray", reason="the Ray engine's tests need Ray (retrieval[ray])")
    address = os.environ.get("RAY_ADDRESS")
    if address:
        yield address
        return
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # for the nodes, this process and the commands
    address = f"127.0.0.1:{_free_port()}"
    head = _ray("start", "--head", f"--port={address.split(':')[1]}", "--num-cpus=1", *NODE)
    assert head.returncode == 0, head.stderr
    try:
        worker = _ray("start", f"--address={address}", "--num-cpus=1", *NODE)
        assert worker.returncode == 0, worker.stderr
        yield address
    finally:
        _ray("stop", "--force")
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A list file of 300 demo pictures, one of them twice, and a corrupt file."""
    folder = tmp_path_factory.mktemp("ray_pictures")
    bad = folder / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    paths = sorted((DEMO / "images_train").glob("*.jpg"))[:300]
    paths = paths[:100] + [bad] + paths[100:200] + [paths[3]] + paths[200:]
    listing = folder / "pictures.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    return listing


@pytest.fixture(scope="module")
def local_shards(pictures: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same pictures as shards from the local engine."""
    from retrieval.features.networks import network_record

    out = tmp_path_factory.mktemp("local") / "shards"
    paths = [Path(line) for line in pictures.read_text().splitlines()]
    write_shards(
        paths,
        out,
        record=network_record(MODEL, "imagenet"),
        shard_size=SHARD,
        model=MODEL,
        batch_size=BATCH,
        workers=1,
        progress=False,
    )
    return out


def _features_on_ray(pictures: Path, out: Path, address: str) -> subprocess.Popen:
    command = [str(BIN / "retrieval"), "features", str(pictures), "--shards", str(out)]
    command += ["--engine", "ray", "--address", address, "--model", MODEL]
    command += ["--batch-size", str(BATCH), "--shard-size", str(SHARD)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _assert_same_shards(ray_out: Path, local_out: Path) -> None:
    """Every shard complete, bit-identical rows, the same metadata, each input once."""
    ray_shards, local = list(read_shards(ray_out)), list(read_shards(local_out))
    assert [s.number for s in ray_shards] == [s.number for s in local] == list(range(5))
    for mine, theirs in zip(ray_shards, local, strict=True):
        assert mine.features.dtype == theirs.features.dtype
        np.testing.assert_array_equal(mine.features, theirs.features)
        columns = ["path", "size", "sha256", "status", "row"]
        pd.testing.assert_frame_equal(mine.metadata[columns], theirs.metadata[columns])
    listed = pd.concat([s.metadata for s in ray_shards])["path"].tolist()
    assert len(listed) == 302  # 300 pictures, the repeat and the corrupt file: none lost
    paths, rows = load_shards(ray_out)
    assert len(paths) == 301 and rows.shape == (301, 1280)


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def test_the_ray_engine_writes_the_local_engine_s_rows(
    cluster: str, pictures: Path, local_shards: Path, tmp_path: Path
) -> None:
    run = _features_on_ray(pictures, tmp_path / "ray", cluster)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert "5 shards" in out and "301 pictures, 1 skipped" in out
    _assert_same_shards(tmp_path / "ray", local_shards)
    corrupt = pd.read_parquet(tmp_path / "ray" / "metadata" / "part-00001.parquet")
    assert corrupt["status"].str.contains("corrupt|not an image|cannot").sum() == 1


def test_extract_features_on_ray_returns_what_the_local_engine_returns(
    cluster: str, pictures: Path
) -> None:
    paths = [Path(line) for line in pictures.read_text().splitlines()][
        90:130
    ]  # the corrupt one too
    settings = {"model": MODEL, "batch_size": BATCH, "progress": False}
    local = extract_features(paths, workers=1, **settings)
    on_ray = extract_features(paths, engine="ray", address=cluster, actors=1, **settings)
    assert not sys.modules["ray"].is_initialized()  # the connection it made is closed
    assert on_ray.paths == local.paths and len(on_ray.paths) == 39
    assert [(str(p), r) for p, r in on_ray.failures] == [(str(p), r) for p, r in local.failures]
    np.testing.assert_array_equal(on_ray.pool5, local.pool5)


def test_a_worker_killed_mid_run_costs_only_its_work(
    cluster: str, pictures: Path, local_shards: Path, tmp_path: Path
) -> None:
    """A second worker node joins the cluster and is killed (SIGKILL of its raylet and
    workers) once the job has written its first shard: Ray runs what the node held again
    elsewhere, and the job finishes with every row as the local engine writes it."""
    import ray

    worker = subprocess.Popen(
        [str(BIN / "ray"), "start", f"--address={cluster}", "--num-cpus=1", "--block", *NODE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ray.init(address=cluster, logging_level="ERROR", log_to_driver=False)
    try:
        _wait_for(lambda: ray.cluster_resources().get("CPU", 0) >= 3, 60, "the worker node")
        alive = sum(node["Alive"] for node in ray.nodes())
        run = _features_on_ray(pictures, tmp_path / "ray", cluster)
        first = tmp_path / "ray" / "metadata" / "part-00000.parquet"
        _wait_for(lambda: first.exists() or run.poll() is not None, 300, "the first shard")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        _wait_for(lambda: sum(n["Alive"] for n in ray.nodes()) < alive, 120, "the node's death")
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        ray.shutdown()
    _assert_same_shards(tmp_path / "ray", local_shards)


def test_an_interrupted_run_resumes_from_its_finished_shards(
    cluster: str, pictures: Path, local_shards: Path, tmp_path: Path
) -> None:
    run = _features_on_ray(pictures, tmp_path / "ray", cluster)
    first = tmp_path / "ray" / "metadata" / "part-00000.parquet"
    _wait_for(lambda: first.exists() or run.poll() is not None, 300, "the first shard")
    os.killpg(run.pid, signal.SIGKILL)  # the driver, mid-run
    run.wait(timeout=30)
    done = len(list((tmp_path / "ray" / "metadata").glob("*.parquet")))
    assert 1 <= done < 5
    again = _features_on_ray(pictures, tmp_path / "ray", cluster)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"{5 - done} written, {done} already complete" in out
    _assert_same_shards(tmp_path / "ray", local_shards)


def test_without_ray_one_line_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from retrieval.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as when not installed
    picture = sorted((DEMO / "images_train").glob("*.jpg"))[0]
    with pytest.raises(RayUnavailableError, match=r"pip install 'retrieval\[ray\]'"):
        extract_features([picture], engine="ray", model=MODEL)
    command = ["features", str(picture), "--shards", str(tmp_path / "s"), "--engine", "ray"]
    code = main([*command, "--model", MODEL])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "pip install 'retrieval[ray]'" in err[0]


@pytest.mark.parametrize("network", ["resnet50", "clip"])
def test_resnet50_and_clip_run_on_ray_with_the_local_rows(
    cluster: str, pictures: Path, network: str, clip_preset: Path
) -> None:
    """ResNet-50 (random weights, seeded) and a CLIP preset folder, built in each actor."""
    from retrieval.features.clip import clip_encoder

    paths = [Path(line) for line in pictures.read_text().splitlines()][95:115]
    if network == "clip":
        model, local_network, weights = f"clip:{clip_preset}", clip_encoder(str(clip_preset)), None
        local = extract_features(
            paths, network=local_network.images, batch_size=BATCH, workers=1, progress=False
        )
    else:
        model, weights = "resnet50", None
        local = extract_features(
            paths, model=model, weights=None, batch_size=BATCH, workers=1, progress=False
        )
    on_ray = extract_features(
        paths,
        model=model,
        weights=weights,
        engine="ray",
        address=cluster,
        actors=1,
        batch_size=BATCH,
        progress=False,
    )
    assert on_ray.paths == local.paths and len(on_ray.paths) == 19
    np.testing.assert_array_equal(on_ray.pool5, local.pool5)
