"""Index benchmarks: exact search + MAP@20 at competition size, and each backend at scale.

(a) 2,000 description codes against 2,000 image codes (100-d): exact top-20 search and
    MAP@20 in both forms, median of --repeats runs (target: under 0.5 s).
(b) --n clustered 100-d vectors: per backend, build time, memory,
    single-query latency p50/p99 over --queries queries, and recall@20 against exact search.
    Qdrant's embedded mode is a pure-Python brute force meant for development; it is measured
    at --qdrant-n vectors.

Memory is the growth of the process's resident memory from before the build to after the
first queries (for "binary codes only", the codes alone). HNSW is built once and queried at
each --ef; the 1-bit index is built once and re-ranked at each --candidates.

Usage: python benchmarks/bench_index.py [--n 1000000] [--queries 200] [--qdrant-n 20000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import numpy as np

from retrieval.index import make_index
from retrieval.metrics import map_at_k, map_at_k_linear, ranks_from_scores


def clustered(
    n: int, dim: int = 100, clusters: int = 1000, seed: int = 0, centre_seed: int = 0
) -> np.ndarray:
    """``n`` points around ``clusters`` Gaussian centres; the centres depend only on ``centre_seed``,
    so queries drawn with another ``seed`` come from the same clusters as the collection."""
    centres = np.random.default_rng(centre_seed).normal(0, 1, (clusters, dim)).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        out[start:stop] = centres[rng.integers(0, clusters, stop - start)] + rng.normal(
            0, 0.5, (stop - start, dim)
        )
    return out


def competition_size(repeats: int) -> float:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2000, 100)).astype(np.float32)
    texts = images + rng.normal(0, 1.5, images.shape).astype(np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        index = make_index("exact")
        index.add([str(i) for i in range(2000)], images)
        ids, _ = index.search(texts, k=20)
        a = images / np.linalg.norm(images, axis=1, keepdims=True)
        q = texts / np.linalg.norm(texts, axis=1, keepdims=True)
        ranks = ranks_from_scores(q @ a.T, np.arange(2000))
        map_at_k(ranks, 20), map_at_k_linear(ranks, 20)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.empty((len(q), k), dtype=np.int64)
    for i in range(0, len(q), 50):
        scores = q[i : i + 50] @ unit.T
        truth[i : i + 50] = np.argpartition(-scores, k, axis=1)[:, :k]
    return truth


def rss_mb() -> float:
    """Resident memory of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def build(backend: str, vectors: np.ndarray, **params) -> tuple[object, float, float]:
    """The index, its build time in seconds, and the process's resident memory before it."""
    gc.collect()
    before = rss_mb()
    index = make_index(backend, **params)
    ids = [str(i) for i in range(len(vectors))]
    start = time.perf_counter()
    for offset in range(0, len(vectors), 100_000):
        index.add(ids[offset : offset + 100_000], vectors[offset : offset + 100_000])
    return index, time.perf_counter() - start, before


def query(index, queries: np.ndarray, truth: np.ndarray) -> dict:
    """Single-vector query latency p50/p99 in ms and mean recall@20 against ``truth``."""
    latencies, recalls = [], []
    for vector, true in zip(queries, truth, strict=True):
        start = time.perf_counter()
        found, _ = index.search(vector[None], k=20)
        latencies.append(1000 * (time.perf_counter() - start))
        recalls.append(len({int(x) for x in found[0]} & set(true.tolist())) / 20)
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "recall": float(np.mean(recalls)),
    }


def sweep(backend, vectors, queries, truth, label, settings, **params) -> list[tuple[str, dict]]:
    """Build one index, then query it under each (name, attribute, value) search setting."""
    index, seconds, before = build(backend, vectors, **params)
    rows, memory = [], None
    for name, attribute, value in settings:
        if attribute:
            setattr(index, attribute, value)
        timings = query(index, queries, truth)
        if memory is None:  # after the first queries, so lazily fitted structures count
            gc.collect()
            memory = rss_mb() - before
        row = {"build": seconds, "memory_mb": memory, **timings}
        if backend == "binary" and not index.keep_vectors:
            row["memory_mb"] = index.memory_bytes() / 1e6
        rows.append((f"{label}{name}", row))
        print(f"{rows[-1][0]}: {row}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--qdrant-n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="*", default=["exact", "hnsw", "binary", "qdrant"])
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", type=int, nargs="*", default=[32, 64, 128, 256])
    parser.add_argument("--candidates", type=int, nargs="*", default=[200, 2000])
    args = parser.parse_args()

    print(
        f"\n(a) exact top-20 search + both MAP@20 forms, 2,000 x 2,000, 100-d: "
        f"median {competition_size(args.repeats):.3f} s of {args.repeats} runs\n"
    )
    vectors = clustered(args.n)
    queries = clustered(args.queries, seed=1)
    truth = exact_truth(vectors, queries, 20)
    n = f"{args.n:,} vectors"
    rows = []
    if "exact" in args.backends:
        rows += sweep("exact", vectors, queries, truth, f"exact ({n})", [("", None, None)])
    if "hnsw" in args.backends:
        settings = [(f", ef {ef}", "ef", ef) for ef in args.ef]
        label = f"hnsw ({n}, M {args.M}, ef_construction {args.ef_construction})"
        rows += sweep(
            "hnsw",
            vectors,
            queries,
            truth,
            label,
            settings,
            M=args.M,
            ef_construction=args.ef_construction,
        )
    if "binary" in args.backends:
        settings = [(f", re-rank {c})", "candidates", c) for c in args.candidates]
        rows += sweep("binary", vectors, queries, truth, f"binary ({n}", settings)
        rows += sweep(
            "binary",
            vectors,
            queries,
            truth,
            f"binary codes only ({n}, Hamming rank)",
            [("", None, None)],
            keep_vectors=False,
        )
    if "qdrant" in args.backends:
        small = vectors[: args.qdrant_n]
        rows += sweep(
            "qdrant",
            small,
            queries,
            exact_truth(small, queries, 20),
            f"qdrant (embedded, {args.qdrant_n:,} vectors)",
            [("", None, None)],
        )
    print(f"\n(b) clustered 100-d vectors, {args.queries} single-vector queries, k=20\n")
    print("| backend | build s | memory MB | p50 ms | p99 ms | recall@20 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        memory = "-" if r["memory_mb"] is None else f"{r['memory_mb']:.0f}"
        print(
            f"| {name} | {r['build']:.1f} | {memory} | {r['p50']:.2f} | {r['p99']:.2f} | {r['recall']:.3f} |"
        )


if __name__ == "__main__":
    main()
