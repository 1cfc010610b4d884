"""Reports of trained models: build a :class:`RunResult` from a model and a dataset."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from retrieval.core import Searcher, TrainedModel
from retrieval.data import Dataset
from retrieval.report._html import write_report
from retrieval.report._run import RunResult


def run_from_model(model: TrainedModel, dataset: Dataset, *, name: str | None = None) -> RunResult:
    """Score every image of ``dataset`` for each of its descriptions (``dataset.relevant`` known)."""
    if dataset.relevant is None:
        raise ValueError(
            f"{dataset.name or 'dataset'}: the true image of each description is unknown"
        )
    gallery = model.gallery_from_dataset(dataset)
    return RunResult(
        name=name or model.config.name,
        gallery_paths=list(gallery.paths),
        query_texts=dataset.texts(),
        relevant=dataset.relevant,
        scores=Searcher(model, gallery).scores(dataset.texts(), as_a_set=True),
        codes=gallery.codes,
        history=model.history or None,
        config=model.config.to_dict(),
        gallery_captions=gallery_captions(dataset),
        gallery_groups=[tags[0].supercategory if tags else "" for tags in dataset.tags],
    )


def gallery_captions(dataset: Dataset) -> list[str]:
    """For each image, the text of a description known to describe it ("" if none is known)."""
    captions = [""] * len(dataset)
    if dataset.relevant is not None:
        for text, image in zip(dataset.texts(), dataset.relevant, strict=True):
            captions[int(image)] = captions[int(image)] or text
    return captions


def report_for_model(
    model: TrainedModel,
    dataset: Dataset | Sequence[Dataset],
    out_dir: str | os.PathLike[str],
    *,
    title: str | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write ``report.html`` and ``report.md`` for ``model`` on ``dataset`` (or on each of
    several, one run each, called ``names``: the demo's held-out split and test part);
    returns their paths."""
    parts = [dataset] if isinstance(dataset, Dataset) else list(dataset)
    if not parts:
        raise ValueError("a report needs at least one dataset")
    out_dir = Path(out_dir)
    if names is None:
        names = [part.name or f"part {i + 1}" for i, part in enumerate(parts)]
    if len(names) != len(parts):
        raise ValueError(f"{len(names)} names for {len(parts)} datasets")
    html = write_report(
        out_dir,
        [
            run_from_model(model, part, name=f"{model.config.name}: {name}")
            for part, name in zip(parts, names, strict=True)
        ],
        title=title or f"{model.config.name}: {', '.join(names)}",
        gallery_note="Galleries: "
        + "; ".join(
            f"{name}, its {len(part)} images" for part, name in zip(parts, names, strict=True)
        )
        + ". Each description has one true image.",
    )
    return {"report": html, "summary": out_dir / "report.md"}
