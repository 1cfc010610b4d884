"""Decoding pictures for the image networks: any mode in, square RGB out (224x224 for
ResNet-50; CLIP asks for its own size, a centre crop and bicubic resampling); bad files named,
never fatal."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from retrieval.errors import RetrievalError

INPUT_SIZE = 224
RESAMPLING = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
MAX_PIXELS = 64_000_000  # larger than any camera picture; a "decompression bomb" beyond
HEIF_SUFFIXES = (".heic", ".heif")
"""Phone cameras' HEIF pictures, read through the ``pillow-heif`` package (``retrieval[heic]``)."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", *HEIF_SUFFIXES)
"""The file name endings read as pictures (lower case): a folder's crawl, a query term."""


def _read_heif(path: Path) -> None:
    """Teach PIL to open HEIF files (once), or say what to install."""
    try:
        import pillow_heif
    except ImportError:
        raise BadImageError(
            path, "a HEIF picture; install pillow-heif to read it: pip install 'retrieval[heic]'"
        ) from None
    pillow_heif.register_heif_opener()


class BadImageError(RetrievalError):
    """A file that cannot be used as a picture; ``reason`` says why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def heif_as_jpeg(path: str | os.PathLike[str], max_side: int = 2048) -> bytes:
    """A HEIF picture as JPEG bytes (at most ``max_side`` pixels a side), for browsers that
    cannot show HEIF; :class:`BadImageError` when it cannot be read."""
    import io

    path = Path(path)
    _read_heif(path)
    try:
        with Image.open(path) as image:
            image = to_rgb_on_white(ImageOps.exif_transpose(image))
            image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=90)
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImageError(path, f"corrupt HEIF picture ({exc})") from None
    return out.getvalue()


def to_rgb_on_white(image: Image.Image) -> Image.Image:
    """Convert palette, grayscale (16-bit too), CMYK, and transparent pictures to RGB
    (transparency on white)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray(_grey_levels(np.asarray(image, dtype=np.float64)))
    return image.convert("RGB")


def _grey_levels(array: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit integer) grey values as 8-bit ones.

    Values within 0..65535 are 16-bit data, scaled by the full range (40000 -> 156), so a
    picture keeps its brightness; 32-bit values beyond it are scaled by their own range.
    """
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if low < 0 or high > 65535:
        array, high = array - low, (high - low) or 1.0
    else:
        high = 65535.0
    return np.clip(np.rint(array * (255.0 / high)), 0, 255).astype(np.uint8)


def load_picture(
    source: str | os.PathLike[str] | Image.Image,
    size: int = INPUT_SIZE,
    *,
    draft: bool = False,
    crop: bool = False,
    resample: str = "bilinear",
) -> np.ndarray:
    """A picture as a ``(size, size, 3)`` uint8 array: EXIF orientation applied, resized.

    The whole picture is squeezed into the square (ResNet-50's way), or with ``crop=True`` its
    centred square is taken first, keeping the aspect ratio (CLIP's way); ``resample`` is
    ``"bilinear"`` or ``"bicubic"``.

    With ``draft=True`` a JPEG file is decoded at the smallest DCT scale (1/2, 1/4 or 1/8)
    whose width and height stay at or above ``size`` (PIL's ``Image.draft``) before the same
    exact bilinear resize: a 640x480 photo is decoded at 320x240, about three times faster,
    and the result differs from the full decode by a few grey levels (tests measure it).
    Other formats, and JPEGs smaller than twice ``size``, decode exactly as without it.

    Raises :class:`BadImageError` for a missing, empty, truncated, corrupt or oversized file.
    """
    if resample not in RESAMPLING:
        raise ValueError(f"resample {resample!r}: use one of {', '.join(RESAMPLING)}")
    if isinstance(source, Image.Image):
        image = source
        path = Path(getattr(source, "filename", "") or "<image>")
    else:
        path = Path(source)
        try:
            if path.stat().st_size == 0:
                raise BadImageError(path, "empty file (0 bytes)")
        except FileNotFoundError:
            raise BadImageError(path, "file not found") from None
        if path.suffix.lower() in HEIF_SUFFIXES:
            _read_heif(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(path)
                if image.width * image.height > MAX_PIXELS:
                    raise BadImageError(path, f"too many pixels ({image.width}x{image.height})")
                if draft and image.format == "JPEG":
                    image.draft("RGB", (size, size))
                image.load()
        except BadImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise BadImageError(path, "decompression bomb (too many pixels)") from None
        except Image.UnidentifiedImageError:
            raise BadImageError(path, "not an image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise BadImageError(path, f"corrupt or truncated image ({exc})") from None
    try:
        image = ImageOps.exif_transpose(image)
        image = to_rgb_on_white(image)
        if crop and image.width != image.height:
            side = min(image.width, image.height)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
        image = image.resize((size, size), RESAMPLING[resample])
    except (OSError, ValueError) as exc:
        raise BadImageError(path, f"cannot convert image ({exc})") from None
    return np.asarray(image, dtype=np.uint8)
