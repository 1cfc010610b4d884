"""``retrieval search --preview``: thumbnails in kitty's, iTerm2's and the sixel protocol."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrieval.cli import main
from retrieval.cli._preview import choose_protocol, iterm, kitty, sixel, thumbnail

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def _picture(tmp_path: Path) -> Path:
    """A 60 x 30 picture: red left half, blue right half."""
    image = Image.new("RGB", (60, 30), (255, 0, 0))
    image.paste((0, 0, 255), (30, 0, 60, 30))
    path = tmp_path / "halves.png"
    image.save(path)
    return path


def test_a_thumbnail_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    small = thumbnail(_picture(tmp_path), size=40)
    assert small.size == (40, 20)
    assert small.getpixel((5, 10))[0] > 200 and small.getpixel((35, 10))[2] > 200


def test_kitty_chunks_a_png_that_decodes_to_the_thumbnail(tmp_path: Path) -> None:
    image = thumbnail(_picture(tmp_path), size=160)
    text = kitty(image)
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", text)
    assert chunks[0][0].startswith("f=100,a=T,") and chunks[-1][0].endswith("m=0")
    assert all(len(data) <= 4096 for _, data in chunks)
    png = base64.b64decode("".join(data for _, data in chunks))
    assert Image.open(io.BytesIO(png)).size == image.size


def test_iterm_sends_the_png_with_its_size(tmp_path: Path) -> None:
    image = thumbnail(_picture(tmp_path), size=40)
    match = re.fullmatch(r"\x1b\]1337;File=inline=1;size=(\d+);width=40px:(\S+)\a\n", iterm(image))
    png = base64.b64decode(match.group(2))
    assert len(png) == int(match.group(1)) and Image.open(io.BytesIO(png)).size == (40, 20)


def _decode_sixel(text: str) -> np.ndarray:
    """A minimal sixel reader: the picture's colour indices (-1 where nothing was drawn)."""
    body = text[text.index("q") + 1 : text.rindex("\x1b\\")]
    width, height = map(int, re.match(r'"1;1;(\d+);(\d+)', body).groups())
    out = np.full((height, width), -1)
    colour, x, top = 0, 0, 0
    tokens = r"#\d+(?:;2;\d+;\d+;\d+)?|![0-9]+.|[?-~]|\$|-"
    for token in re.findall(tokens, body[body.index("#") :]):
        if token.startswith("#"):  # a colour's definition, or the choice of one
            colour = int(token[1:].split(";")[0])
            continue
        if token == "$":
            x = 0
        elif token == "-":
            x, top = 0, top + 6
        else:
            count, char = (int(token[1:-1]), token[-1]) if token.startswith("!") else (1, token)
            bits = ord(char) - 63
            for dx in range(count):
                for bit in range(6):
                    if bits >> bit & 1 and top + bit < height:
                        out[top + bit, x + dx] = colour
            x += count
    return out


def test_sixel_draws_every_pixel_in_its_colour(tmp_path: Path) -> None:
    image = thumbnail(_picture(tmp_path), size=40)
    text = sixel(image)
    assert text.startswith("\x1bPq") and text.endswith("\x1b\\\n")
    assert text.count("-") == (image.height + 5) // 6 - 1  # one line per band of six rows
    palette = dict(
        (int(i), (int(r), int(g), int(b)))
        for i, r, g, b in re.findall(r"#(\d+);2;(\d+);(\d+);(\d+)", text)
    )
    drawn = _decode_sixel(text)
    assert (drawn >= 0).all()
    left, right = palette[drawn[10, 3]], palette[drawn[10, 36]]
    assert left[0] > 90 and left[2] < 10 and right[2] > 90 and right[0] < 10


def test_auto_says_why_there_are_no_thumbnails() -> None:
    assert choose_protocol("auto", is_terminal=True, env={"TERM": "xterm-256color"})[0] is None
    assert "--preview kitty" in choose_protocol("auto", is_terminal=True, env={"TERM": "dumb"})[1]
    assert choose_protocol("auto", is_terminal=True, env={"KITTY_WINDOW_ID": "1"})[0] == "kitty"


@pytest.mark.slow
def test_search_prints_a_thumbnail_under_each_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle
    from retrieval.data import load_competition

    config = RunConfig.from_toml(DEMO.parents[1] / "configs" / "peers" / "ridge.toml")
    config.tags.enabled = False
    train = load_competition(DEMO, "train")
    model = Trainer(config).fit(train)
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    assert (
        main(["search", "a red apple", "--bundle", str(bundle), "--k", "2", "--preview", "kitty"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("\x1b_Gf=100,a=T") == 2 and "340.jpg" in out.splitlines()[0]
    assert main(["search", "a red apple", "--bundle", str(bundle), "--k", "2", "--preview"]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out and len(captured.out.splitlines()) == 2
    assert "--preview: no thumbnails: the output is not a terminal" in captured.err
