"""Time loading a real-size competition tree against a plain pandas read of its four CSVs.

Generates 10,000 train + 2,000 test items (2048- and 1000-float feature rows, 5-7 sentence
descriptions, tags) unless --root points at an existing tree, then times, in one run:

- plain: ``pandas.read_csv(path, header=None)`` of the four feature CSVs, nothing else;
- retrieval: ``load_competition(root, "train")`` + ``load_competition(root, "test")``, which also
  reads 12,000 descriptions and 12,000 tag files, validates and aligns every row.

Usage: python benchmarks/bench_loading.py [--root DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from retrieval.data import (
    FEATURE_FILES,
    feature_csv_path,
    load_competition,
    make_synthetic_competition,
)


def plain_read(root: Path) -> None:
    for split in ("train", "test"):
        for kind in FEATURE_FILES:
            pd.read_csv(feature_csv_path(root, split, kind), header=None)


def package_read(root: Path) -> None:
    for split in ("train", "test"):
        load_competition(root, split)


def median_seconds(function, root: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(root)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root
        if root is None:
            start = time.perf_counter()
            root = make_synthetic_competition(Path(scratch) / "tree", n_train=10_000, n_test=2_000)
            print(f"generated a 10,000 + 2,000 item tree in {time.perf_counter() - start:.1f} s")
        size_mb = sum(p.stat().st_size for p in root.rglob("*.csv")) / 1e6
        plain = median_seconds(plain_read, root, args.repeats)
        ours = median_seconds(package_read, root, args.repeats)
        print(f"\nfeature CSVs: {size_mb:.0f} MB; median of {args.repeats} runs each\n")
        print("| load | median s | ratio to plain |")
        print("| --- | ---: | ---: |")
        print(f"| plain pandas.read_csv of the 4 feature CSVs | {plain:.2f} | 1.00 |")
        print(
            f"| load_competition train + test (CSVs, descriptions, tags, checks) | {ours:.2f} | {ours / plain:.2f} |"
        )


if __name__ == "__main__":
    main()
