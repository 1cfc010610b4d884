"""The main job on the bundled demo data, step by step, printing where each output is.

1. load the train and test parts and summarise them;
2. make sure the ResNet-50 feature CSVs exist (extracting them if not);
3. train a retriever from ``configs/demo.toml`` on the train part minus a held-out split;
4. evaluate it on the held-out split and on the test part (with its answer file);
5. write the report and a validated, scored submission for the test part.

Example
-------
>>> from retrieval.demo import run_demo                       # doctest: +SKIP
>>> outputs = run_demo("data/demo", "runs/demo")             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.config import RunConfig
from retrieval.data import FEATURE_FILES, feature_csv_path, load_competition, train_val_split
from retrieval.fileio import atomic_write


@dataclass
class DemoOutputs:
    """Where the demo put each of its outputs, and its headline metrics."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run_demo(
    root: str | os.PathLike[str] = "data/demo",
    out: str | os.PathLike[str] = "runs/demo",
    *,
    config_path: str | os.PathLike[str] = "configs/demo.toml",
) -> DemoOutputs:
    """Run every step; returns the output paths (also printed)."""
    from retrieval.evaluation import evaluate, format_metrics
    from retrieval.pipeline import Retriever
    from retrieval.submission import score_submission, validate_submission, write_submission

    started = time.perf_counter()
    root, out = Path(root), Path(out)
    outputs = DemoOutputs(out=out)
    config = RunConfig.from_toml(config_path)
    config.data.root = str(root)

    _step("features")
    for split in ("train", "test"):
        missing = [k for k in FEATURE_FILES if not feature_csv_path(root, split, k).is_file()]
        if missing:
            from retrieval.features import write_competition_features

            print(
                f"extracting {split} features (random ResNet-50 weights, offline)", file=sys.stderr
            )
            write_competition_features(root, split, weights=None, fc1000=True, float_format="%.3g")
        print(f"{split}: {feature_csv_path(root, split, 'pool5')}")

    _step("data")
    train = load_competition(root, "train")
    test = load_competition(root, "test", answers=root / "answers_test.csv")
    print(train.summary(top_tags=5))
    print(test.summary(top_tags=5))

    _step(f"training ({config_path})")
    fit_part, held_out = train_val_split(
        train, val_size=config.data.val_size, seed=config.data.split_seed
    )
    print(f"{len(fit_part)} items to train on, {len(held_out)} held out", file=sys.stderr)
    retriever = Retriever(config).fit(fit_part)
    outputs.files["bundle"] = retriever.save(out / "bundle")

    _step("evaluation")
    for name, part in (("held-out", held_out), ("test", test)):
        result = evaluate(retriever, part)
        outputs.metrics[name] = {"gallery_size": result.gallery_size, **result.metrics}
        print(format_metrics(result.metrics, gallery_size=result.gallery_size, title=name))
    outputs.files["metrics"] = out / "metrics.json"
    with atomic_write(outputs.files["metrics"]) as handle:
        json.dump(outputs.metrics, handle, indent=1)

    _step("report")
    from retrieval.report import report_for_retriever

    outputs.files.update(
        report_for_retriever(retriever, held_out, out / "report", title="Demo: held-out split")
    )
    print(outputs.files["report"])

    _step("submission")
    ranking = retriever.rank(test.texts(), test, k=20)
    submission = out / "submission.csv"
    write_submission(
        submission, test.description_ids, [[test.ids[j] for j in row] for row in ranking]
    )
    validate_submission(submission, description_ids=test.description_ids, image_ids=test.ids)
    print(f"valid: {len(test.description_ids)} rows")
    print(score_submission(submission, root / "answers_test.csv"))
    outputs.files["submission"] = submission

    _step(f"done in {time.perf_counter() - started:.0f} s; outputs")
    for name, path in outputs.files.items():
        print(f"{name:>11}: {path}")
    return outputs
