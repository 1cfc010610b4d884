"""Peak memory of building an index from feature shards, one shard at a time.

Writes ``--count`` random clustered ``--dim``-d vectors as ``--shards`` shards (the layout
of ``retrieval features --shards``), then, in a fresh process per backend, adds every shard
to an index with :func:`retrieval.index.add_shards` and reports:

- ``index MB``: the index's own memory, its arrays (or HNSW's graph, as hnswlib saves it)
  and its ids (Python strings);
- ``peak MB``: the process's peak resident memory less its resident memory before the
  first shard was read (the interpreter and the libraries);
- ``peak / index``: the target is below 2.

``python benchmarks/bench_index_shards.py --count 1000000 --shards 16``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_vectors(folder: Path, count: int, dim: int, shards: int) -> None:
    from retrieval.features import ExtractionResult
    from retrieval.features.shards import write_shards

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(256, dim)).astype(np.float32)
    per_shard = -(-count // shards)
    paths = [f"/pictures/{i:08d}.jpg" for i in range(count)]
    position = {p: i for i, p in enumerate(paths)}

    def extract(chunk: list) -> ExtractionResult:
        start = position[str(chunk[0])]
        local = np.random.default_rng(start)
        rows = centres[local.integers(0, len(centres), len(chunk))]
        rows = rows + 0.3 * local.normal(size=rows.shape).astype(np.float32)
        return ExtractionResult(paths=list(chunk), pool5=rows.astype(np.float32), fc1000=None)

    write_shards(paths, folder, extract=extract, shard_size=per_shard)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(folder: str, backend: str) -> dict:
    """In this process: add the shards to a new index of ``backend``; memory and time."""
    import pandas as pd  # the shards' metadata reader: loaded before, as a library
    import pyarrow.parquet  # noqa: F401
    import sklearn.neighbors  # noqa: F401  (the exact backend's search)

    from retrieval.index import add_shards, make_index

    index = make_index(backend)
    pd.DataFrame({"a": [0]})
    before = rss_mb()
    start = time.perf_counter()
    added = add_shards(index, folder)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ids = sys.getsizeof(index.ids_) + sum(sys.getsizeof(i) for i in index.ids_)
    if backend == "hnsw":
        with tempfile.TemporaryDirectory() as scratch:
            index.save(Path(scratch) / "index")
            graph = sum(f.stat().st_size for f in (Path(scratch) / "index").rglob("*.bin"))
        own = graph + ids
    else:
        own = sum(a.nbytes for a in index.get_state()[1].values()) + ids
    return {
        "backend": backend,
        "added": added,
        "seconds": seconds,
        "index MB": own / 2**20,
        "peak MB": peak - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--backends", nargs="+", default=["exact", "binary", "hnsw"])
    parser.add_argument("--measure", nargs=2, metavar=("FOLDER", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "shards"
        write_vectors(folder, args.count, args.dim, args.shards)
        for backend in args.backends:
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(folder), backend],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    print(
        f"{args.count:,} {args.dim}-d vectors in {args.shards} shards, added with add_shards, "
        "one fresh process per backend (default parameters):\n"
    )
    print("| backend | build s | index MB | peak MB | peak / index |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['backend']} | {row['seconds']:,.1f} | {row['index MB']:,.0f} | "
            f"{row['peak MB']:,.0f} | {row['peak MB'] / row['index MB']:.2f} |"
        )


if __name__ == "__main__":
    main()
