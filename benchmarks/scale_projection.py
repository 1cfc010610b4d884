"""Project feature extraction and indexing to a large collection from measured figures.

Every projection is arithmetic on a figure that a benchmark measured and a results file
holds; the table names the file and the row each one rests on. Nothing here is measured.

``python benchmarks/scale_projection.py --pictures 100000000 > benchmarks/results/scale_projection.md``
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
GPU = "gpu_h100_features.md"
INDEX = "index_1m.md"
CPU = "scale_cpu.md"
LITE0_DIM = 1280  # EfficientNet-Lite0's pooled features
CODE_DIM = 100  # the searched code
SHARD = 10_000  # pictures per shard (the default of --shard-size)
DAY = 86_400


def measured(file: str, row_start: str, column: int) -> float:
    """The number in ``column`` of the first table row of ``file`` that starts so."""
    for line in (RESULTS / file).read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {row_start}"):
            cell = line.strip("|").split("|")[column].strip()
            return float(re.sub(r"[,*]", "", cell))
    raise SystemExit(f"{RESULTS / file}: no row starting {row_start!r}")


def size(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes:,.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=100_000_000)
    parser.add_argument("--hours", type=float, default=24.0, help="the time to finish in")
    parser.add_argument("--node-memory-gb", type=float, default=64.0, help="per Qdrant node")
    parser.add_argument("--replicas", type=int, default=2, help="Qdrant replication factor")
    args = parser.parse_args()
    n, seconds = args.pictures, args.hours * 3600

    end_to_end = measured(GPU, "end to end, extract_features", 1)
    decode = measured(GPU, "decode only, JPEG draft (15 process workers)", 1)
    model = measured(GPU, "model only, float32 (jax.jit", 1)
    cpu_local = measured(CPU, "local engine", 2)
    hnsw_mb = measured(INDEX, "hnsw (1,000,000 vectors, M 16, ef_construction 200), ef 64", 2)
    exact_mb = measured(INDEX, "exact (1,000,000 vectors)", 2)
    codes_mb = measured(INDEX, "binary codes only", 2)
    per_core = decode / 15
    cores_per_gpu = model / per_core
    millions = n / 1e6
    qdrant_bytes = millions * hnsw_mb * 1e6 * args.replicas
    nodes = math.ceil(qdrant_bytes / (args.node_memory_gb * 1e9))

    rows = [
        (
            "one H100 node (16 cores), ResNet-50 as measured: decode-bound",
            f"{n / end_to_end / 3600:,.1f} h; node(s) to finish in {args.hours:g} h: "
            f"{math.ceil(n / end_to_end / seconds)}",
            f"{GPU}: end to end, extract_features ({end_to_end:,.1f} images/s)",
        ),
        (
            "decoding cores that keep one H100 at its ResNet-50 model rate",
            f"{cores_per_gpu:,.0f} cores per GPU ({per_core:,.1f} pictures/s per core)",
            f"{GPU}: decode only, JPEG draft, 15 workers ({decode:,.1f}); model only, "
            f"float32 ({model:,.1f})",
        ),
        (
            f"GPUs fed so, to finish in {args.hours:g} h",
            f"{math.ceil(n / model / seconds)} GPU(s) and "
            f"{math.ceil(n / model / seconds) * cores_per_gpu:,.0f} decoding cores",
            f"{GPU}: model only, float32 ({model:,.1f})",
        ),
        (
            "CPUs only (EfficientNet-Lite0, this machine's rate per core)",
            f"{n / (cpu_local / 2) / 3600:,.0f} core-hours; "
            f"{math.ceil(n / (cpu_local / 2) / seconds):,} cores for {args.hours:g} h",
            f"{CPU}: local engine, steady ({cpu_local:,.1f} images/s on 2 cores)",
        ),
        (
            f"shards of {SHARD:,} pictures (EfficientNet-Lite0, {LITE0_DIM}-d)",
            f"{math.ceil(n / SHARD):,} shards of {size(SHARD * LITE0_DIM * 2)} (float16); "
            f"{size(n * LITE0_DIM * 2)} in all, {size(n * LITE0_DIM * 4)} as float32",
            "arithmetic: rows x width x bytes",
        ),
        (
            f"exact index of the {CODE_DIM}-d code",
            f"{size(millions * exact_mb * 1e6)} of memory",
            f"{INDEX}: exact (1,000,000 vectors), {exact_mb:,.0f} MB",
        ),
        (
            "hnsw index (M 16) of the code, one machine",
            f"{size(millions * hnsw_mb * 1e6)} of memory",
            f"{INDEX}: hnsw, M 16, {hnsw_mb:,.0f} MB per million vectors",
        ),
        (
            f"Qdrant, {args.replicas} replicas, nodes of {args.node_memory_gb:g} GB",
            f"{size(qdrant_bytes)} in all: {nodes} nodes (shards spread over them, each "
            f"shard on {args.replicas} nodes)",
            f"{INDEX}: hnsw, M 16, {hnsw_mb:,.0f} MB per million vectors (Qdrant's graph "
            "taken to cost as much)",
        ),
        (
            "binary codes (a first pass before re-ranking)",
            f"{size(millions * codes_mb * 1e6)} of memory",
            f"{INDEX}: binary codes only, {codes_mb:,.0f} MB per million",
        ),
    ]
    print(f"Projected to {n:,} pictures (`--pictures {n}`):\n")
    print("| what | projection | rests on |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
