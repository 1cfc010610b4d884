from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from retrieval.features import IMAGE_SUFFIXES, BadImageError, load_picture, to_rgb_on_white


def test_transparent_pixels_become_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (50, 50), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 25, 50))
    rgba.save(tmp_path / "a.png")
    pixels = load_picture(tmp_path / "a.png")
    assert pixels.shape == (224, 224, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[112, 200]) == (255, 255, 255)
    assert tuple(pixels[112, 20]) == (0, 0, 255)


def test_palette_with_transparency_grayscale_and_cmyk(tmp_path: Path) -> None:
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    palette.info["transparency"] = 1
    palette.save(tmp_path / "p.png", transparency=1)
    assert tuple(load_picture(tmp_path / "p.png")[5, 5]) == (255, 255, 255)
    Image.new("L", (10, 10), 100).save(tmp_path / "g.png")
    assert tuple(load_picture(tmp_path / "g.png")[5, 5]) == (100, 100, 100)
    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    red = load_picture(tmp_path / "c.jpg")[5, 5]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    picture = Image.new("RGB", (40, 20), "white")
    picture.paste((0, 0, 0), (0, 0, 20, 20))  # left half black
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    picture.save(tmp_path / "o.jpg", exif=exif)
    pixels = load_picture(tmp_path / "o.jpg")
    assert pixels[20, 112].mean() < 60  # the black half is on top after rotation
    assert pixels[200, 112].mean() > 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"this is a text file, not a picture", "not an image"),
        ("truncated", "corrupt or truncated"),
    ],
)
def test_bad_files_raise_with_reason(tmp_path: Path, content: bytes | str, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    if content == "truncated":
        buffer = io.BytesIO()
        Image.new("RGB", (300, 300), "red").save(buffer, format="JPEG")
        content = buffer.getvalue()[:400]
    path.write_bytes(content)
    with pytest.raises(BadImageError, match=reason) as err:
        load_picture(path)
    assert err.value.path == path


def test_decompression_bomb_and_missing_file(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(bomb)
    with pytest.raises(BadImageError, match="too many pixels|decompression bomb"):
        load_picture(bomb)
    with pytest.raises(BadImageError, match="file not found"):
        load_picture(tmp_path / "none.jpg")


def photo_like(path: Path, size: tuple[int, int] = (640, 480), seed: int = 0) -> Path:
    """A JPEG with the texture of a photo: a gradient, a few shapes, mild noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    base = (40 + 160 * x) * np.array([1.0, 0.6, 0.3]) + 50 * y
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((w // 5, h // 4, w // 2, h // 2 + 60), fill=(200, 30, 40))
    draw.rectangle((w // 2, h // 3, w - 60, h - 40), fill=(20, 90, 200))
    noisy = np.asarray(image.filter(ImageFilter.GaussianBlur(1)), np.float32)
    noisy += rng.normal(0, 8, noisy.shape)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def test_draft_decoding_stays_close_to_full_decoding(tmp_path: Path) -> None:
    big = photo_like(tmp_path / "big.jpg")
    full, draft = load_picture(big), load_picture(big, draft=True)
    diff = np.abs(full.astype(np.int16) - draft.astype(np.int16))
    # measured here: mean 0.73, 99th percentile 3, max 9 grey levels (at the shapes' edges)
    assert 0 < diff.mean() < 1.5
    assert np.percentile(diff, 99) <= 6 and diff.max() <= 40
    with Image.open(big) as image:  # 640x480 is decoded at 320x240: the smallest scale >= 224
        image.draft("RGB", (224, 224))
        assert image.size == (320, 240)


def test_draft_decoding_leaves_small_jpegs_and_other_formats_alone(tmp_path: Path) -> None:
    small = photo_like(tmp_path / "small.jpg", size=(400, 300))  # under twice 224: no scaling
    np.testing.assert_array_equal(load_picture(small, draft=True), load_picture(small))
    Image.open(photo_like(tmp_path / "p.jpg")).save(tmp_path / "p.png")
    png = tmp_path / "p.png"
    np.testing.assert_array_equal(load_picture(png, draft=True), load_picture(png))


def test_16_bit_grey_keeps_its_brightness(tmp_path: Path) -> None:
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(tmp_path / "grey16.png")
    with Image.open(tmp_path / "grey16.png") as image:
        assert image.mode.startswith("I")  # read as 16-bit, not reduced to 8 bits
    pixels = load_picture(tmp_path / "grey16.png")
    assert np.all(np.abs(pixels.astype(int) - 155.6) <= 1)  # 40000 / 65535 * 255
    ramp = np.repeat(np.linspace(0, 30000, 224).astype(np.uint16)[None, :], 224, axis=0)
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    row = load_picture(tmp_path / "ramp16.png")[112, :, 0].astype(int)
    expected = np.rint(ramp[112].astype(int) * 255 / 65535)  # not stretched to 255
    assert np.abs(row - expected).max() <= 1 and row.max() <= 118


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_16_bit_modes_scale_by_the_full_range(mode: str) -> None:
    levels = np.array([[0, 1000, 40000, 65535]], dtype=np.uint16)
    if mode == "I":
        image = Image.fromarray(levels.astype(np.int32))
    else:
        image = Image.frombytes(mode, (4, 1), levels.astype("<u2" if mode == "I;16" else ">u2"))
    assert image.mode == mode
    grey = np.asarray(to_rgb_on_white(image))[0, :, 1]
    assert grey.tolist() == [0, 4, 156, 255]


def test_a_heic_picture_is_read_through_pillow_heif(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "phone.HEIC", format="HEIF")
    pixels = load_picture(tmp_path / "phone.HEIC", size=16)
    assert pixels.shape == (16, 16, 3)
    assert np.abs(pixels.astype(int) - [200, 30, 30]).max() <= 6  # lossy, but that red
    assert ".heic" in IMAGE_SUFFIXES


def test_without_pillow_heif_a_heic_picture_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    (tmp_path / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if it were not installed
    with pytest.raises(BadImageError, match=r"pip install 'retrieval\[heic\]'"):
        load_picture(tmp_path / "phone.heic")
