"""Feature extraction into shards: the local engine against the Ray engine, on this machine.

Each round extracts the same pictures into fresh shards with each engine, interleaved, and
the table shows medians over the rounds (a busy machine slows every row alike):

- ``end to end``: pictures / the whole call (the Ray rows include starting their actors,
  which build the network once each);
- ``steady``: pictures of the shards after the first / the time from the first shard's
  completion to the last one's (the rate a long job runs at, start-up left out);
- ``start-up``: seconds to the first finished shard;

and, in the same rounds, the two bounds of this machine: decoding alone (the pictures into
uint8 batches by ``load_picture`` in this process, one core) and the model alone (the
compiled call on a batch already in memory).

The Ray engine runs on a cluster started in this process (all of this machine's CPUs), or on
``--address``. With GPUs in the cluster, each actor holds one (``--actors`` sets how many).
Pictures: synthetic 224x224 JPEGs (gradients and noise, drawn with PIL), or ``--images``.

CPU: ``python benchmarks/bench_scale.py --count 4096 --actors 1 2``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

MODEL = "efficientnet_lite0"


def synthetic_pictures(folder: Path, count: int, side: int = 224) -> list[Path]:
    """``count`` JPEGs of gradients with noise, each different."""
    from PIL import Image

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    paths = []
    for i in range(count):
        base = ramp[None, :, None] * rng.random(3) + ramp[:, None, None] * rng.random(3)
        pixels = np.clip(base / 2 + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


class Timed:
    """Wraps an engine: the time each shard came back."""

    def __init__(self, engine: Callable[[list], Iterable]) -> None:
        self.engine = engine
        self.finished: list[float] = []

    def __call__(self, pending: list) -> Iterable:
        for item in self.engine(pending):
            self.finished.append(time.perf_counter())
            yield item


def local_engine(batch_size: int, workers: int) -> Callable[[list], Iterable]:
    from retrieval.features import extract_features

    def engine(pending: list) -> Iterable:
        for number, chunk in pending:
            yield (
                number,
                chunk,
                extract_features(
                    chunk, model=MODEL, batch_size=batch_size, workers=workers, progress=False
                ),
            )

    return engine


def ray_engine(batch_size: int, actors: int) -> Callable[[list], Iterable]:
    from retrieval.features.ray_engine import NetworkSpec, extract_shards

    spec = NetworkSpec(MODEL)

    def engine(pending: list) -> Iterable:
        return extract_shards(pending, spec, batch_size=batch_size, actors=actors, progress=False)

    return engine


def one_run(paths: list[Path], engine: Callable, shard_size: int, scratch: Path) -> dict:
    from retrieval.features.networks import network_record
    from retrieval.features.shards import write_shards

    out = scratch / "shards"
    shutil.rmtree(out, ignore_errors=True)
    timed = Timed(engine)
    start = time.perf_counter()
    summary = write_shards(
        paths, out, engine=timed, record=network_record(MODEL, "imagenet"), shard_size=shard_size
    )
    total = time.perf_counter() - start
    assert summary.pictures == len(paths), summary
    after_first = len(paths) - shard_size
    steady = after_first / (timed.finished[-1] - timed.finished[0])
    return {
        "end to end": len(paths) / total,
        "steady": steady,
        "start-up": timed.finished[0] - start,
    }


def decode_only(paths: list[Path], batch_size: int) -> float:
    """Pictures a second, decoded into uint8 batches in this process (one core)."""
    from retrieval.features import load_picture
    from retrieval.features.networks import picture_settings

    picture = picture_settings(MODEL)
    size = picture.pop("size")
    batch = np.zeros((batch_size, size, size, 3), np.uint8)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        batch[i % batch_size] = load_picture(path, size, draft=True, **picture)
    return len(paths) / (time.perf_counter() - start)


def model_only(batch_size: int, calls: int) -> float:
    """Pictures a second through the compiled network, on one batch already in memory."""
    from retrieval.features import get_model
    from retrieval.features.networks import picture_settings

    network = get_model("imagenet", False, 0, "float32", MODEL)
    call = network.compiled(batch_size)
    side = picture_settings(MODEL)["size"]
    pixels = np.random.default_rng(0).integers(0, 255, (batch_size, side, side, 3), np.uint8)
    call.fetch(call.submit(pixels))  # compiled before the clock starts
    start = time.perf_counter()
    for _ in range(calls):
        call.fetch(call.submit(pixels))
    return calls * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=4096, help="pictures (default 4096)")
    parser.add_argument("--shard-size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="the local engine's decoders")
    parser.add_argument("--actors", type=int, nargs="+", default=[1], help="Ray network actors")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--address", help="a running Ray cluster (default: start one here)")
    parser.add_argument("--images", type=Path, help="a folder of JPEGs instead of synthetic ones")
    args = parser.parse_args()
    if args.count <= args.shard_size:
        parser.error("--count must exceed --shard-size: the steady rate needs two shards")

    import ray

    from retrieval.features.sources import pictures_below

    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        if args.images:
            paths = pictures_below(args.images)[: args.count]
        else:
            (scratch / "pictures").mkdir()
            paths = synthetic_pictures(scratch / "pictures", args.count)
        engines = {
            f"local engine ({args.workers} decoding worker)": local_engine(
                args.batch_size, args.workers
            )
        }
        for actors in args.actors:
            engines[f"Ray engine, {actors} actor(s)"] = ray_engine(args.batch_size, actors)
        runs: dict[str, list[dict]] = {name: [] for name in engines}
        one_run(
            paths[: 2 * args.shard_size], next(iter(engines.values())), args.shard_size, scratch
        )
        bounds: dict[str, list[float]] = {"decode only": [], "model only": []}
        for round_number in range(args.rounds):
            bounds["decode only"].append(decode_only(paths[:1024], args.batch_size))
            bounds["model only"].append(model_only(args.batch_size, 32))
            for name, engine in engines.items():
                runs[name].append(one_run(paths, engine, args.shard_size, scratch))
                print(f"round {round_number + 1}: {name}: {runs[name][-1]}", file=sys.stderr)
    ray.shutdown()
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    print(
        f"EfficientNet-Lite0 into shards of {args.shard_size}, {len(paths)} pictures "
        f"({'synthetic 224x224 JPEGs' if not args.images else args.images}), batch "
        f"{args.batch_size}; Ray cluster: {cpus} CPUs, {gpus} GPUs; os.cpu_count() "
        f"{os.cpu_count()}; median of {args.rounds} interleaved rounds.\n"
    )
    decode = statistics.median(bounds["decode only"])
    model = statistics.median(bounds["model only"])
    print(
        f"Bounds in the same rounds: decode only {decode:,.1f} images/s on one core "
        f"(draft JPEG decoding into uint8 batches), model only {model:,.1f} images/s "
        f"(the compiled call, batch {args.batch_size}, pictures in memory).\n"
    )
    print("| engine | end to end, images/s | steady, images/s | steady / local | start-up s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    medians = {
        name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        for name, rounds in runs.items()
    }
    local = next(iter(medians.values()))["steady"]
    for name, row in medians.items():
        print(
            f"| {name} | {row['end to end']:,.1f} | {row['steady']:,.1f} | "
            f"{row['steady'] / local:.2f} | {row['start-up']:.1f} |"
        )
    print(f"\nsteady rate of the local engine / model-only bound: {local / model:.2f}")


if __name__ == "__main__":
    main()
