"""Write a report: ``report.html`` (self-contained) and ``report.md``, from jinja2 templates."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import numpy as np

from retrieval import metrics
from retrieval.evaluation.protocol import paired_test, reciprocal_ranks
from retrieval.fileio import atomic_write
from retrieval.report import _figures
from retrieval.report._run import RunResult

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("retrieval.report", "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["metric"] = lambda value, name: metrics.format_metric(name, value)


def pick_queries(ranks: np.ndarray) -> dict[str, int]:
    """The best, median and worst query by the rank of the true image (ties: lowest index)."""
    order = np.argsort(ranks, kind="stable")
    return {
        "best": int(order[0]),
        "median": int(order[(len(order) - 1) // 2]),
        "worst": int(np.argsort(-ranks, kind="stable")[0]),
    }


class _Thumbnails:
    """Thumbnails of one run's gallery as data URIs, each made once."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.uris: dict[int, str] = {}

    def __getitem__(self, index: int) -> str:
        if index not in self.uris:
            image, _ = _figures.load_thumbnail(self.paths[index])
            self.uris[index] = _figures.image_uri(image)
        return self.uris[index]


def _query_view(run: RunResult, label: str, q: int, thumbs: _Thumbnails) -> dict:
    true = int(run.relevant[q])
    return {
        "label": label,
        "number": q,
        "text": run.query_texts[q],
        "rank": int(run.ranks[q]),
        "true_uri": thumbs[true] if int(run.ranks[q]) > metrics.TOP_K else None,
        "cells": [
            {
                "position": position,
                "uri": thumbs[int(i)],
                "name": run.gallery_paths[int(i)].name,
                "caption": run.gallery_captions[int(i)] if run.gallery_captions else "",
                "hit": int(i) == true,
            }
            for position, i in enumerate(run.ranking[q][: metrics.TOP_K], start=1)
        ],
    }


def _run_view(run: RunResult, max_map_points: int) -> dict:
    thumbs = _Thumbnails(run.gallery_paths)
    picks = pick_queries(run.ranks)
    return {
        "name": run.name,
        "size": run.gallery_size,
        "config": json.dumps(run.config, indent=1, sort_keys=True, default=str)
        if run.config
        else "",
        "losses": [_figures.loss_curves(name, h) for name, h in (run.history or {}).items() if h],
        "queries": [_query_view(run, label, q, thumbs) for label, q in picks.items()],
        "pca": None
        if run.codes is None
        else _figures.pca_map(
            run.codes, run.gallery_paths, max_points=max_map_points, groups=run.gallery_groups
        ),
    }


def _paired_with_first(run: RunResult, first: RunResult) -> str:
    """A paired bootstrap of ``run``'s per-query MAP@20 against the first run's, in words: the
    interval of the difference and its p-value; or why there is none (other queries)."""
    if list(run.query_texts) != list(first.query_texts):
        return "other queries: no paired test"
    result = paired_test(reciprocal_ranks(run.ranks), reciprocal_ranks(first.ranks))
    return f"[{result.low:+.4f}, {result.high:+.4f}], p {result.p_value:.3f}"


def write_report(
    out_dir: str | os.PathLike[str],
    runs: list[RunResult],
    *,
    title: str = "Retrieval report",
    gallery_note: str = "",
    max_map_points: int = 300,
) -> Path:
    """Write ``out_dir/report.html`` (all images embedded) and ``out_dir/report.md``.

    Returns the path of the HTML file. Unreadable gallery images are drawn as placeholders.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"run": run, "values": run.metrics()} for run in runs]
    base = rows[0]["values"]
    context = {
        "title": title,
        "gallery_note": gallery_note,
        "sizes": ", ".join(f"{run.name}: {run.gallery_size} images" for run in runs),
        "names": metrics.METRIC_NAMES,
        "map": metrics.MAP,
        "rows": rows,
        "deltas": [
            {
                "name": row["run"].name,
                "map": row["values"][metrics.MAP],
                "map_delta": row["values"][metrics.MAP] - base[metrics.MAP],
                "recall": row["values"]["R@20"],
                "recall_delta": row["values"]["R@20"] - base["R@20"],
                "paired": _paired_with_first(row["run"], runs[0]) if i else None,
            }
            for i, row in enumerate(rows)
        ],
        "figures": {"recall": _figures.recall_curve(runs), "ranks": _figures.rank_histogram(runs)},
        "top_k": metrics.TOP_K,
    }
    markdown = _ENV.get_template("report.md.j2").render(
        **context,
        picks=[
            (
                run.name,
                [
                    (label, q, int(run.ranks[q]), run.query_texts[q])
                    for label, q in pick_queries(run.ranks).items()
                ],
            )
            for run in runs
        ],
    )
    page = _ENV.get_template("report.html.j2").render(
        **context, runs=[_run_view(run, max_map_points) for run in runs]
    )
    with atomic_write(out / "report.md") as handle:
        handle.write(markdown)
    path = out / "report.html"
    with atomic_write(path) as handle:
        handle.write(page)
    return path
