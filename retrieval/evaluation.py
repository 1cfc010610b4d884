"""Evaluate a trained retriever on descriptions whose true image is known.

Example
-------
>>> import numpy as np
>>> scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
>>> relevant_ranks(scores, np.array([2, 2])).tolist()
[2, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retrieval.data import Dataset


def relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of each row's relevant column among all columns (ties count against it)."""
    from retrieval.metrics import ranks_from_scores

    return ranks_from_scores(scores, relevant)


@dataclass
class Evaluation:
    """Ranks of the true images and the metrics computed from them."""

    gallery_size: int
    ranks: np.ndarray
    top: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)


def evaluate(retriever, dataset: Dataset, *, k: int = 20) -> Evaluation:
    """Rank ``dataset``'s images for each of its descriptions; needs ``dataset.relevant``."""
    from retrieval.metrics import retrieval_report

    if dataset.relevant is None:
        raise ValueError(
            f"{dataset.name or 'dataset'}: the true image of each description is unknown"
        )
    gallery = retriever.gallery_from_dataset(dataset)
    scores = retriever.scores(dataset.texts(), gallery)
    ranks = relevant_ranks(scores, dataset.relevant)
    from retrieval.pipeline import top_k

    return Evaluation(
        gallery_size=len(gallery),
        ranks=ranks,
        top=top_k(scores, k),
        metrics=retrieval_report(ranks),
    )


def format_metrics(metrics: dict[str, float], *, gallery_size: int, title: str = "") -> str:
    """A Markdown table of metrics with the gallery size stated."""
    lines = [
        f"{title + ': ' if title else ''}{gallery_size}-image gallery",
        "",
        "| metric | value |",
        "| --- | ---: |",
    ]
    lines += [
        f"| {name} | {value:.4f} |" if isinstance(value, float) else f"| {name} | {value} |"
        for name, value in metrics.items()
    ]
    return "\n".join(lines)


def evaluation_part(config, split: str, *, root=None, answers=None) -> Dataset:
    """The data a trained bundle is judged on: its own held-out split (``"held-out"``, rebuilt
    from the config's seed and size) or a test part with its answer file (``"test"``)."""
    from pathlib import Path

    from retrieval.data import load_competition, train_val_split

    root = Path(root) if root is not None else Path(config.data.root)
    if split == "held-out":
        _, part = train_val_split(
            load_competition(root, "train"),
            val_size=config.data.val_size,
            seed=config.data.split_seed,
        )
        return part
    if split == "test":
        return load_competition(root, "test", answers=answers or root / "answers_test.csv")
    raise ValueError(f"split must be 'held-out' or 'test', got {split!r}")
