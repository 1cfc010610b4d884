"""CLIP's image tower at speed, in one run: decoding, the compiled model (the bound), end to end.

The CLIP counterpart of ``bench_features.py`` (it reuses that script's pictures and timers).
The network is keras-hub's CLIP with the shape of ``clip_vit_base_patch32`` (ViT-B/32: 224x224
input, patch 32, width 768, 12 layers, 12 heads, 512-d projection) and random weights, which
cost the same as trained ones; ``--patch 16`` gives ViT-B/16's shape. Rows (images/s, the
median of --rounds interleaved rounds):

- decode only: ``extract_features``' decoders at CLIP's input (224, centre crop, bicubic),
  JPEG draft mode;
- model only, the bound: the compiled uint8 call of :class:`ClipImageTower` on a batch
  already in memory;
- end to end: ``extract_features(paths, network=tower, out=...)``, the path
  ``ClipEncoder.encode_files`` and ``retrieval index --model clip`` take.

CPU: ``python benchmarks/bench_clip.py --count 64``.

GPU (KERAS_BACKEND=jax): bring keras, namex, optree, keras-hub and kagglehub as wheels (see
``bench_features.py``), then ``KERAS_BACKEND=jax python benchmarks/bench_clip.py --count 8192``.
keras-hub 0.29 imports TensorFlow when it is imported, from model modules that CLIP does not
use (Gemma's and Qwen's preprocessors). On a machine without TensorFlow (or with
``--no-tensorflow``) those bare imports get an empty module, and everything after them, Keras
included, sees no TensorFlow: nothing on the timed path calls it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np

# run as a script, this folder is on the path: the picture helpers are bench_features'
from bench_features import (
    add_picture_options,
    decode_all,
    pictures,
    print_rates,
    rate,
    run_model,
)


def keras_hub_without_tensorflow():  # noqa: ANN201
    """Import keras-hub where TensorFlow is absent (see the module's docstring)."""
    sys.modules["tensorflow"] = types.ModuleType("tensorflow")  # for keras-hub's bare imports
    sys.modules["tensorflow_text"] = None  # type: ignore[assignment]
    try:
        import keras_hub
    finally:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    return keras_hub


def build_tower(patch: int, keras_hub, seed: int = 0):  # noqa: ANN001, ANN201
    """A random ViT-B/``patch`` CLIP image tower as the package builds it from a preset."""
    import keras

    from retrieval.features.clip import ClipImageTower
    from retrieval.features.clip_random import TowerShape, converter_settings, random_clip_backbone

    keras.utils.set_random_seed(seed)
    backbone = random_clip_backbone(
        keras_hub,
        image_size=224,
        patch_size=patch,
        vision=TowerShape(width=768, layers=12, heads=12),  # ViT-B
        text=TowerShape(width=64, layers=1, heads=2),  # small: only the image side is timed
        vocabulary_size=512,
        sequence_length=16,
        projection_dim=512,
    )
    # what the tower reads of a preset's CLIPImageConverter (a keras-hub preprocessing layer,
    # which needs TensorFlow to be built; its arithmetic runs inside the tower)
    converter = types.SimpleNamespace(**converter_settings(224))
    return ClipImageTower(backbone, converter, f"clip-vit-b{patch}-random-{seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_picture_options(parser, count_on_cpus=64)
    parser.add_argument("--patch", type=int, default=32, choices=(16, 32), help="ViT-B patch size")
    parser.add_argument(
        "--no-tensorflow", action="store_true", help="behave as on a machine without TensorFlow"
    )
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    if args.no_tensorflow or importlib.util.find_spec("tensorflow") is None:
        keras_hub = keras_hub_without_tensorflow()
    else:
        from retrieval.features.clip import import_keras_hub

        keras_hub = import_keras_hub()
    import keras

    from retrieval.features import (
        SlotDecoder,
        accelerator,
        choose_decoder,
        default_batch_size,
        default_workers,
        extract_features,
        load_picture,
    )

    count = args.count or (8192 if accelerator() else 64)
    batch = args.batch_size or default_batch_size()
    workers = args.workers or default_workers()
    scratch = tempfile.TemporaryDirectory()
    _, paths, origin = pictures(args.images, count, Path(scratch.name), args.side)
    count = len(paths)
    kind = choose_decoder("auto", count, batch)

    tower = build_tower(args.patch, keras_hub)
    call = tower.compiled(batch)
    picture = {"size": tower.input_size, "crop": tower.crop, "resample": tower.resample}
    decoder = SlotDecoder(
        slots=min(8, max(2, workers)) + 2,
        batch_size=batch,
        workers=workers,
        kind=kind,
        draft=True,
        **picture,
    )
    decode_all(decoder, paths[:batch])  # start the workers outside the timed part
    pixels = np.stack([load_picture(p, draft=True, **picture) for p in paths[: min(batch, count)]])
    if len(pixels) < batch:
        pixels = np.resize(pixels, (batch, *pixels.shape[1:]))
    calls = max(1, count // batch)
    call.fetch(call.submit(pixels))  # compile outside the timed parts
    extract_features(
        paths[:batch], network=tower, batch_size=batch, workers=workers, progress=False
    )

    rows: dict[str, list[float]] = {}
    result = None
    for _ in range(args.rounds):
        rows.setdefault(f"decode only, JPEG draft to 224 ({workers} {kind} workers)", []).append(
            rate(count, lambda: decode_all(decoder, paths))
        )
        rows.setdefault(f"model only, float32 ({call.label})", []).append(
            rate(calls * batch, lambda: run_model(call, pixels, calls))
        )
        out = Path(scratch.name) / "clip.npy"

        def end_to_end(out: Path = out) -> None:
            nonlocal result
            result = extract_features(
                paths, network=tower, batch_size=batch, workers=workers, out=out, progress=False
            )

        rows.setdefault("end to end, extract_features(network=CLIP tower)", []).append(
            rate(count, end_to_end)
        )
    medians = {name: statistics.median(values) for name, values in rows.items()}
    device = accelerator() or "CPU only"
    e2e = print_rates(
        medians,
        "end to end, extract_features(network=CLIP tower)",
        f"ViT-B/{args.patch} CLIP image tower (random weights); {origin}; {os.cpu_count()} CPU "
        f"cores, {device}; Keras {keras.__version__} on {keras.backend.backend()}, keras-hub "
        f"{keras_hub.__version__}; batch {batch}, {workers} decoding workers ({kind}); "
        f"median of {args.rounds} rounds",
    )
    decode_bound = medians[next(n for n in medians if n.startswith("decode only"))]
    model_bound = medians[f"model only, float32 ({call.label})"]
    print(
        f"\nend to end / model-only bound: {e2e / model_bound:.2f}; "
        f"end to end / slower bound (decode {decode_bound:,.0f}, model {model_bound:,.0f}): "
        f"{e2e / min(decode_bound, model_bound):.2f}"
    )
    rows_out = np.asarray(result.pool5)
    direct = call.fetch(call.submit(pixels))[0][: min(batch, count)]
    print(
        f"rows: {rows_out.shape}, unit length {np.abs(np.linalg.norm(rows_out, axis=1) - 1).max():.2g} "
        f"off at most; end to end vs the model on the same decoded pictures: max abs diff "
        f"{np.abs(rows_out[: len(direct)] - direct).max():.3g}"
    )
    decoder.close()
    scratch.cleanup()


if __name__ == "__main__":
    main()
