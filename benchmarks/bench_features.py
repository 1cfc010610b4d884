"""Image-branch speed on this machine, in one run: decoding, the model, end to end, plain Keras.

Rows (images/s, the median of --rounds interleaved rounds, so that a busy machine slows
every row alike):

- decode only: ``extract_features``' decoders (worker processes writing uint8 into shared
  batch slots), JPEG draft mode and full decoding;
- model only, the bound: the compiled uint8 call on a batch already in memory, float32 (and
  mixed bfloat16 with ``--bf16``), and float32 without folding the batch norms;
- end to end: ``extract_features(paths, weights=None, out=...)`` (decoding, model, writes);
- plain Keras: ``keras.applications.ResNet50`` ``model.predict(preprocess_input(x))`` on the
  same pictures already decoded (the model alone), and with today's decoding
  (``load_picture`` one picture after the other, its rate timed on the first 512) added.

``--model efficientnet_lite0`` (or ``_lite1``, ``_lite2``) measures EfficientNet-Lite with its
ImageNet weights instead: the same rows, plain Keras being ``model.predict`` of the same
Keras model on uint8 pictures (no unfolded or bfloat16 rows: it folds its batch norms when its
weights are converted, and runs in float32).

Pictures: ``--images FOLDER`` (its ``*.jpg``), or synthetic 640x480 JPEGs (the size of COCO
pictures: gradients, shapes and noise, drawn with PIL) written to a temporary folder;
``--side 224`` resizes them to the competition's 224x224.
Weights are random (``weights=None``); ImageNet weights cost the same. The model is built and
compiled before the timed parts. ``--memory-counts 64 512`` also runs ``extract_features``
with ``out=`` in fresh processes and prints their peak RSS.

CPU: ``python benchmarks/bench_features.py --count 128 --bf16`` and
``python benchmarks/bench_features.py --count 256 --model efficientnet_lite0``.

GPU (KERAS_BACKEND=jax; TensorFlow is neither needed nor imported). On a machine with
jax[cuda] but without Keras, bring the wheels from a machine online, then run from the
repository root, the repository on ``PYTHONPATH`` (no install of the package)::

    pip download -d wheels keras tqdm pillow      # keras pulls namex, optree, absl-py, rich, h5py
    pip install --no-index --find-links wheels keras tqdm pillow      # on the GPU machine
    PYTHONPATH=. KERAS_BACKEND=jax python benchmarks/bench_features.py --count 8192 --bf16 --memory-counts 1024 8192

Expect about 4 minutes there (8,192 pictures: three rounds, four compilations).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_picture(args: tuple[Path, int, int | None]) -> None:
    """A 640x480 JPEG with the texture of a photo: a colour gradient, shapes, noise; resized
    to ``side`` x ``side`` first when ``side`` is given (the competition's pictures are 224x224)."""
    from PIL import Image, ImageDraw, ImageFilter

    path, seed, side = args
    rng = np.random.default_rng(seed)
    h, w = 480, 640
    corners = rng.integers(0, 256, (4, 3)).astype(np.float32)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    top = corners[0] * (1 - x) + corners[1] * x
    bottom = corners[2] * (1 - x) + corners[3] * x
    image = Image.fromarray(np.clip(top * (1 - y) + bottom * y, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 12))):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        box = (x0, y0, x0 + int(rng.integers(20, 300)), y0 + int(rng.integers(20, 240)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.0))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, (h, w, 3))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if side:
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    image.save(path, quality=92)


def make_pictures(folder: Path, count: int, side: int | None = None) -> list[Path]:
    paths = [folder / f"{i:06d}.jpg" for i in range(count)]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        jobs = [(p, i, side) for i, p in enumerate(paths)]
        list(pool.map(make_picture, jobs, chunksize=16))
    return paths


def print_rates(medians: dict[str, float], end_to_end: str, heading: str) -> float:
    """``heading``, then a table of images/s with the ``end_to_end`` row's ratio to each row;
    returns the end-to-end rate."""
    e2e = medians[end_to_end]
    print(f"\n{heading}\n")
    print("| what | images/s | end to end / this |")
    print("| --- | ---: | ---: |")
    for name, value in medians.items():
        print(f"| {name} | {value:,.1f} | {e2e / value:.2f} |")
    return e2e


def add_picture_options(parser: argparse.ArgumentParser, *, count_on_cpus: int) -> None:
    """The options every image-branch benchmark takes: pictures, batch, workers, rounds."""
    parser.add_argument(
        "--images", type=Path, help="a folder of .jpg pictures (default: synthetic)"
    )
    parser.add_argument(
        "--count",
        type=int,
        help=f"pictures (default 8192 with an accelerator, {count_on_cpus} on CPUs)",
    )
    parser.add_argument(
        "--batch-size", type=int, help="pictures per model call (default: the machine's)"
    )
    parser.add_argument("--workers", type=int, help="decoding workers (default: the machine's)")
    parser.add_argument(
        "--side",
        type=int,
        help="synthetic pictures resized to SIDE x SIDE (224: the competition's); default 640x480",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are shown"
    )


def pictures(
    images: Path | None, count: int, scratch: Path, side: int | None = None
) -> tuple[Path, list[Path], str]:
    """The folder, the first ``count`` ``.jpg`` files of ``images`` (or as many synthetic
    640x480 JPEGs, ``side`` x ``side`` if given, written under ``scratch``), and a line saying
    which."""
    if images:
        paths = sorted(images.glob("*.jpg"))[:count]
        return images, paths, f"{len(paths)} pictures from {images}"
    folder = scratch / "pictures"
    folder.mkdir()
    paths = make_pictures(folder, count, side)
    size = sum(p.stat().st_size for p in paths) / len(paths) / 1024
    shape = f"{side}x{side}" if side else "640x480"
    return folder, paths, f"{count} synthetic {shape} JPEGs ({size:.0f} KiB each)"


def rate(count: int, work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def decode_all(decoder: object, paths: list[Path]) -> None:
    """Decode every picture into the decoder's shared slots, as extract_features does."""
    from collections import deque

    batch, slots = decoder.batch_size, len(decoder.slots)
    pending: deque = deque()
    for start in range(0, len(paths), batch):
        slot = (start // batch) % slots
        if len(pending) == slots:
            decoder.reasons(*pending.popleft())
        chunk = [str(p) for p in paths[start : start + batch]]
        pending.append((slot, decoder.submit(slot, chunk)))
    while pending:
        decoder.reasons(*pending.popleft())


def run_model(call: object, pixels: np.ndarray, calls: int) -> None:
    """``calls`` compiled calls on one uint8 batch in memory, dispatched ahead of fetching."""
    previous = None
    for _ in range(calls):
        handle = call.submit(pixels)
        if previous is not None:
            call.fetch(previous)
        previous = handle
    call.fetch(previous)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


MEMORY_CHILD = """
import json, resource, sys, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
from retrieval.features import extract_features
paths = sorted(Path(sys.argv[1]).glob("*.jpg"))[: int(sys.argv[2])]
model = sys.argv[6]
result = extract_features(paths, model=model, weights=None if model == "resnet50" else "imagenet",
                          batch_size=int(sys.argv[3]), workers=int(sys.argv[4]),
                          out=sys.argv[5], progress=False)
print(json.dumps({"n": len(result.paths),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_memory(folder: Path, count: int, batch: int, workers: int, model: str) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_CHILD,
                str(folder),
                str(count),
                str(batch),
                str(workers),
                str(Path(scratch) / "pool5.npy"),
                model,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            # the parent holds JAX's preallocated share of the accelerator's memory
            env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"},
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_picture_options(parser, count_on_cpus=128)
    parser.add_argument(
        "--bf16", action="store_true", help="also the mixed bfloat16 model bound and its cosine"
    )
    parser.add_argument(
        "--memory-counts", type=int, nargs="*", default=[], help="peak RSS of runs this long"
    )
    parser.add_argument(
        "--model",
        default="resnet50",
        help="resnet50 (random weights) or efficientnet_lite0/1/2 (ImageNet weights)",
    )
    args = parser.parse_args()
    resnet = args.model == "resnet50"
    weights = None if resnet else "imagenet"

    warnings.filterwarnings("ignore")
    import keras
    from keras.applications import ResNet50
    from keras.applications.resnet50 import preprocess_input

    from retrieval.features import (
        ResNet50Features,
        SlotDecoder,
        accelerator,
        choose_decoder,
        default_batch_size,
        default_workers,
        extract_features,
        get_model,
        load_picture,
    )
    from retrieval.features.networks import picture_settings

    picture = picture_settings(args.model)
    decode = functools.partial(load_picture, **picture)

    count = args.count or (8192 if accelerator() else 128)
    batch = args.batch_size or default_batch_size()
    workers = args.workers or default_workers()
    scratch = tempfile.TemporaryDirectory()
    folder, paths, origin = pictures(args.images, count, Path(scratch.name), args.side)
    count = len(paths)
    kind = choose_decoder("auto", count, batch)

    model = get_model(weights, False, 0, "float32", args.model)
    call = model.compiled(batch)
    if resnet:
        plain = ResNet50(include_top=False, weights=None, pooling="avg")
        plain.set_weights(model.model.get_weights())
        prepare = lambda x: preprocess_input(x.astype(np.float32))  # noqa: E731
    else:
        plain = model.network  # the same Keras model, through Keras' own predict
        prepare = lambda x: x  # noqa: E731
    # the plain-Keras decoding rate, one picture after the other, timed on the first 512; the
    # rest are decoded in parallel, untimed (one by one, 12,000 pictures take minutes)
    probe = paths[:512]
    start = time.perf_counter()
    first = [decode(p) for p in probe]
    sequential_decode = len(probe) / (time.perf_counter() - start)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        rest = list(pool.map(decode, paths[len(probe) :], chunksize=32))
    full = np.stack(first + rest)
    pixels = full[:batch] if len(full) >= batch else np.resize(full, (batch, *full.shape[1:]))
    calls = max(1, count // batch)
    # build and compile everything outside the timed parts
    call.fetch(call.submit(pixels))
    plain.predict(prepare(full[:batch]), batch_size=batch, verbose=0)
    extract = functools.partial(extract_features, model=args.model, weights=weights)
    extract(paths[:batch], batch_size=batch, workers=workers, progress=False)
    unfolded = bf16_call = None
    if resnet:
        unfolded = ResNet50Features(None, fold=False).compiled(batch)  # same seeded weights
        unfolded.fetch(unfolded.submit(pixels))
    if args.bf16 and resnet:
        bf16_model = get_model(None, False, 0, "bfloat16")
        bf16_call = bf16_model.compiled(batch)
        bf16_call.fetch(bf16_call.submit(pixels))

    decoders = {
        draft: SlotDecoder(
            slots=min(8, max(2, workers)) + 2,
            batch_size=batch,
            workers=workers,
            kind=kind,
            draft=draft,
            **picture,
        )
        for draft in (True, False)
    }
    for decoder in decoders.values():  # start the workers outside the timed part
        decode_all(decoder, paths[:batch])
    rows: dict[str, list[float]] = {}
    result = expected = None
    for _ in range(args.rounds):
        for draft in (True, False):
            name = f"decode only, {'JPEG draft' if draft else 'full decode'} ({workers} {kind} workers)"
            rows.setdefault(name, []).append(
                rate(count, lambda d=draft: decode_all(decoders[d], paths))
            )
        rows.setdefault(f"model only, float32 ({call.label})", []).append(
            rate(calls * batch, lambda: run_model(call, pixels, calls))
        )
        if unfolded is not None:
            rows.setdefault("model only, float32, batch norms not folded", []).append(
                rate(calls * batch, lambda: run_model(unfolded, pixels, calls))
            )
        if bf16_call is not None:
            rows.setdefault(f"model only, mixed bfloat16 ({bf16_call.label})", []).append(
                rate(calls * batch, lambda: run_model(bf16_call, pixels, calls))
            )
        out = Path(scratch.name) / "pool5.npy"

        def end_to_end(out: Path = out) -> None:
            nonlocal result
            result = extract(paths, batch_size=batch, workers=workers, out=out, progress=False)

        rows.setdefault("end to end, extract_features", []).append(rate(count, end_to_end))

        def predict() -> None:
            nonlocal expected
            expected = plain.predict(prepare(full), batch_size=batch, verbose=0)
            expected = expected[0] if isinstance(expected, list) else expected

        rows.setdefault("plain Keras predict, pictures already decoded", []).append(
            rate(count, predict)
        )
    medians = {name: statistics.median(values) for name, values in rows.items()}
    predict_rate = medians["plain Keras predict, pictures already decoded"]
    medians["plain Keras predict + load_picture one by one"] = 1 / (
        1 / predict_rate + 1 / sequential_decode
    )
    device = accelerator() or "CPU only"
    e2e = print_rates(
        medians,
        "end to end, extract_features",
        f"{args.model}; {origin}; {os.cpu_count()} CPU cores, {device}; Keras {keras.__version__} on "
        f"{keras.backend.backend()}; batch {batch}, {workers} decoding workers ({kind}); "
        f"median of {args.rounds} rounds",
    )
    decode_bound = medians[next(n for n in medians if n.startswith("decode only, JPEG draft"))]
    model_bound = medians[f"model only, float32 ({call.label})"]
    print(
        f"\nend to end / slower bound (decode draft {decode_bound:,.0f}, model {model_bound:,.0f}): "
        f"{e2e / min(decode_bound, model_bound):.2f}"
    )
    print(f"end to end / plain Keras predict (decoded pictures): {e2e / predict_rate:.2f}")
    got = np.asarray(result.pool5)
    cos = cosine(got, expected)
    print(
        f"features, end to end (JPEG draft) vs plain predict (full decode): min cosine {cos.min():.6f}, "
        f"max abs diff {np.abs(got - expected).max():.3g} (pool5 values up to {np.abs(expected).max():.3g})"
    )
    sample = paths[: min(32, count)]
    diffs = np.stack(
        [
            np.abs(decode(p, draft=True).astype(np.int16) - decode(p).astype(np.int16))
            for p in sample
        ]
    )
    print(
        f"pixels, draft vs full decode ({len(sample)} pictures): mean abs {diffs.mean():.2f}, "
        f"99th percentile {np.percentile(diffs, 99):.0f}, max {diffs.max()} grey levels"
    )
    if bf16_call is not None:
        fp32, bf16 = (
            call.fetch(call.submit(pixels))[0],
            bf16_call.fetch(bf16_call.submit(pixels))[0],
        )
        cos = cosine(fp32, bf16)
        print(
            f"features, mixed bfloat16 vs float32: min cosine {cos.min():.6f}, mean {cos.mean():.6f}"
        )
    if args.memory_counts:
        print("\n| pictures | peak RSS MiB (extract_features with out=) |")
        print("| ---: | ---: |")
        for n in args.memory_counts:
            m = peak_memory(folder, n, batch, workers, args.model)
            print(f"| {m['n']} | {m['peak_rss_mb']:.0f} |", flush=True)
    for decoder in decoders.values():
        decoder.close()
    scratch.cleanup()


if __name__ == "__main__":
    main()
