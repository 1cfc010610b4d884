"""Autoencoder training time: 10,000 x 2048 features, 50 epochs, on this machine's CPU.

Features are drawn from the demo's real pool5 rows (resampled with noise to reach --n rows)
so their statistics are those of ResNet-50 features. Early stopping is off, so every run
trains all --epochs. Prints the median of --repeats runs, with reconstruction RMSE and
neighbourhood overlap (k=20) of the last run.

Usage: python benchmarks/bench_autoencoder.py [--n 10000] [--epochs 50] [--repeats 3] [--hidden 512]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def resampled_pool5(n: int) -> np.ndarray:
    """``n`` rows of the demo's real pool5 features, resampled with 10% multiplicative noise."""
    from retrieval.data import load_competition

    base = load_competition("data/demo", "train").pool5
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(base), n)
    return np.maximum(base[rows] * rng.normal(1.0, 0.1, (n, base.shape[1])).astype(np.float32), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="*", default=[512])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    import keras

    from retrieval.models.autoencoder import Autoencoder

    X = resampled_pool5(args.n)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model = Autoencoder(
            code_dim=100,
            hidden=args.hidden,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_fraction=0.0,
            seed=0,
        ).fit(X)
        times.append(time.perf_counter() - start)
    report = model.evaluate(X[:2000])
    print(
        f"\n{args.n:,} x 2048 features, {args.epochs} epochs, batch {args.batch_size}, hidden {args.hidden}, "
        f"Keras {keras.__version__} on {keras.backend.backend()} ({os.cpu_count()} CPU cores)\n"
    )
    print("| median s | min s | RMSE (standardised) | neighbour overlap@20 |")
    print("| ---: | ---: | ---: | ---: |")
    print(
        f"| {statistics.median(times):.1f} | {min(times):.1f} | {report['rmse_standardized']:.3f} | "
        f"{report['neighbour_overlap@20']:.3f} |"
    )


if __name__ == "__main__":
    main()
