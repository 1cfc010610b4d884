"""CLIP through keras-hub, with a tiny random preset folder loaded as a user's preset would be."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.cli import main
from retrieval.features.clip import ClipEncoder, ClipPresetError

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
PICTURES = [DEMO / "images_test" / f"{i}.jpg" for i in range(6)]
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def encoder(clip_preset: Path) -> ClipEncoder:
    return ClipEncoder(clip_preset)


def test_pictures_and_texts_are_unit_rows_of_one_space(encoder: ClipEncoder) -> None:
    pictures = encoder.encode_images(PICTURES[:5])
    texts = encoder.encode_texts(["a red apple", "A dog", "Ünïcode, punctuation & 42!"])
    assert pictures.shape == (5, 16) and texts.shape == (3, 16)
    assert pictures.dtype == texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pictures, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    assert np.abs(texts @ pictures.T).max() <= 1 + 1e-5
    assert encoder.encode_images([]).shape == encoder.encode_texts([]).shape == (0, 16)
    assert not np.allclose(texts[0], texts[1])


def test_the_same_picture_gives_the_same_embedding(encoder: ClipEncoder, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(PICTURES[0], copy)
    rows = encoder.encode_images([PICTURES[0], copy, PICTURES[1]])
    assert np.array_equal(rows[0], rows[1]) and not np.allclose(rows[0], rows[2])
    alone = encoder.encode_images([PICTURES[0]])  # another compiled batch size
    np.testing.assert_allclose(alone[0], rows[0], atol=1e-5)
    with Image.open(PICTURES[0]) as image:  # a PIL image (decoded in full, not in draft)
        assert float(encoder.encode_images([image])[0] @ rows[0]) > 0.99


def test_files_go_through_the_feature_pipeline_and_its_cache(
    encoder: ClipEncoder, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    first = encoder.encode_files([*PICTURES[:4], bad], cache_dir=tmp_path / "cache", workers=1)
    assert first.paths == PICTURES[:4] and [p for p, _ in first.failures] == [bad]
    np.testing.assert_allclose(first.pool5, encoder.encode_images(PICTURES[:4]), atol=1e-5)
    again = encoder.encode_files(PICTURES[:4], cache_dir=tmp_path / "cache")
    assert again.reused == 4 and np.array_equal(again.pool5, first.pool5)


def test_the_preset_folder_loads_again_as_saved(clip_preset: Path, encoder: ClipEncoder) -> None:
    assert encoder.record == {
        "model": "clip",
        "preset": str(clip_preset.resolve()),
        "embedding_dim": 16,
    }
    reloaded = ClipEncoder(str(clip_preset))
    texts = ["a red apple on the grass", "a cat"]
    assert np.array_equal(reloaded.encode_texts(texts), encoder.encode_texts(texts))
    assert encoder.token_count("a red apple") == 3  # whole words of the tiny vocabulary
    assert encoder.tokenize(["a " * 40]).shape == (1, encoder.sequence_length)


def test_a_missing_preset_is_one_clear_line(
    no_network: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ClipPresetError) as missing:
        ClipEncoder("clip_vit_base_patch32")
    message = str(missing.value)
    assert "\n" not in message and f"not in the kagglehub cache {no_network}" in message
    assert "--model clip:/path/to/that/folder" in message and "KAGGLEHUB_CACHE" in message
    assert "models/keras/clip/keras/clip_vit_base_patch32/" in message
    with pytest.raises(ClipPresetError, match="no such CLIP preset folder"):
        ClipEncoder(tmp_path / "nowhere")
    with pytest.raises(ClipPresetError, match="not a keras-hub preset folder"):
        ClipEncoder(tmp_path)
    with pytest.raises(ClipPresetError, match="not a CLIP preset name or folder.*clip_vit_base"):
        ClipEncoder("clip_vit_nope")

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copyfile(PICTURES[0], photos / "a.jpg")
    argv = ["index", str(photos), "--model", "clip:clip_vit_base_patch32"]
    assert main([*argv, "--store", str(tmp_path / "store")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("retrieval index: error: CLIP preset 'clip_vit_base_patch32' is not in")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_a_preset_name_in_a_copied_kagglehub_cache_loads_offline(
    clip_preset: Path, no_network: Path
) -> None:
    import keras_hub
    from kagglehub.cache import Cache, get_cached_path
    from kagglehub.handle import parse_model_handle

    name = "clip_vit_base_patch32"
    handle = keras_hub.models.CLIPBackbone.presets[name]["kaggle_handle"]
    handle = parse_model_handle(handle.removeprefix("kaggle://"))
    for file in clip_preset.rglob("*"):  # as a download leaves them: files and their markers
        if file.is_file():
            relative = str(file.relative_to(clip_preset))
            target = Path(get_cached_path(handle, relative))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            Cache().mark_as_complete(handle, relative)
    encoder = ClipEncoder(name)
    assert encoder.record == {"model": "clip", "preset": name, "embedding_dim": 16}
    assert encoder.encode_texts(["a dog"]).shape == (1, 16)
