"""Thumbnails of search results in the terminal, for ``retrieval search --preview``.

Three inline-picture protocols: kitty's graphics protocol (kitty, WezTerm, Ghostty), iTerm2's
inline images (iTerm2, WezTerm) and sixel (foot, mlterm, xterm -ti vt340, Windows Terminal).
``auto`` picks one from the environment the terminal sets; where none is known, one line
says why no thumbnails are shown (the results are printed all the same).

Examples
--------
>>> protocol_from_environment({"TERM": "xterm-kitty"})
'kitty'
>>> protocol_from_environment({"TERM_PROGRAM": "iTerm.app"})
'iterm'
>>> protocol_from_environment({"TERM": "xterm-256color"}) is None
True
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

PROTOCOLS = ("kitty", "iterm", "sixel")
THUMBNAIL = 160  # pixels, the longer side
_SIXEL_TERMS = ("foot", "mlterm", "yaft", "contour")


def protocol_from_environment(env: Mapping[str, str] = os.environ) -> str | None:
    """The inline-picture protocol the terminal announces in its environment, or ``None``."""
    term = env.get("TERM", "")
    program = env.get("TERM_PROGRAM", "")
    if env.get("KITTY_WINDOW_ID") or term in ("xterm-kitty", "xterm-ghostty"):
        return "kitty"
    if program in ("iTerm.app", "WezTerm") or env.get("LC_TERMINAL") == "iTerm2":
        return "iterm"
    if "sixel" in term or term.startswith(_SIXEL_TERMS) or env.get("WT_SESSION"):
        return "sixel"
    return None


def choose_protocol(
    wanted: str, *, is_terminal: bool, env: Mapping[str, str] = os.environ
) -> tuple[str | None, str]:
    """The protocol to draw with (``None``: none) and, when none, the reason in words.

    >>> choose_protocol("auto", is_terminal=False)
    (None, 'the output is not a terminal')
    >>> choose_protocol("sixel", is_terminal=False)[0]
    'sixel'
    """
    if wanted != "auto":
        return wanted, ""
    if not is_terminal:
        return None, "the output is not a terminal"
    found = protocol_from_environment(env)
    if found is None:
        return None, (
            f"this terminal (TERM={env.get('TERM', '')!r}) announces no inline pictures; kitty, "
            "iTerm2, WezTerm and sixel terminals (foot, mlterm) show them: "
            "--preview kitty, iterm or sixel forces one"
        )
    return found, ""


def thumbnail(path: str | os.PathLike[str], size: int = THUMBNAIL) -> Image.Image:
    """The picture, RGB on white, at most ``size`` pixels a side."""
    from PIL import ImageOps

    from retrieval.features import load_picture

    square = load_picture(path, size=size)  # decoded, oriented and flattened as for search
    with Image.open(Path(path)) as image:
        width, height = ImageOps.exif_transpose(image).size
    scale = size / max(width, height, 1)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Image.fromarray(square).resize(shape, Image.Resampling.BILINEAR)


def kitty(image: Image.Image) -> str:
    """kitty's graphics protocol: the PNG, base64, in chunks of at most 4096 bytes."""
    data = base64.standard_b64encode(_png(image)).decode("ascii")
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)] or [""]
    out = []
    for i, chunk in enumerate(chunks):
        more = 1 if i < len(chunks) - 1 else 0
        head = f"f=100,a=T,m={more}" if i == 0 else f"m={more}"
        out.append(f"\x1b_G{head};{chunk}\x1b\\")
    return "".join(out) + "\n"


def iterm(image: Image.Image) -> str:
    """iTerm2's inline image escape (OSC 1337) with the PNG, base64."""
    png = _png(image)
    data = base64.standard_b64encode(png).decode("ascii")
    return f"\x1b]1337;File=inline=1;size={len(png)};width={image.width}px:{data}\a\n"


def sixel(image: Image.Image, colours: int = 64) -> str:
    """The picture in DEC sixel graphics: a palette of up to ``colours`` and one band of six
    pixel rows per line, each colour's run of columns written with repeat counts."""
    quantized = image.convert("RGB").quantize(colours, dither=Image.Dither.NONE)
    palette = quantized.getpalette() or []
    width, height = quantized.size
    pixels = quantized.load()
    used = sorted({pixels[x, y] for y in range(height) for x in range(width)})
    out = [f'\x1bPq"1;1;{width};{height}']
    for index in used:
        r, g, b = palette[3 * index : 3 * index + 3]
        out.append(f"#{index};2;{r * 100 // 255};{g * 100 // 255};{b * 100 // 255}")
    for top in range(0, height, 6):
        rows = range(top, min(top + 6, height))
        band = []
        for index in used:
            bits = [
                sum(1 << (y - top) for y in rows if pixels[x, y] == index) for x in range(width)
            ]
            if any(bits):
                band.append(f"#{index}{_runs(bits)}$")
        out.append("".join(band) + ("-" if top + 6 < height else ""))
    out.append("\x1b\\\n")
    return "".join(out)


def _runs(bits: list[int]) -> str:
    """One colour's sixel characters for a band, runs of four or more as ``!count``."""
    out, i = [], 0
    while i < len(bits):
        j = i
        while j < len(bits) and bits[j] == bits[i]:
            j += 1
        char, count = chr(63 + bits[i]), j - i
        out.append(f"!{count}{char}" if count > 3 else char * count)
        i = j
    return "".join(out)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


DRAW = {"kitty": kitty, "iterm": iterm, "sixel": sixel}


def preview(path: str | os.PathLike[str], protocol: str) -> str:
    """The escape sequence that shows ``path``'s thumbnail (an empty string when it cannot be
    read: the result's line says enough)."""
    from retrieval.features import BadImageError

    try:
        return DRAW[protocol](thumbnail(path))
    except (BadImageError, OSError, ValueError):
        return ""
