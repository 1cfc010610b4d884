"""Metrics of a trained model on a dataset whose true images are known."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retrieval.core import Searcher, TrainedModel
from retrieval.data import Dataset
from retrieval.metrics import TOP_K, format_metric, ranks_from_scores, retrieval_report, top_k


@dataclass
class Evaluation:
    """Ranks of the true images, the top 20 of every description and the metrics."""

    gallery_size: int
    ranks: np.ndarray
    top: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | int]:
        """The metrics with the gallery size and the number of queries (for JSON files)."""
        return {"gallery_size": self.gallery_size, "queries": len(self.ranks), **self.metrics}


def evaluate(model: TrainedModel, dataset: Dataset) -> Evaluation:
    """Rank ``dataset``'s images for each of its descriptions; needs ``dataset.relevant``."""
    if dataset.relevant is None:
        raise ValueError(
            f"{dataset.name or 'dataset'}: the true image of each description is unknown"
        )
    gallery = model.gallery_from_dataset(dataset)
    scores = Searcher(model, gallery).scores(dataset.texts(), as_a_set=True)
    ranks = ranks_from_scores(scores, dataset.relevant)
    return Evaluation(len(gallery), ranks, top_k(scores, TOP_K), retrieval_report(ranks))


def format_metrics(metrics: dict[str, float], *, gallery_size: int, title: str = "") -> str:
    """A Markdown table of metrics with the gallery size stated.

    >>> print(format_metrics({"R@1": 0.5}, gallery_size=10, title="x"))
    x: 10-image gallery
    <BLANKLINE>
    | metric | value |
    | --- | ---: |
    | R@1 | 0.5000 |
    """
    lines = [
        f"{title + ': ' if title else ''}{gallery_size}-image gallery",
        "",
        "| metric | value |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {format_metric(name, value)} |" for name, value in metrics.items()]
    return "\n".join(lines)
