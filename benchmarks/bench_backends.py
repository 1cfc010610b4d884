"""The Keras models on whichever backend ``KERAS_BACKEND`` selects: training time and quality.

(a) Autoencoder, --n x 2048 features (the demo's real pool5 rows resampled with noise),
    --epochs epochs without early stopping, at each --batch-sizes: seconds, reconstruction RMSE.
(b) A whole model on the demo data (TF-IDF text, the learned network into the autoencoder
    code) with each loss: fit seconds and MAP@20 (1/r) on the demo test part.

With --save DIR the models are saved as bundles (and their networks as Keras files) together
with their test rankings, so a bundle trained on one backend (JAX on a GPU, say) can be
checked on another with --check DIR: it is loaded, ranks the test part again, and the
rankings must agree.

Usage:
  KERAS_BACKEND=jax python benchmarks/bench_backends.py --save runs/jax-bundles
  python benchmarks/bench_backends.py --check runs/jax-bundles
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

LOSSES = ("rmse", "triplet", "contrastive")
# the learned mapping as version 0.1 trained it: started at ridge, 3 epochs, batch 512, rate 1e-4
RIDGE_START = {"init": "ridge", "epochs": 3, "batch_size": 512, "learning_rate": 1e-4}


def autoencoder_rows(n: int, epochs: int, batch_sizes: list[int]) -> list[str]:
    from bench_autoencoder import resampled_pool5

    from retrieval.models.autoencoder import Autoencoder

    X = resampled_pool5(n)
    rows = []
    for batch in batch_sizes:
        start = time.perf_counter()
        model = Autoencoder(
            code_dim=100, hidden=(512,), epochs=epochs, batch_size=batch, validation_fraction=0.0
        ).fit(X)
        seconds = time.perf_counter() - start
        rmse = model.evaluate(X[:2000])["rmse_standardized"]
        rows.append(
            f"| autoencoder {n:,} x 2048, {epochs} epochs, batch {batch} | {seconds:.1f} | RMSE {rmse:.3f} |"
        )
    return rows


def model_rows(save: Path | None) -> list[str]:
    from retrieval.config import RunConfig
    from retrieval.core import Searcher, Trainer, save_bundle
    from retrieval.data import load_competition
    from retrieval.evaluation import evaluate
    from retrieval.metrics import MAP

    train, test = (
        load_competition("data/demo", "train"),
        load_competition("data/demo", "test", answers="data/demo/answers_test.csv"),
    )
    rows = []
    for loss in LOSSES:
        config = RunConfig.from_dict(
            {"name": loss, "mappers": [{"kind": "neural", "params": {**RIDGE_START, "loss": loss}}]}
        )
        start = time.perf_counter()
        model = Trainer(config).fit(train)
        seconds = time.perf_counter() - start
        result = evaluate(model, test)
        rows.append(
            f"| model, tfidf, {loss} loss | {seconds:.1f} | MAP@20 {result.metrics[MAP]:.4f} |"
        )
        if save is not None:
            save_bundle(save / loss, model, model.gallery_from_dataset(train))
            model.members[0].mapper.save_keras(save / f"{loss}-keras")
            ranking = Searcher(model, model.gallery_from_dataset(test)).rank(test.texts(), 20)
            (save / f"{loss}.json").write_text(json.dumps(np.asarray(ranking).tolist()))
    return rows


def check(folder: Path) -> None:
    """Rank with each saved bundle here, and run its Keras network on this backend."""
    from retrieval.core import Searcher, load_bundle
    from retrieval.data import load_competition
    from retrieval.models import load_keras

    test = load_competition("data/demo", "test", answers="data/demo/answers_test.csv")
    for loss in LOSSES:
        if not (folder / loss).is_dir():
            continue
        expected = np.array(json.loads((folder / f"{loss}.json").read_text()))
        model, _ = load_bundle(folder / loss)
        ranking = Searcher(model, model.gallery_from_dataset(test)).rank(test.texts(), 20)
        same_top1 = float(np.mean(ranking[:, 0] == expected[:, 0]))
        same_sets = float(
            np.mean([len(set(a) & set(b)) / 20 for a, b in zip(ranking, expected, strict=True)])
        )
        features = model.text_features(test.texts())
        network, _, _ = load_keras(folder / f"{loss}-keras")
        gap = float(
            np.abs(
                network.predict(features, verbose=0) - model.members[0].mapper.query_keys(features)
            ).max()
        )
        print(f"| {loss} | {same_top1:.3f} | {same_sets:.3f} | {gap:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[128, 512])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--check", type=Path)
    args = parser.parse_args()
    if args.check:
        print(f"\nbundles from {args.check}, ranked here: agreement with the saved rankings\n")
        print(
            "| loss | same top-1 | top-20 overlap | Keras here vs saved NumPy export, max abs |\n"
            "| --- | ---: | ---: | ---: |"
        )
        check(args.check)
        return

    import keras

    device = (
        "GPU" if keras.backend.backend() == "jax" and _jax_gpu() else f"{os.cpu_count()} CPU cores"
    )
    rows = autoencoder_rows(args.n, args.epochs, args.batch_sizes) + model_rows(args.save)
    print(f"\nKeras {keras.__version__} on {keras.backend.backend()} ({device})\n")
    print("| model | seconds | quality |\n| --- | ---: | ---: |")
    print("\n".join(rows))


def _jax_gpu() -> bool:
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


if __name__ == "__main__":
    main()
