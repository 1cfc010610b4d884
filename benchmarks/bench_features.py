"""Feature extraction speed and memory on this machine: images/s by batch size, peak RSS by count.

Pictures are the demo's 224x224 JPEGs copied to a temporary folder until --count files
exist. Each measurement runs in a fresh process so peak RSS (ru_maxrss) is its own.
Weights are random (weights=None), which costs the same as ImageNet weights.

Usage: python benchmarks/bench_features.py [--batches 1 16 64] [--speed-count 128] [--memory-counts 200 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
from retrieval.features import extract_features
from retrieval.features._extract import get_model
paths = sorted(Path(sys.argv[1]).glob("*.jpg"))[: int(sys.argv[2])]
batch = int(sys.argv[3])
get_model(None, False, 0)  # build the model outside the timed part
start = time.perf_counter()
result = extract_features(paths, weights=None, batch_size=batch, out=sys.argv[4], progress=False)
elapsed = time.perf_counter() - start
print(json.dumps({"n": len(result.paths), "seconds": elapsed,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(folder: Path, count: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(folder),
                str(count),
                str(batch),
                str(Path(scratch) / "pool5.npy"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 16, 64])
    parser.add_argument("--speed-count", type=int, default=128)
    parser.add_argument("--memory-counts", type=int, nargs="*", default=[200, 1000])
    parser.add_argument("--memory-batch", type=int, default=32)
    args = parser.parse_args()
    demo = sorted(Path("data/demo/images_train").glob("*.jpg"))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for i in range(max([args.speed_count, *args.memory_counts])):
            shutil.copyfile(demo[i % len(demo)], folder / f"{i:06d}.jpg")
        print(
            f"\nResNet-50 pool5 on {os.cpu_count()} CPU cores, decoding included, model built beforehand\n"
        )
        print("| batch | images | images/s |")
        print("| ---: | ---: | ---: |")
        for batch in args.batches:
            m = measure(folder, args.speed_count, batch)
            print(f"| {batch} | {m['n']} | {m['n'] / m['seconds']:.1f} |", flush=True)
        print("\n| images | peak RSS MB | seconds |")
        print("| ---: | ---: | ---: |")
        for count in args.memory_counts:
            m = measure(folder, count, args.memory_batch)
            print(f"| {m['n']} | {m['peak_rss_mb']:.0f} | {m['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
