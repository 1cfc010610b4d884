"""Reports of trained retrievers: build a :class:`RunResult` from a bundle and a dataset."""

from __future__ import annotations

import os
from pathlib import Path

from retrieval.data import Dataset
from retrieval.report._html import write_report
from retrieval.report._run import RunResult


def run_from_retriever(retriever, dataset: Dataset, *, name: str | None = None) -> RunResult:
    """Score every image of ``dataset`` for each of its descriptions (``dataset.relevant`` known)."""
    if dataset.relevant is None:
        raise ValueError(
            f"{dataset.name or 'dataset'}: the true image of each description is unknown"
        )
    gallery = retriever.gallery_from_dataset(dataset)
    return RunResult(
        name=name or retriever.config.name,
        gallery_paths=list(gallery.paths),
        query_texts=dataset.texts(),
        relevant=dataset.relevant,
        scores=retriever.scores(dataset.texts(), gallery),
        codes=gallery.codes,
        history=getattr(retriever, "history_", None) or None,
        config=retriever.config.to_dict(),
    )


def report_for_retriever(
    retriever, dataset: Dataset, out_dir: str | os.PathLike[str], *, title: str | None = None
) -> dict[str, Path]:
    """Write ``report.html`` and ``report.md`` for ``retriever`` on ``dataset``; returns their paths."""
    out_dir = Path(out_dir)
    run = run_from_retriever(retriever, dataset)
    html = write_report(
        out_dir,
        [run],
        title=title or f"{retriever.config.name}: {dataset.name}",
        gallery_note=f"Gallery: the {len(dataset)} images of {dataset.name}; each description has one true image.",
    )
    return {"report": html, "summary": out_dir / "report.md"}
