"""Time `retrieval search` from process start to printed results, with a trained bundle.

Each run is a fresh `python -m retrieval search "QUERY" --bundle BUNDLE` process, as a user
types it; the table gives the median and the spread over --runs runs, and whether
TensorFlow was imported (it must not be: search needs only NumPy and scikit-learn).

Usage: python benchmarks/bench_search_latency.py [--bundle runs/demo/bundle] [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUERIES = [
    "a red apple",
    "a dog in the snow",
    "a house with a red roof",
    "a blue car",
    "a man playing a guitar",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("runs/demo/bundle"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not (args.bundle / "manifest.json").is_file():
        raise SystemExit(f"{args.bundle}: no trained bundle; run `retrieval demo` first")
    times = []
    for run in range(args.runs + 1):
        query = QUERIES[run % len(QUERIES)]
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "retrieval", "search", query, "--bundle", str(args.bundle)],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - start
        assert len(result.stdout.splitlines()) == 20
        if run:  # the first run warms the file cache
            times.append(elapsed)
    probe = (
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, runpy; sys.argv=['retrieval','search','a dog','--bundle',"
                f"{str(args.bundle)!r}]; from retrieval.cli import main; main(sys.argv[1:]);"
                "print('tensorflow' in sys.modules, file=sys.stderr)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stderr.strip()
        .splitlines()[-1]
    )
    print(f"\n`retrieval search QUERY --bundle {args.bundle}`, {args.runs} fresh processes\n")
    print("| median s | min s | max s | TensorFlow imported |")
    print("| ---: | ---: | ---: | --- |")
    print(f"| {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {probe} |")


if __name__ == "__main__":
    main()
