"""Faults injected into real runs: a writer killed between its two renames, two ``index``
processes on one library, and a device that fills up under ``train``, ``index`` and ``submit``.

Each test runs the command line (or a writer) in its own process, as a user would, and
checks that no good output was lost, nothing half-written was left and any error is one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.config import RunConfig
from retrieval.core import Trainer, save_bundle
from retrieval.data import load_competition

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
CLI = [sys.executable, "-m", "retrieval"]


def run_cli(*args: str | Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed run, after checking that it failed without a traceback."""
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ridge bundle on the demo's EfficientNet-Lite0 features (trained in seconds)."""
    config = RunConfig.from_toml(REPO / "configs" / "peers" / "ridge.toml")
    config.tags.enabled = False
    train = load_competition(DEMO, "train")
    model = Trainer(config).fit(train)
    return save_bundle(
        tmp_path_factory.mktemp("faults") / "bundle", model, model.gallery_from_dataset(train)
    )


def test_a_writer_killed_between_its_two_renames_leaves_the_old_version_readable(
    tmp_path: Path,
) -> None:
    folder = store.save(tmp_path / "thing", "thing", {"size": 3}, {"x": np.arange(3.0)})
    child = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from retrieval import store

        real_replace = os.replace

        def replace(source, target):  # the first rename sets the old version aside ...
            real_replace(source, target)
            if str(target).endswith(".old"):
                os.kill(os.getpid(), signal.SIGKILL)  # ... and the writer dies there

        os.replace = replace
        store.save({str(folder)!r}, "thing", {{"size": 4}}, {{"x": np.arange(4.0)}})
        """
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL
    assert not folder.exists()  # killed between the renames: only the old version, aside
    assert store.load(folder, "thing").meta == {"size": 3}  # read from it, and put back
    assert folder.is_dir()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left != ["thing"]  # the killed writer's staging folder is still there ...
    store.save(folder, "thing", {"size": 5}, {"x": np.arange(5.0)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing"]  # ... until the next save
    assert store.load(folder, "thing").meta == {"size": 5}


@pytest.mark.slow
def test_two_index_processes_on_one_library_never_run_together(
    bundle: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    first = subprocess.Popen(
        [*CLI, "index", DEMO / "images_train", "--library", library, "--bundle", bundle],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    lock = library / ".lock"
    deadline = time.monotonic() + 120
    while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
        assert first.poll() is None, "the first run ended before the second could start"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    second = run_cli("index", DEMO / "images_test", "--library", library, "--bundle", bundle)
    assert time.monotonic() - started < 30  # refused at once, not after waiting
    assert f"another run (process {first.pid})" in one_line_error(second)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    # the library the first run made is whole, and the second can now add its folder
    again = run_cli("index", DEMO / "images_test", "--library", library)
    assert again.returncode == 0, again.stderr[-2000:]
    found = run_cli("search", "a red apple", "--library", library, "--k", "3", "--paths-only")
    assert found.returncode == 0 and len(found.stdout.splitlines()) == 3


@pytest.fixture
def small_device(tmp_path: Path) -> Iterator[Path]:
    """A 12 MB tmpfs mounted for the test (skipped where mounting is not allowed)."""
    mount = tmp_path / "device"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def fill(device: Path, leave: int) -> None:
    """Fill ``device`` until about ``leave`` bytes are free."""
    free = os.statvfs(device).f_bavail * os.statvfs(device).f_frsize
    with open(device / "ballast", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


@pytest.mark.slow
def test_a_full_device_is_one_line_and_keeps_every_earlier_output(
    bundle: Path, small_device: Path
) -> None:
    submission = small_device / "submission.csv"
    made = run_cli("submit", "--bundle", bundle, "--root", DEMO, "--out", submission)
    assert made.returncode == 0, made.stderr[-2000:]
    before = submission.read_bytes()
    library = small_device / "library"
    made = run_cli("index", DEMO / "images_test", "--library", library, "--bundle", bundle)
    assert made.returncode == 0, made.stderr[-2000:]
    config = small_device / "ridge.toml"
    config.write_text((REPO / "configs" / "peers" / "ridge.toml").read_text())
    fill(small_device, leave=8 * 1024)

    # submit over an existing file: the old one stays
    line = one_line_error(
        run_cli("submit", "--bundle", bundle, "--root", DEMO, "--out", submission)
    )
    assert "no space left" in line and "submission.csv" in line
    assert submission.read_bytes() == before
    # train into a new run folder: nothing half-written
    line = one_line_error(
        run_cli("train", "--config", config, "--root", DEMO, "--out", small_device / "run")
    )
    assert "no space left" in line
    # index into a new library, and add a folder to an existing one
    line = one_line_error(
        run_cli(
            "index", DEMO / "images_test", "--library", small_device / "lib", "--bundle", bundle
        )
    )
    assert "no space left" in line
    line = one_line_error(run_cli("index", DEMO / "images_train", "--library", library))
    assert "no space left" in line
    assert leftovers(small_device) == []
    (small_device / "ballast").unlink()  # the existing library still answers, as it was
    found = run_cli("search", "a red apple", "--library", library, "--k", "200", "--paths-only")
    assert found.returncode == 0, found.stderr[-2000:]
    assert {Path(p).parent.name for p in found.stdout.split()} == {"images_test"}
    assert len(found.stdout.split()) == 140
    for folder in (small_device / "run", small_device / "lib", library):
        if folder.is_dir():
            assert all(leftovers(f) == [] for f in [folder, *folder.rglob("*")] if f.is_dir())
            assert not (folder / "bundle").is_dir() or not any((folder / "bundle").iterdir())
