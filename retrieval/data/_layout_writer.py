"""Write a captioned image collection in the competition's layout (train and test parts)."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.data._competition import write_answers
from retrieval.data._dataset import Tag
from retrieval.data._submission import write_submission
from retrieval.progress import progress_bar

_log = logging.getLogger(__name__)

IMAGE_SIZE = 224


@dataclass(frozen=True)
class SourceItem:
    """One picture to write: its file, its description sentences and its tags."""

    path: Path
    sentences: list[str]
    tags: list[Tag]


@dataclass(frozen=True)
class LayoutCounts:
    train: int
    test: int
    skipped: int


def fit_on_white(picture: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """Fit ``picture`` into a ``size`` x ``size`` white square, transparency composited on white."""
    picture = picture.convert("RGBA")
    picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    canvas.alpha_composite(picture, ((size - picture.width) // 2, (size - picture.height) // 2))
    return canvas.convert("RGB")


def _encode(job: tuple[Callable[[Path], Image.Image], Path, int]) -> tuple[bytes | None, str]:
    load, path, quality = job
    try:
        buffer = io.BytesIO()
        fit_on_white(load(path)).save(buffer, format="JPEG", quality=quality, optimize=True)
        return buffer.getvalue(), ""
    except Exception as exc:  # any decoder error skips this picture only
        return None, f"{type(exc).__name__}: {exc}"


def write_competition_layout(
    out: str | os.PathLike[str],
    items: Sequence[SourceItem],
    *,
    load_image: Callable[[Path], Image.Image],
    test_fraction: float = 0.2,
    seed: int = 0,
    jpeg_quality: int = 80,
    workers: int = 1,
    sample_submission: bool = True,
    source_root: str | os.PathLike[str] | None = None,
) -> LayoutCounts:
    """Render ``items`` to 224x224 JPEGs and write descriptions, tags, images, answers.

    Pictures that cannot be loaded are skipped with ``skipping PATH: reason`` on stderr.
    The rest are shuffled with ``seed`` and split; as in the competition, test description
    ``k`` describes test image ``pairing[k]``, recorded in ``answers_test.csv``.
    ``load_image`` must be a module-level function when ``workers > 1``.
    """
    out = Path(out)
    jobs = [(load_image, item.path, jpeg_quality) for item in items]
    encoded: list[tuple[bytes | None, str]] = []
    with progress_bar(total=len(jobs), desc="rendering", unit="img") as bar:
        if workers > 1:
            with Pool(workers) as pool:
                for result in pool.imap(_encode, jobs, chunksize=8):
                    encoded.append(result)
                    bar.update(1)
        else:
            for job in jobs:
                encoded.append(_encode(job))
                bar.update(1)
    kept = []
    for item, (jpeg, reason) in zip(items, encoded, strict=True):
        if jpeg is None:
            _log.warning("skipping %s: %s", item.path, reason)
        else:
            kept.append((item, jpeg))

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(kept))
    n_test = int(round(len(kept) * test_fraction))
    parts = {"train": [kept[i] for i in order[n_test:]], "test": [kept[i] for i in order[:n_test]]}
    for split, part in parts.items():
        for kind in ("images", "tags", "descriptions"):
            (out / f"{kind}_{split}").mkdir(parents=True, exist_ok=True)
        for item_id, (item, jpeg) in enumerate(part):
            (out / f"images_{split}" / f"{item_id}.jpg").write_bytes(jpeg)
            (out / f"tags_{split}" / f"{item_id}.txt").write_text(
                "".join(f"{t}\n" for t in item.tags), encoding="utf-8"
            )
    for item_id, (item, _) in enumerate(parts["train"]):
        _write_description(out / "descriptions_train" / f"{item_id}.txt", item.sentences)
    pairing = rng.permutation(len(parts["test"]))
    for description_id, image_id in enumerate(pairing):
        _write_description(
            out / "descriptions_test" / f"{description_id}.txt",
            parts["test"][image_id][0].sentences,
        )
    write_answers(out / "answers_test.csv", [(str(d), str(i)) for d, i in enumerate(pairing)])
    n_test_items = len(parts["test"])
    if sample_submission and n_test_items >= 20:
        write_submission(
            out / "sample_submission.csv",
            [str(d) for d in range(n_test_items)],
            [[str(i) for i in rng.permutation(n_test_items)[:20]] for _ in range(n_test_items)],
        )
    with (out / "SOURCES.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["split", "id", "source"])
        for split, part in parts.items():
            writer.writerows(
                (split, item_id, item.path.relative_to(source_root) if source_root else item.path)
                for item_id, (item, _) in enumerate(part)
            )
    return LayoutCounts(
        train=len(parts["train"]), test=n_test_items, skipped=len(items) - len(kept)
    )


def _write_description(path: Path, sentences: list[str]) -> None:
    path.write_text("".join(f"{s}\n" for s in sentences), encoding="utf-8")
