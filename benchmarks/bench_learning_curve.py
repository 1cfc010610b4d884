"""Learning curve: how the default's lead over the classical peers, and its refinement's
gain over its closed-form start, change with the number of training items.

For each dataset's train part the quality study's folds are kept (``--folds``), and each
fold trains on a seeded sample of its training items (``--fractions`` of them; the held-out
fold stays whole). At every fraction:

- ridge and the best peer family (the peer family with the best cross-validated score at
  full size, as in the quality study) each get their member chosen again by cross-validation
  at that fraction, from the study's grids, so the peers are tuned as hard at every size;
- the default (``configs/default.toml``) and the default with other refinement lengths
  (``--epochs``; 0 is the regularised CCA start alone, with the default's concept bridge,
  tags off) are scored as they are.

Every figure is a cross-validated MAP@20 (1/r) on a train part: no test part is read.
Scores are kept in the study's cache (``--cache``), keyed by the fraction as well.

Usage:
  python benchmarks/bench_learning_curve.py --datasets data/demo data/openclipart data/icons \\
      --folds 5 3 3 --out benchmarks/results/learning_curve.md
"""

from __future__ import annotations

import argparse
import functools
import warnings
from pathlib import Path

from retrieval.data import Dataset, load_competition
from retrieval.evaluation.candidates import (
    FAMILIES,
    PEERS,
    default_values,
    with_default_query_set,
)
from retrieval.evaluation.protocol import folds_per_dataset
from retrieval.evaluation.study import ScoreCache, varied

RIDGE = PEERS[0]
FEATURE_NAMES = {
    "efficientnet_lite0": "EfficientNet-Lite0 ImageNet",
    "efficientnet_lite2": "EfficientNet-Lite2 ImageNet",
    "pool5": "random-weight ResNet-50 pool5",
}
EPOCHS = "mappers.0.params.epochs"


@functools.cache
def train_part(root: str) -> Dataset:
    """A dataset's train part, read once."""
    return load_competition(root, "train")


def grid(family: str) -> list[dict]:
    """A peer family's members, ranking a set of descriptions as the default does."""
    return [with_default_query_set(values) for values in FAMILIES[family]]


def best_family(cache: ScoreCache, root: str, folds: int) -> str:
    """The peer family whose chosen member has the best cross-validated score at full size."""
    scores = {
        family: cache.choose(root, grid(family), train_part(root), folds)[1]
        for family in FAMILIES
        if family != "PLS"  # never the best, and the slowest by far
    }
    return max(scores, key=scores.__getitem__)


def curve_rows(
    cache: ScoreCache, root: str, folds: int, fractions: list[float], lengths: list[int]
) -> list[str]:
    """One table row per fraction: the peers tuned at that size, and the default with each of
    the refinement ``lengths`` (which hold 0 and the default's own)."""
    train = train_part(root)
    best = best_family(cache, root, folds)
    default = default_values()
    shipped = default["mappers"][0]["params"]["epochs"]
    rows = []
    for fraction in fractions:
        peers = {
            family: cache.choose(root, grid(family), train, folds, fraction)[1]
            for family in dict.fromkeys([RIDGE, best])
        }
        ours = {
            n: cache.cv(root, varied(default, EPOCHS, n), train, folds, fraction) for n in lengths
        }
        items = round(len(train) * (folds - 1) / folds * fraction)
        mine = ours[shipped]
        rows.append(
            f"| {root} | {fraction:g} | {items} | {peers[RIDGE]:.4f} | {best}: {peers[best]:.4f} | "
            + " | ".join(f"{ours[n]:.4f}" for n in lengths)
            + f" | {mine / peers[RIDGE]:.2f}x | {mine / peers[best]:.2f}x | "
            f"{mine / ours[0]:.3f}x |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["data/demo"])
    parser.add_argument("--folds", type=int, nargs="+", default=[5])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument(
        "--epochs",
        type=int,
        nargs="+",
        default=[0, 10],
        help="refinement lengths shown beside the default's (0: the CCA start alone)",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("benchmarks/results/quality_cv_cache.json")
    )
    parser.add_argument("--features", default="efficientnet_lite0")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    try:
        folds = folds_per_dataset(args.folds, len(args.datasets))
    except ValueError as exc:
        parser.error(f"--folds: {exc}")
    if min(args.epochs) != 0:
        parser.error("--epochs: include 0, the start that the refinement's gain is measured from")
    cache = ScoreCache(args.cache, args.features)
    shipped = default_values()["mappers"][0]["params"]["epochs"]
    lengths = sorted({*args.epochs, shipped})
    header = " | ".join(
        f"default, {n} epochs" + (" (as shipped)" if n == shipped else "") for n in lengths
    )
    lines = [
        f"Cross-validated MAP@20 (1/r, Kaggle's form) on the train parts only, on the "
        f"{FEATURE_NAMES.get(args.features, args.features)} features "
        f"(`{args.features}`); each fold trained on the fraction of its items.",
        "",
        f"| dataset | fraction | items per training fold | ridge | best peer | {header} | "
        "default / ridge | default / best peer | refinement's gain (default / 0 epochs) |",
        "| --- | ---: | ---: | ---: | --- | "
        + " | ".join("---:" for _ in lengths)
        + " | ---: | ---: | ---: |",
    ]
    print("\n".join(lines), flush=True)
    for root, k in zip(args.datasets, folds, strict=True):
        lines += curve_rows(cache, root, k, sorted(args.fractions), lengths)
        if args.out:  # after each dataset, so an interrupted run keeps what it finished
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
