"""Quality study: the default configuration against tuned classical peers, with and without tags.

For each dataset (competition layout: a train part, and a test part with ``answers_test.csv``):

1. every method family (the course's ridge, reverse ridge, kernel ridge, PLS, CCA, forward +
   reverse ridge, and this package's learned mappings) has a small grid of hyperparameters;
   the member of each grid with the best k-fold (``--folds``, 5 by default) cross-validated MAP@20 on the TRAIN part is
   chosen (test parts are never used to choose);
2. the chosen member is trained on the whole train part and scored on the test part: both
   MAP@20 forms, R@1/5/10/20 and the median rank, with a bootstrap 95% interval of MAP@20
   and a paired bootstrap test against the chosen ridge;
3. the default configuration (``RunConfig()``, i.e. ``configs/default.toml``, the same on
   every dataset) is scored the same way, without any per-dataset choice;
4. all of it twice: without tags, and with tags added to the member each family's
   cross-validation chose without tags. Tags enter twice, as the default's ``[tags]``
   table sets them: tag fusion (a tag classifier's score added to the mappers'), and each
   image's tags beside its features on the image side of the mappers that work in the
   ``features`` space; both weights are chosen at training time on a held-out fifth of the
   train items, for peers and default alike. Families named by ``--untagged-only`` (PLS by
   default: too slow with the tags' wider image side) are studied without tags only.

Every method uses the same text features (the default TF-IDF + GloVe encoders) and the same
feature CSVs; the peers' grids also choose the power applied to the pooled features.

The families, the default's entries and the candidate defaults are in
``retrieval.evaluation.candidates``; the cache, the choice on train folds and the test ranks in
``retrieval.evaluation.study``. This script runs them and writes the tables.

``--choose-default`` instead cross-validates the candidate defaults (``DEFAULT_CANDIDATES``)
on the train parts of all datasets and prints which has the best mean cross-validated MAP@20
relative to the best peer of each dataset: that is how ``configs/default.toml`` is chosen.

``--vary PATH VALUE...`` (a dotted path such as ``image.power`` or
``mappers.0.params.epochs``) cross-validates the default (with tags if ``--tagged``) with that
setting changed to each JSON value, beside the default as it is, on the train parts of all
datasets: how a candidate change of the default is weighed before the study is re-run.

Cross-validation results are cached in ``--cache`` (a JSON file), so an interrupted run resumes.

Usage:
  python benchmarks/bench_quality.py --datasets data/demo data/openclipart data/icons \\
      --folds 5 3 3 --out benchmarks/results/quality.md
  python benchmarks/bench_quality.py --datasets data/demo data/openclipart data/icons --choose-default
  python benchmarks/bench_quality.py --datasets data/demo data/openclipart data/icons \\
      --folds 5 3 3 --tagged --vary tags.joint_weights '[1.0]' '[3.0]'
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.data import Dataset, load_competition
from retrieval.evaluation.candidates import (
    CONCEPTS_ON,
    DEFAULT_CANDIDATES,
    DEFAULT_FAMILY,
    FAMILIES,
    OURS,
    PEERS,
    REFERENCES,
    default_values,
    with_default_query_set,
)
from retrieval.evaluation.protocol import (
    bootstrap_interval,
    folds_per_dataset,
    paired_test,
    reciprocal_ranks,
)
from retrieval.evaluation.study import (
    ScoreCache,
    describe,
    on_features,
    ranks_on_test,
    varied,
    with_tags,
)
from retrieval.metrics import MAP, MAP_LINEAR, retrieval_report

SEED_FAMILY = "the seed write-up's system (configs/seed.toml)"


def seed_values() -> dict:
    """``configs/seed.toml`` as a study entry (studied without tags: it has none)."""
    path = Path(__file__).resolve().parents[1] / "configs" / "seed.toml"
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    return {key: value for key, value in values.items() if key not in ("name", "seed")}


def study(
    root: str,
    folds: int,
    cache: ScoreCache,
    families: dict[str, list[dict]],
    untagged_only: Sequence[str] = (),
) -> list[dict]:
    train = load_competition(root, "train")
    test = load_competition(root, "test", answers=Path(root) / "answers_test.csv")
    rows = []
    chosen_without_tags = {}
    for tags in (False, True):
        for family, grid in families.items():
            if tags and family in untagged_only:
                continue
            if family in REFERENCES:  # the member its family chose, with the bridge
                grid = [{**chosen_without_tags[REFERENCES[family]], **CONCEPTS_ON}]
            # with tags, the member chosen without them: the tags' own weights are then
            # chosen at training time on held-out train items, for every family alike
            grid = [with_tags(chosen_without_tags[family])] if tags else grid
            grid = [with_default_query_set(values) for values in grid]
            best, cv = cache.choose(root, grid, train, folds)
            chosen_without_tags.setdefault(family, best)
            ranks, seconds = ranks_on_test(on_features(best, cache.features), train, test)
            name = family + (" + tags" if tags else "")
            rows.append(
                {
                    "name": name,
                    "tags": tags,
                    "family": family,
                    "chosen": describe(best),
                    "cv": cv,
                    "ranks": ranks,
                    "seconds": seconds,
                }
            )
            print(
                f"{root}: {name}: CV {cv:.4f}, test {reciprocal_ranks(ranks).mean():.4f}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def table(root: str, rows: list[dict], train_n: int, test_n: int, folds: int) -> str:
    lines = [
        f"### {root}: {train_n} train items; test gallery of {test_n} images ({test_n} descriptions)",
        "",
        f"| method | chosen by {folds}-fold CV on train | CV {MAP} | test {MAP} [95% CI] | {MAP_LINEAR} | R@1 | R@5 | R@10 | R@20 | median rank | vs ridge (same tags) | p | train s |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        values = reciprocal_ranks(row["ranks"])
        low, high = bootstrap_interval(values)
        report = retrieval_report(row["ranks"])
        ridge = next(r for r in rows if r["family"] == PEERS[0] and r["tags"] == row["tags"])
        comparison = paired_test(values, reciprocal_ranks(ridge["ranks"]))
        lines.append(
            f"| {row['name']} | {row['chosen']} | {row['cv']:.4f} | {report[MAP]:.4f} [{low:.3f}, {high:.3f}] | "
            f"{report[MAP_LINEAR]:.4f} | {report['R@1']:.3f} | {report['R@5']:.3f} | {report['R@10']:.3f} | "
            f"{report['R@20']:.3f} | {report['median rank']:g} | {comparison.ratio:.2f}x | {comparison.p_value:.3f} | {row['seconds']:.0f} |"
        )
    return "\n".join(lines + ["", *targets(rows)])


def targets(rows: list[dict]) -> list[str]:
    """The default against ridge and against the peer with the best CV score (not the best test
    score), without and with tags, with the paired test of each ratio."""
    lines = [
        "| tags | ridge | best peer by CV | default | default / ridge (p) | default / best peer (p) |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for tags in (False, True):
        same = [r for r in rows if r["tags"] == tags]
        peers = [r for r in same if r["family"] in PEERS]
        ridge = next(r for r in peers if r["family"] == PEERS[0])
        best = max(peers, key=lambda r: r["cv"])
        default = next(r for r in same if r["family"] == DEFAULT_FAMILY)
        values = {id(r): reciprocal_ranks(r["ranks"]) for r in (ridge, best, default)}
        versus_ridge = paired_test(values[id(default)], values[id(ridge)])
        versus_best = paired_test(values[id(default)], values[id(best)])
        lines.append(
            f"| {'with' if tags else 'without'} | {values[id(ridge)].mean():.4f} | "
            f"{best['family']} {values[id(best)].mean():.4f} | {values[id(default)].mean():.4f} | "
            f"{versus_ridge.ratio:.2f}x ({versus_ridge.p_value:.3f}) | "
            f"{versus_best.ratio:.2f}x ({versus_best.p_value:.3f}) |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["data/demo"])
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=[5],
        help="folds per dataset, in the order of --datasets (one number: the same for all)",
    )
    parser.add_argument(
        "--cache", type=Path, default=Path("benchmarks/results/quality_cv_cache.json")
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--choose-default", action="store_true")
    parser.add_argument(
        "--vary",
        nargs="+",
        metavar=("PATH", "VALUE"),
        help="cross-validate the default with one setting (a dotted path, list items by "
        "number) changed to each JSON value, e.g. --vary image.power 0.25 0.35 or "
        "--vary mappers.0.params.epochs 5 (with --tagged: the default with tags)",
    )
    parser.add_argument("--tagged", action="store_true", help="--vary the default with tags")
    parser.add_argument(
        "--families",
        nargs="*",
        help="study only these families (default: all; ridge is always needed for the ratios)",
    )
    parser.add_argument(
        "--features",
        default="efficientnet_lite0",
        help="the feature kind every method reads: efficientnet_lite0 (ImageNet, the regime "
        "that chooses the default) or pool5 (ResNet-50 with random weights)",
    )
    parser.add_argument(
        "--untagged-only",
        nargs="*",
        default=["PLS"],
        help="families studied without tags only (default: PLS, whose fits with the tags' "
        "wider image side take over half an hour per configuration on Openclipart)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    cache = ScoreCache(args.cache, args.features)
    try:
        folds = folds_per_dataset(args.folds, len(args.datasets))
    except ValueError as exc:
        parser.error(f"--folds: {exc}")
    if args.choose_default:
        choose_default(args, folds, cache)
        return
    if args.vary:
        vary_default(args, folds, cache)
        return
    families = {
        **FAMILIES,
        **{name: [] for name in REFERENCES},
        SEED_FAMILY: [seed_values()],
        **OURS,
    }
    if args.families:
        unknown = set(args.families) - set(families)
        if unknown:
            parser.error(
                f"--families: unknown {sorted(unknown)}; the families are {list(families)}"
            )
        families = {name: grid for name, grid in families.items() if name in args.families}
    sections = []
    for root, k in zip(args.datasets, folds, strict=True):
        rows = study(root, k, cache, families, [*args.untagged_only, SEED_FAMILY])
        train_n = len(load_competition(root, "train", features=None))
        test_n = len(rows[0]["ranks"])
        sections.append(table(root, rows, train_n, test_n, k))
        print("\n" + sections[-1] + "\n", flush=True)
        if args.out:  # after each dataset, so an interrupted study keeps what it finished
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text("\n\n".join(sections) + "\n", encoding="utf-8")


@functools.cache
def train_part(root: str) -> Dataset:
    """A dataset's train part, read once however many configurations use it."""
    return load_competition(root, "train")


def choose_default(args: argparse.Namespace, folds: list[int], cache: ScoreCache) -> None:
    """Cross-validate each candidate default on every dataset, relative to that dataset's best peer."""
    print("| candidate | " + " | ".join(args.datasets) + " | mean ratio to the best peer |")
    print("| --- | " + " | ".join("---:" for _ in args.datasets) + " | ---: |")
    best_peer = {}
    for root, k in zip(args.datasets, folds, strict=True):
        best_peer[root] = max(
            cache.cv(root, v, train_part(root), k) for grid in FAMILIES.values() for v in grid
        )
    for name, values in DEFAULT_CANDIDATES.items():
        ratios = []
        cells = []
        for root, k in zip(args.datasets, folds, strict=True):
            score = cache.cv(root, values, train_part(root), k)
            ratios.append(score / best_peer[root])
            cells.append(f"{score:.4f} ({ratios[-1]:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(ratios):.3f} |", flush=True)


def vary_default(args: argparse.Namespace, folds: list[int], cache: ScoreCache) -> None:
    """Cross-validate the default (with tags if ``--tagged``) against itself with one setting
    changed, on every dataset; the first row is the default as it is."""
    key, *raw = args.vary
    base = with_tags(default_values()) if args.tagged else default_values()
    try:
        varied(base, key, None)
    except KeyError:
        raise SystemExit(f"--vary {key}: not a setting of the default") from None
    print(f"| {key} | " + " | ".join(args.datasets) + " | mean ratio to the default |")
    print("| --- | " + " | ".join("---:" for _ in args.datasets) + " | ---: |")
    reference = {}
    for label, value in [("default", None), *((text, json.loads(text)) for text in raw)]:
        values = base if value is None else varied(base, key, value)
        cells, ratios = [], []
        for root, k in zip(args.datasets, folds, strict=True):
            score = cache.cv(root, values, train_part(root), k)
            reference.setdefault(root, score)
            ratios.append(score / reference[root])
            cells.append(f"{score:.4f} ({ratios[-1]:.3f}x)")
        print(f"| {label} | " + " | ".join(cells) + f" | {np.mean(ratios):.3f} |", flush=True)


if __name__ == "__main__":
    main()
