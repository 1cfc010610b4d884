"""Galleries without tags (a user's own pictures): predicted tags against no tags.

A model trained with tags meets galleries whose pictures have none. Three ways to rank them,
the same default config (EfficientNet-Lite0 features) otherwise:

- **trained without tags**: the default with ``[tags] enabled = false``; the fair "no tags";
- **tags left out**: trained with tags, the gallery's tag columns left at zero and no tag score;
- **predicted tags**: trained with tags and ``predict_missing``; each picture's tag scores come
  from a ridge regression of the training pictures' tags on their features, and stand where
  the true tags would (soft scores in the features space, and the tag score's input).

Protocol as in the quality study: k-fold cross-validation on the train part, each held-out
fold's gallery stripped of its tags; then each way trained on the whole train part and scored
on the test part (its gallery stripped of its tags), with bootstrap 95% intervals of MAP@20
(1/r) and a paired bootstrap test of predicted tags against trained without tags.

Usage:
  python benchmarks/bench_tagless.py --datasets data/demo data/openclipart data/icons \\
      --folds 5 3 3 --out benchmarks/results/tagless.md
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from retrieval.config import RunConfig
from retrieval.core import Searcher, TrainedModel, Trainer
from retrieval.data import Dataset, load_competition
from retrieval.evaluation.protocol import (
    bootstrap_interval,
    fold_indices,
    folds_per_dataset,
    paired_test,
    reciprocal_ranks,
)
from retrieval.fileio import atomic_write
from retrieval.metrics import ranks_from_scores

FEATURES = "efficientnet_lite0"
WAYS = (
    "trained without tags",
    "tags left out",
    "predicted tags",
    "predicted tags, tags off the image side",
)


def config(tags: bool, *, image_side: bool = True) -> RunConfig:
    """The default on the Lite0 features, with tags (and predicted ones) or without; with
    ``image_side=False`` the tags stay off the image side of the mapping (``joint_weights =
    [0]``), so they enter by the tag score alone."""
    values = RunConfig().to_dict()
    values["data"]["features"] = FEATURES
    values["tags"].update(enabled=tags, predict_missing=tags)
    if not image_side:
        values["tags"]["joint_weights"] = [0.0]
    return RunConfig.from_dict(values)


def untagged(dataset: Dataset) -> Dataset:
    """``dataset`` with every picture's tags removed."""
    return dataclasses.replace(dataset, tags=[[] for _ in dataset.ids])


def ranks(model: TrainedModel, gallery: Dataset) -> np.ndarray:
    """Each description's rank of its picture, ranked as a set (as ``evaluate`` does)."""
    built = model.gallery_from_dataset(gallery)
    scores = Searcher(model, built).scores(gallery.texts(), as_a_set=True)
    return ranks_from_scores(scores, gallery.relevant)


def each_way(train: Dataset, held_out: Dataset) -> dict[str, np.ndarray]:
    """The ranks of the three ways, trained on ``train``, on ``held_out`` without its tags."""
    gallery = untagged(held_out)
    plain = Trainer(config(False)).fit(train)
    tagged = Trainer(config(True)).fit(train)
    score_only = Trainer(config(True, image_side=False)).fit(train)
    return {
        WAYS[0]: ranks(plain, gallery),
        WAYS[1]: ranks(dataclasses.replace(tagged, image_tags=None), gallery),
        WAYS[2]: ranks(tagged, gallery),
        WAYS[3]: ranks(score_only, gallery),
    }


def study(root: str, folds: int) -> list[str]:
    """The table rows of one dataset (and progress on stderr)."""
    train = load_competition(root, "train")
    test = load_competition(root, "test", answers=Path(root) / "answers_test.csv")
    cv: dict[str, list[float]] = {way: [] for way in WAYS}
    for f, held in enumerate(fold_indices(len(train), folds, seed=0)):
        rest = np.setdiff1d(np.arange(len(train)), held)
        fold = each_way(train.subset(rest), train.subset(held))
        for way, r in fold.items():
            cv[way].append(float(reciprocal_ranks(r).mean()))
        print(
            f"{root}: fold {f + 1}/{folds}: "
            + ", ".join(f"{way} {cv[way][-1]:.4f}" for way in WAYS),
            file=sys.stderr,
            flush=True,
        )
    final = {way: reciprocal_ranks(r) for way, r in each_way(train, test).items()}
    rows = []
    for way in WAYS:
        low, high = bootstrap_interval(final[way], seed=0)
        ratio = final[way].mean() / final[WAYS[0]].mean()
        p = (
            ""
            if way == WAYS[0]
            else f"{paired_test(final[way], final[WAYS[0]], seed=0).p_value:.3f}"
        )
        rows.append(
            f"| {root} | {way} | {np.mean(cv[way]):.4f} | {final[way].mean():.4f} "
            f"| [{low:.4f}, {high:.4f}] | {ratio:.3f}x | {p} |"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["data/demo"])
    parser.add_argument("--folds", nargs="+", type=int, default=[5])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        folds = folds_per_dataset(args.folds, len(args.datasets))
    except ValueError as exc:
        parser.error(f"--folds: {exc}")
    lines = [
        f"Galleries without tags, {FEATURES} features: the default trained without tags, "
        "trained with tags (tags left out), and trained with tags on predicted tags (the tags "
        "beside the image features as the default puts them, or off the image side). "
        "CV: mean MAP@20 (1/r) over the train part's folds, each held-out gallery stripped of "
        "its tags; test: trained on the whole train part, the test gallery stripped of its "
        "tags, 95% bootstrap interval, ratio and paired p against trained without tags.",
        "",
        "| dataset | way | CV MAP@20 | test MAP@20 | 95% interval | / without tags | p |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for root, k in zip(args.datasets, folds, strict=True):
        lines += study(root, k)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with atomic_write(args.out) as out:
            out.write(text)


if __name__ == "__main__":
    main()
