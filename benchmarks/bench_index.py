"""Index benchmarks: exact search + MAP@20 at competition size, and each backend at scale.

(a) 2,000 description codes against 2,000 image codes (100-d): exact top-20 search and
    MAP@20 in both forms, median of --repeats runs (target: under 0.5 s).
(b) --n clustered 100-d vectors: per backend, build time, memory of the index structure,
    single-query latency p50/p99 over --queries queries, and recall@20 against exact search.
    Qdrant's embedded mode is a pure-Python brute force meant for development; it is measured
    at --qdrant-n vectors.

Usage: python benchmarks/bench_index.py [--n 1000000] [--queries 200] [--qdrant-n 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
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


def measure(
    backend: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, **params
) -> dict:
    index = make_index(backend, **params)
    ids = [str(i) for i in range(len(vectors))]
    start = time.perf_counter()
    for offset in range(0, len(vectors), 100_000):
        index.add(ids[offset : offset + 100_000], vectors[offset : offset + 100_000])
    build = time.perf_counter() - start
    latencies, recalls = [], []
    for query, true in zip(queries, truth, strict=True):
        start = time.perf_counter()
        found, _ = index.search(query[None], k=20)
        latencies.append(1000 * (time.perf_counter() - start))
        recalls.append(len({int(x) for x in found[0]} & set(true.tolist())) / 20)
    memory = {"exact": vectors.nbytes, "hnsw": None, "binary": None, "qdrant": None}[backend]
    if backend == "binary":
        memory = index.memory_bytes()
    elif backend == "hnsw":
        m = params.get("M", 16)
        memory = vectors.nbytes + len(vectors) * (
            2 * m * 4 + 8
        )  # vectors + level-0 links (hnswlib layout)
    latencies.sort()
    return {
        "build": build,
        "memory_mb": None if memory is None else memory / 1e6,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "recall": float(np.mean(recalls)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--qdrant-n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="*", default=["exact", "hnsw", "binary", "qdrant"])
    args = parser.parse_args()

    print(
        f"\n(a) exact top-20 search + both MAP@20 forms, 2,000 x 2,000, 100-d: "
        f"median {competition_size(args.repeats):.3f} s of {args.repeats} runs\n"
    )
    vectors = clustered(args.n)
    queries = clustered(args.queries, seed=1)
    truth = exact_truth(vectors, queries, 20)
    rows = []
    for backend in args.backends:
        if backend == "qdrant":
            small = vectors[: args.qdrant_n]
            with tempfile.TemporaryDirectory() as scratch:
                result = measure(
                    "qdrant", small, queries, exact_truth(small, queries, 20), path=scratch
                )
            rows.append((f"qdrant (embedded, {args.qdrant_n:,} vectors)", result))
            continue
        params = (
            {"M": 16, "ef_construction": 200, "ef": 400}
            if backend == "hnsw"
            else ({"candidates": 2000} if backend == "binary" else {})
        )
        rows.append(
            (f"{backend} ({args.n:,} vectors)", measure(backend, vectors, queries, truth, **params))
        )
        print(f"{rows[-1][0]}: {rows[-1][1]}", flush=True)
    print(f"\n(b) clustered 100-d vectors, {args.queries} single-vector queries, k=20\n")
    print("| backend | build s | index memory MB | p50 ms | p99 ms | recall@20 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        memory = "-" if r["memory_mb"] is None else f"{r['memory_mb']:.0f}"
        print(
            f"| {name} | {r['build']:.1f} | {memory} | {r['p50']:.2f} | {r['p99']:.2f} | {r['recall']:.3f} |"
        )


if __name__ == "__main__":
    main()
