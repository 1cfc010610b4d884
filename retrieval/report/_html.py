"""Write a report: ``report.html`` (self-contained) and ``report.md``."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from retrieval.fileio import atomic_write
from retrieval.report import _figures
from retrieval.report._run import TOP_K, RunResult, run_metrics

CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 24px 48px;
       color: #222; }
header { border-bottom: 2px solid #ddd; margin-bottom: 16px; }
h1 { margin: 20px 0 4px; } h2 { margin-top: 32px; border-bottom: 1px solid #eee; }
.note { color: #555; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.figs img { max-width: 48%; margin-right: 1%; vertical-align: top; }
.query { margin: 16px 0 24px; }
.query p { margin: 4px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 6px; }
.cell { text-align: center; font-size: 12px; color: #555; }
.cell img { display: block; border: 4px solid #fff; }
.cell.hit img { border-color: #2a2; }
.cell.hit { color: #2a2; font-weight: bold; }
.true img { border: 4px solid #2a2; }
"""


def pick_queries(ranks: np.ndarray) -> dict[str, int]:
    """The best, median and worst query by the rank of the true image (ties: lowest index)."""
    order = np.argsort(ranks, kind="stable")
    return {
        "best": int(order[0]),
        "median": int(order[(len(order) - 1) // 2]),
        "worst": int(np.argsort(-ranks, kind="stable")[0]),
    }


def _fmt(key: str, value: float) -> str:
    return f"{value:g}" if key == "median rank" else f"{value:.4f}"


def _metrics_table_html(runs: list[RunResult]) -> str:
    rows = [(run, run_metrics(run)) for run in runs]
    keys = list(rows[0][1])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["run", *keys, "queries", "gallery size"])
    body = ""
    for run, values in rows:
        cells = "".join(f"<td>{_fmt(k, values[k])}</td>" for k in keys)
        body += (
            f"<tr><td>{html.escape(run.name)}</td>{cells}"
            f"<td>{len(run.query_texts)}</td><td>{run.gallery_size}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{body}</table>"


def _metrics_table_md(runs: list[RunResult]) -> str:
    rows = [(run, run_metrics(run)) for run in runs]
    keys = list(rows[0][1])
    lines = [
        "| " + " | ".join(["run", *keys, "queries", "gallery size"]) + " |",
        "|" + " --- |" * (len(keys) + 3),
    ]
    for run, values in rows:
        cells = [_fmt(k, values[k]) for k in keys]
        lines.append(
            "| "
            + " | ".join([run.name, *cells, str(len(run.query_texts)), str(run.gallery_size)])
            + " |"
        )
    return "\n".join(lines)


def _query_gallery(run: RunResult, label: str, q: int, thumbs: dict) -> str:
    def thumb(i: int) -> str:
        if i not in thumbs:
            image, _ = _figures.load_thumbnail(run.gallery_paths[i])
            thumbs[i] = _figures.image_uri(image)
        return thumbs[i]

    true = int(run.relevant[q])
    rank = int(run.ranks[q])
    cells = []
    for position, i in enumerate(run.ranking[q][:TOP_K], start=1):
        hit = " hit" if int(i) == true else ""
        name = html.escape(run.gallery_paths[int(i)].name)
        cells.append(
            f'<div class="cell{hit}"><img src="{thumb(int(i))}" width="96" height="96" '
            f'alt="{name}" title="{name}">{position}{" ✓" if hit else ""}</div>'
        )
    found = (
        f"true image at rank {rank}"
        if rank <= TOP_K
        else f"true image at rank {rank} of {run.gallery_size} (not in the top {TOP_K})"
    )
    true_img = ""
    if rank > TOP_K:
        true_img = (
            f'<div class="cell true"><img src="{thumb(true)}" width="96" height="96" '
            f'alt="true image">true image</div>'
        )
    return (
        f'<div class="query"><p><b>{label}</b> query #{q}: '
        f"“{html.escape(run.query_texts[q])}”</p>"
        f'<p class="note">{found}; green border = the true image</p>'
        f'<div class="grid">{"".join(cells)}{true_img}</div></div>'
    )


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
    sizes = ", ".join(f"{run.name}: {run.gallery_size} images" for run in runs)
    note = html.escape(gallery_note)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{html.escape(title)}</h1>"
        f'<p class="note">{note} Gallery size — {html.escape(sizes)}.</p></header>',
        "<h2>Metrics</h2>",
        _metrics_table_html(runs),
        '<p class="note">MAP@20 (1/r) is Kaggle\'s form: mean of 1/r when the true image is at '
        "rank r ≤ 20, else 0. The linear form scores (21−r)/20 instead. R@K is the share of "
        "queries whose true image is in the top K; the median rank is over the whole gallery.</p>",
        "<h2>Recall@K and ranks</h2>",
        f'<div class="figs"><img src="{_figures.recall_curve(runs)}" alt="recall@K curve">'
        f'<img src="{_figures.rank_histogram(runs)}" alt="histogram of ranks"></div>',
    ]
    if len(runs) > 1:
        base = run_metrics(runs[0])
        head = (
            "<tr><th>run</th><th>MAP@20 (1/r)</th><th>Δ vs first</th><th>R@20</th><th>Δ</th></tr>"
        )
        rows = ""
        for run in runs:
            m = run_metrics(run)
            d1 = m["MAP@20 (1/r)"] - base["MAP@20 (1/r)"]
            d2 = m["R@20"] - base["R@20"]
            rows += (
                f"<tr><td>{html.escape(run.name)}</td><td>{m['MAP@20 (1/r)']:.4f}</td>"
                f"<td>{d1:+.4f}</td><td>{m['R@20']:.4f}</td><td>{d2:+.4f}</td></tr>"
            )
        parts += ["<h2>Comparison</h2>", f"<table>{head}{rows}</table>"]
    md = [f"# {title}", "", f"{gallery_note} Gallery size — {sizes}.".strip(), ""]
    md += [_metrics_table_md(runs), ""]
    for run in runs:
        parts.append(f"<h2>Run: {html.escape(run.name)}</h2>")
        if run.config:
            config = html.escape(json.dumps(run.config, indent=1, sort_keys=True, default=str))
            parts.append(f"<details><summary>configuration</summary><pre>{config}</pre></details>")
        if run.history:
            parts.append(
                f'<div class="figs"><img src="{_figures.loss_curves(run.history)}" '
                'alt="loss curves"></div>'
            )
        thumbs: dict[int, str] = {}
        picks = pick_queries(run.ranks)
        parts.append("<h3>Best, median and worst queries (top 20)</h3>")
        md.append(f"## {run.name}")
        for label, q in picks.items():
            parts.append(_query_gallery(run, label, q, thumbs))
            md.append(f"- {label} query #{q} (rank {int(run.ranks[q])}): {run.query_texts[q]}")
        if run.codes is not None:
            uri = _figures.pca_map(run.codes, run.gallery_paths, max_points=max_map_points)
            parts.append(
                f'<h3>PCA map of the codes</h3><img src="{uri}" alt="PCA map" '
                'style="max-width:100%">'
            )
        md.append("")
    parts.append("</body></html>")
    with atomic_write(out / "report.md") as handle:
        handle.write("\n".join(md) + "\n")
    path = out / "report.html"
    with atomic_write(path) as handle:
        handle.write("\n".join(parts))
    return path
