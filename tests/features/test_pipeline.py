"""The extraction pipeline: decoding workers, shared slots, the writer, resumption."""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval.features import _decode as decode_module
from retrieval.features import extract_features, load_picture
from retrieval.features._compiled import CompiledCall
from retrieval.features._decode import SlotDecoder
from retrieval.features._extract import _Rows, get_model

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """Seven paths, three of them bad (empty, not a picture, truncated), and the good four."""
    good = []
    for i in range(4):
        path = tmp_path / f"{i}.jpg"
        shutil.copyfile(DEMO / "images_train" / f"{i}.jpg", path)
        good.append(path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    (tmp_path / "cut.jpg").write_bytes(good[0].read_bytes()[:300])
    bad = [tmp_path / "empty.jpg", tmp_path / "text.jpg", tmp_path / "cut.jpg"]
    order = [bad[0], good[0], good[1], bad[1], good[2], bad[2], good[3]]
    return order, good


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_decoders_fill_the_right_rows_and_name_bad_files(
    kind: str, mixed: tuple[list[Path], list[Path]]
) -> None:
    order, _ = mixed
    with SlotDecoder(slots=2, batch_size=8, workers=2, kind=kind, draft=True) as decoder:
        decoder.slots[1] = 7  # stale pixels of an earlier batch
        reasons = decoder.reasons(1, decoder.submit(1, [str(p) for p in order]))
        for row, (path, reason) in enumerate(zip(order, reasons, strict=True)):
            if reason:
                assert not decoder.slots[1, row].any()
            else:
                np.testing.assert_array_equal(decoder.slots[1, row], load_picture(path, draft=True))
    assert reasons[0].startswith("empty file") and reasons[3] == "not an image"
    assert reasons[5].startswith("corrupt or truncated")
    assert [bool(r) for r in reasons] == [True, False, False, True, False, True, False]


def test_broken_worker_processes_fall_back_to_threads(
    mixed: tuple[list[Path], list[Path]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os

    def broken_pool(workers: int, buffer: str, shape: tuple[int, ...]) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, initializer=os._exit, initargs=(3,))

    monkeypatch.setattr(decode_module, "_process_pool", broken_pool)
    order, _ = mixed
    with SlotDecoder(slots=2, batch_size=8, workers=2, kind="process", draft=True) as decoder:
        first = decoder.reasons(0, decoder.submit(0, [str(p) for p in order]))
        second = decoder.reasons(1, decoder.submit(1, [str(p) for p in order[::-1]]))
        assert decoder.kind == "thread"
        np.testing.assert_array_equal(decoder.slots[0, 1], load_picture(order[1], draft=True))
    assert first == second[::-1] and sum(map(bool, first)) == 3
    assert "decoding in threads" in capsys.readouterr().err


@pytest.mark.parametrize("to_file", [False, True])
def test_rows_land_at_their_positions_and_bad_ones_are_dropped(
    tmp_path: Path, to_file: bool
) -> None:
    out = tmp_path / "rows.npy" if to_file else None
    rows = _Rows(6, 4, out)
    values = np.arange(24, dtype=np.float32).reshape(6, 4)
    rows.write([5, 0, 1], values[[5, 0, 1]])
    rows.write([2, 4], values[[2, 4]])
    keep = np.array([True, True, True, False, True, True])
    result = rows.finish(keep)
    np.testing.assert_array_equal(result, values[keep])
    if to_file:
        np.testing.assert_array_equal(np.load(out), values[keep])
        assert not (tmp_path / "rows.npy.partial").exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_worker_processes_skip_bad_files_without_shifting_rows(
    mixed: tuple[list[Path], list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    order, good = mixed
    paths = [*order, good[1]]  # a repeated picture gets a row each time
    result = extract_features(
        paths,
        weights=None,
        batch_size=2,
        workers=2,
        decoder="process",
        out=tmp_path / "pool5.npy",
    )
    assert result.paths == [good[0], good[1], good[2], good[3], good[1]]
    expected, _ = get_model(None, False, 0)(np.stack([load_picture(p) for p in result.paths]))
    assert result.pool5.shape == (5, 2048)
    np.testing.assert_allclose(result.pool5, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(np.load(tmp_path / "pool5.npy"), result.pool5)
    assert not (tmp_path / "pool5.npy.partial").exists()
    assert [p.name for p, _ in result.failures] == ["empty.jpg", "text.jpg", "cut.jpg"]
    err = capsys.readouterr().err
    assert f"skipping {order[3]}: not an image" in err
    threads = extract_features(paths, weights=None, batch_size=4, workers=1, decoder="thread")
    np.testing.assert_allclose(threads.pool5, result.pool5, atol=1e-4, rtol=0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_an_interrupted_run_resumes_from_the_cache(
    mixed: tuple[list[Path], list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, good = mixed
    pictures = good + [tmp_path / f"extra{i}.jpg" for i in range(2)]
    for i, path in enumerate(pictures[4:]):
        shutil.copyfile(DEMO / "images_train" / f"{10 + i}.jpg", path)
    cache, out = tmp_path / "cache", tmp_path / "pool5.npy"
    calls = []
    submit = CompiledCall.submit

    def interrupted(self: CompiledCall, pixels: np.ndarray) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return submit(self, pixels)

    monkeypatch.setattr(CompiledCall, "submit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_features(pictures, weights=None, batch_size=2, cache_dir=cache, out=out)
    assert not out.exists() and not (tmp_path / "pool5.npy.partial").exists()
    monkeypatch.setattr(CompiledCall, "submit", submit)
    resumed = extract_features(pictures, weights=None, batch_size=2, cache_dir=cache, out=out)
    assert resumed.reused == 2  # the first batch was written; the second never came back
    fresh = extract_features(pictures, weights=None, batch_size=2)
    np.testing.assert_allclose(resumed.pool5, fresh.pool5, atol=1e-4, rtol=0)
    again = extract_features(pictures, weights=None, cache_dir=cache)
    assert again.reused == 6
    np.testing.assert_array_equal(again.pool5, resumed.pool5)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_query_pictures_are_encoded_as_the_gallery_is(tmp_path: Path) -> None:
    from PIL import Image

    from retrieval.features import extract_array

    big = tmp_path / "big.jpg"  # large enough for draft decoding to change the pixels
    Image.open(DEMO / "images_train" / "3.jpg").resize((640, 480)).save(big, quality=90)
    paths = [big, DEMO / "images_train" / "5.jpg"]
    gallery = extract_features(paths, weights=None)
    queries = extract_array(iter(paths), weights=None)
    np.testing.assert_allclose(queries, gallery.pool5, atol=1e-4, rtol=0)
    full = extract_array(paths, weights=None, draft=False)
    assert not np.allclose(full[0], queries[0], atol=1e-4)  # draft decoding did change them
    np.testing.assert_allclose(full[1], queries[1], atol=1e-4, rtol=0)


def test_speed_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        extract_features([], weights=None, batch_size=0)
    with pytest.raises(ValueError, match="decoder"):
        extract_features([DEMO / "images_train" / "0.jpg"] * 1, weights=None, decoder="gpu")
