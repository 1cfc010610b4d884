"""Write the competition's feature CSVs for a folder of ``images_<split>/<id>.jpg``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from retrieval.data import feature_csv_path, feature_record_path, write_feature_csv
from retrieval.features._extract import extract_features
from retrieval.features.networks import RESNET50, network_record
from retrieval.fileio import atomic_write


def competition_pictures(root: Path, split: str) -> list[Path]:
    """``root/images_<split>/*.jpg`` in id order; an error when there are none."""
    images = sorted(
        (root / f"images_{split}").glob("*.jpg"),
        key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.stem),
    )
    if not images:
        raise FileNotFoundError(f"{root / f'images_{split}'}: no .jpg pictures")
    return images


def write_competition_clip_features(
    root: str | os.PathLike[str],
    split: str,
    *,
    preset: str,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    float_format: str = "%.6g",
) -> list[Path]:
    """Embed ``root/images_<split>/*.jpg`` with a CLIP preset into ``features_clip_<split>.csv``
    (rows shuffled, as the other CSVs), recorded in ``features_clip.json``: the features of
    ``[data] features = "clip"``.
    """
    from retrieval.features.clip import clip_encoder

    root = Path(root)
    encoder = clip_encoder(preset)
    result = encoder.encode_files(competition_pictures(root, split), cache_dir=cache_dir)
    order = np.random.default_rng(seed).permutation(len(result.paths))
    path = feature_csv_path(root, split, "clip")
    names = [f"images_{split}/{result.paths[i].name}" for i in order]
    write_feature_csv(path, names, result.pool5[order], float_format=float_format)
    with atomic_write(feature_record_path(root, split, "clip")) as handle:
        json.dump({**encoder.record, "skipped": len(result.failures)}, handle, indent=1)
    return [path]


def write_competition_features(
    root: str | os.PathLike[str],
    split: str,
    *,
    weights: str | os.PathLike[str] | None = "imagenet",
    fc1000: bool = True,
    batch_size: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    float_format: str = "%.5g",
    workers: int | None = None,
    precision: str = "float32",
    model: str = RESNET50,
) -> list[Path]:
    """Extract ``root/images_<split>/*.jpg`` and write the competition's headerless CSVs.

    ``model`` ``"resnet50"`` writes the competition's own pool5 and fc1000 files; an
    EfficientNet-Lite name writes its pooled features to ``features_<model>_<split>.csv``,
    recorded in ``features_<model>.json`` (the feature kind ``[data] features = "<model>"``).

    Rows are written in a seeded shuffled order, as in the competition's own files (readers
    must join on the id). ``batch_size`` and ``workers`` default to the machine's (see
    :func:`~retrieval.features.extract_features`), as does ``precision`` (``"bfloat16"``: mixed
    precision, recorded). ``features_<split>/features.json`` records
    the network and weights (:func:`~retrieval.features.feature_record`), and ``NOTE.txt``
    says the same in words.
    """
    root = Path(root)
    images = competition_pictures(root, split)
    if model != RESNET50:
        return _write_network_features(
            root, split, images, model, weights, cache_dir, float_format, workers, batch_size
        )
    result = extract_features(
        images,
        weights=weights,
        fc1000=fc1000,
        batch_size=batch_size,
        workers=workers,
        seed=seed,
        cache_dir=cache_dir,
        precision=precision,
    )
    order = np.random.default_rng(seed).permutation(len(result.paths))
    names = [f"images_{split}/{result.paths[i].name}" for i in order]
    written = [feature_csv_path(root, split, "pool5")]
    write_feature_csv(written[0], names, result.pool5[order], float_format=float_format)
    if fc1000 and result.fc1000 is not None:
        written.append(feature_csv_path(root, split, "fc1000"))
        write_feature_csv(written[1], names, result.fc1000[order], float_format=float_format)
    record = {
        **network_record(RESNET50, weights, seed, precision=precision),
        "skipped": len(result.failures),
    }
    with atomic_write(feature_record_path(root, split)) as handle:
        json.dump(record, handle, indent=1)
    note = written[0].parent / "NOTE.txt"
    note.write_text(
        f"Features of images_{split}/ made by retrieval.features: ResNet-50 (keras.applications), "
        f"pool5 = global average pool (2048), fc1000 = logits of the 1000-way layer.\n"
        f"weights: {result.weights}\n"
        + (
            "These weights are a seeded random initialisation, not ImageNet: the features carry no "
            "ImageNet knowledge.\n"
            if weights is None
            else ""
        )
        + f"skipped: {len(result.failures)}\n",
        encoding="utf-8",
    )
    return written


def _write_network_features(
    root: Path,
    split: str,
    images: list[Path],
    model: str,
    weights: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    float_format: str,
    workers: int | None,
    batch_size: int | None,
) -> list[Path]:
    """The pooled features of a network other than ResNet-50, as the ``model`` feature kind."""
    record = network_record(model, weights)
    result = extract_features(
        images,
        model=model,
        weights=weights,
        cache_dir=cache_dir,
        workers=workers,
        batch_size=batch_size,
    )
    order = np.random.default_rng(0).permutation(len(result.paths))
    path = feature_csv_path(root, split, model)
    names = [f"images_{split}/{result.paths[i].name}" for i in order]
    write_feature_csv(path, names, result.pool5[order], float_format=float_format)
    with atomic_write(feature_record_path(root, split, model)) as handle:
        json.dump({**record, "skipped": len(result.failures)}, handle, indent=1)
    return [path]


def write_layout_features(
    root: str | os.PathLike[str],
    models: tuple[str, ...] = (RESNET50, "efficientnet_lite0"),
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> list[Path]:
    """Both parts' feature CSVs for a competition folder built here: ResNet-50 with random
    weights (seed 0; the competition's pool5 and fc1000 files) and each other network's
    ImageNet features (``features_<model>_<split>.csv``)."""
    written: list[Path] = []
    for split in ("train", "test"):
        for model in models:
            weights = None if model == RESNET50 else "imagenet"
            written += write_competition_features(
                root, split, model=model, weights=weights, cache_dir=cache_dir, workers=workers
            )
    return written
