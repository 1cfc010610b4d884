"""Quality study: every loss x text encoder, with and without tags, against baselines.

Trains on the train part of a competition-layout folder minus a held-out split
(``--val-size``, seeded) and ranks the held-out images for each held-out description.
Baselines: random ranking, TF-IDF -> ridge regression to pool5 (the course's sample
baseline) and TF-IDF -> PLS, both ranked by cosine similarity to the pool5 rows.

Usage: python benchmarks/bench_quality.py --root data/demo [--losses rmse triplet contrastive]
       [--encoders tfidf word2vec glove tfidf+glove] [--out benchmarks/results/quality_demo.md]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from retrieval.config import RunConfig
from retrieval.data import load_competition, train_val_split
from retrieval.evaluation import evaluate
from retrieval.metrics import ranks_from_scores, retrieval_report

COLUMNS = [
    "MAP@20 (1/r, Kaggle)",
    "MAP@20 (linear, (20+1-r)/20)",
    "R@1",
    "R@5",
    "R@10",
    "R@20",
    "median rank",
]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def baselines(fit, held) -> list[tuple[str, dict, float]]:
    from retrieval.models.baselines import tfidf_pls, tfidf_ridge

    truth = np.arange(len(held))
    rows = []
    rng = np.random.default_rng(0)
    random_ranks = np.array(
        [int(np.flatnonzero(rng.permutation(len(held)) == i)[0]) + 1 for i in truth]
    )
    rows.append(("random ranking", retrieval_report(random_ranks), 0.0))
    for name, model in (
        ("TF-IDF -> ridge to pool5 (baseline)", tfidf_ridge()),
        ("TF-IDF -> PLS to pool5", tfidf_pls()),
    ):
        start = time.perf_counter()
        model.fit(fit.texts(), fit.pool5)
        ranks = ranks_from_scores(cosine(model.predict(held.texts()), held.pool5), truth)
        rows.append((name, retrieval_report(ranks), time.perf_counter() - start))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/demo"))
    parser.add_argument("--val-size", type=float, default=0.2)
    parser.add_argument("--losses", nargs="*", default=["rmse", "triplet", "contrastive"])
    parser.add_argument(
        "--encoders", nargs="*", default=["tfidf", "word2vec", "glove", "tfidf+glove"]
    )
    parser.add_argument("--tags", nargs="*", default=["off", "on"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    fit, held = train_val_split(
        load_competition(args.root, "train"), val_size=args.val_size, seed=0
    )
    rows = baselines(fit, held)
    for encoder in args.encoders:
        for loss in args.losses:
            for tags in args.tags:
                from retrieval.pipeline import Retriever

                config = RunConfig.from_dict(
                    {
                        "text": {"encoders": encoder.split("+")},
                        "regressor": {"loss": loss},
                        "tags": {"enabled": tags == "on", "weight": 0.5},
                    }
                )
                start = time.perf_counter()
                result = evaluate(Retriever(config).fit(fit), held)
                name = f"{encoder} -> {loss}{' + tags' if tags == 'on' else ''}"
                rows.append((name, result.metrics, time.perf_counter() - start))
                print(f"{name}: {result.metrics['MAP@20 (1/r, Kaggle)']:.4f}", flush=True)
    lines = [
        f"{args.root}: trained on {len(fit)} items, held-out gallery of {len(held)} images "
        f"({len(held)} descriptions); autoencoder 2048 -> 512 -> 100\n",
        "| configuration | " + " | ".join(COLUMNS) + " | train s |",
        "| --- | " + " | ".join("---:" for _ in COLUMNS) + " | ---: |",
    ]
    for name, metrics, seconds in rows:
        values = [
            f"{metrics[c]:.4f}" if c != "median rank" else f"{metrics[c]:.0f}" for c in COLUMNS
        ]
        lines.append(f"| {name} | " + " | ".join(values) + f" | {seconds:.0f} |")
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
