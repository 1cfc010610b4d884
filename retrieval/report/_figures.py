"""Figures of a report, rendered with matplotlib's Agg backend to base64 data URIs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

PLACEHOLDER_COLOR = (220, 220, 220)


def load_thumbnail(path: Path, size: int = 96) -> tuple[Image.Image, bool]:
    """A square RGB thumbnail of ``path``; a grey placeholder (and ``False``) when unreadable."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image.thumbnail((size, size))
            canvas = Image.new("RGB", (size, size), (255, 255, 255))
            canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
            return canvas, True
    except (OSError, ValueError, Image.DecompressionBombError):
        canvas = Image.new("RGB", (size, size), PLACEHOLDER_COLOR)
        draw = ImageDraw.Draw(canvas)
        draw.line((0, 0, size, size), fill=(160, 160, 160), width=2)
        draw.line((0, size, size, 0), fill=(160, 160, 160), width=2)
        draw.text((6, size // 2 - 6), "missing", fill=(90, 90, 90))
        return canvas, False


def image_uri(image: Image.Image, fmt: str = "JPEG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=85)
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def recall_curve(runs) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for run in runs:
        ks = np.arange(1, min(100, run.gallery_size) + 1)
        ax.plot(ks, [(run.ranks <= k).mean() for k in ks], label=run.name)
    ax.axvline(20, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("K")
    ax.set_ylabel("recall@K")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Recall@K")
    return figure_uri(fig)


def rank_histogram(runs) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    top = max(run.gallery_size for run in runs)
    bins = np.unique(np.geomspace(1, max(top, 2) + 1, 30).astype(int))
    for run in runs:
        ax.hist(run.ranks, bins=bins, alpha=0.6, label=run.name)
    ax.set_xscale("log")
    ax.axvline(20.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("rank of the true image (log scale)")
    ax.set_ylabel("queries")
    ax.legend(fontsize=8)
    ax.set_title("Ranks of the true image")
    return figure_uri(fig)


def loss_curves(title: str, history: dict[str, list[float]]) -> str:
    """One network's training curves (``loss``, ``val_loss``), titled with the network."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=key)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Training: {title}")
    return figure_uri(fig)


def spread_out(xy: np.ndarray, limit: int, *, cells: int = 14, seed: int = 0) -> np.ndarray:
    """At most ``limit`` of the points ``xy`` (sorted positions), no two in the same cell of
    a ``cells`` x ``cells`` grid over their range, chosen in a seeded random order: thumbnails
    drawn there do not pile up where the points are dense.

    >>> xy = np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 1.0], [0.5, 0.5]])
    >>> spread_out(xy, 10, cells=2).tolist()
    [0, 2]
    """
    low = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - low, 1e-12)
    cell = np.minimum(((xy - low) / span * cells).astype(int), cells - 1)
    taken: set[tuple[int, int]] = set()
    chosen = []
    for i in np.random.default_rng(seed).permutation(len(xy)):
        key = (int(cell[i, 0]), int(cell[i, 1]))
        if key not in taken:
            taken.add(key)
            chosen.append(int(i))
            if len(chosen) == limit:
                break
    return np.sort(np.array(chosen, dtype=np.int64))


def pca_map(
    codes: np.ndarray,
    paths: list[Path],
    *,
    max_points: int = 300,
    seed: int = 0,
    groups: list[str] | None = None,
    max_groups: int = 8,
) -> str:
    """The codes' first two principal components, with thumbnails of ``max_points`` images.

    With ``groups`` (one label per image), each point and thumbnail frame takes the colour of
    its label (the ``max_groups`` most frequent; the rest are "other"), with a legend.
    """
    import collections

    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from sklearn.decomposition import PCA

    plt = _pyplot()
    codes = np.asarray(codes, dtype=np.float64)
    xy = PCA(n_components=2, random_state=seed).fit_transform(codes)
    chosen = spread_out(xy, max_points, seed=seed)
    fig, ax = plt.subplots(figsize=(9, 9))
    colour_of = {}
    if groups is not None:
        common = [g for g, _ in collections.Counter(groups).most_common(max_groups) if g]
        palette = plt.get_cmap("tab10")
        colour_of = {g: palette(k) for k, g in enumerate(common)}
        labels = [g if g in colour_of else "other" for g in groups]
        for label in [*common, "other"]:
            rows = [i for i, g in enumerate(labels) if g == label]
            if rows:
                colour = colour_of.get(label, "lightgrey")
                ax.scatter(xy[rows, 0], xy[rows, 1], s=6, color=colour, label=label)
        ax.legend(fontsize=8, loc="best", title="tag")
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=3, color="lightgrey")
    for i in chosen:
        thumb, _ = load_thumbnail(paths[i], 48)
        colour = colour_of.get(groups[i]) if groups is not None else None
        box = AnnotationBbox(
            OffsetImage(np.asarray(thumb), zoom=0.75),
            xy[i],
            frameon=colour is not None,
            bboxprops={"edgecolor": colour, "linewidth": 2} if colour is not None else None,
        )
        ax.add_artist(box)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(
        f"PCA of the image codes: {len(paths)} points, {len(chosen)} of them as pictures "
        "(at most one per cell of a 14 x 14 grid, so none hides another)"
    )
    return figure_uri(fig)
