"""Load on the search endpoint: concurrent clients against `retrieval serve` on 127.0.0.1.

The server runs in its own process (as `retrieval serve` does) over a trained bundle whose
gallery is enlarged to --gallery codes (the bundle's own image codes plus small noise,
cycling its pictures), so the figure reflects a gallery of that size. Clients send text
queries drawn from the bundle's data for --seconds; the table gives throughput, p50/p99
latency and errors.

Usage: python benchmarks/bench_web_load.py --bundle runs/demo/bundle [--clients 50] [--seconds 30] [--gallery 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np

SERVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import uvicorn
    from threadpoolctl import threadpool_limits
    from retrieval.core import Gallery, Searcher, load_bundle
    from retrieval.web import SearcherBackend, create_app

    threadpool_limits(1)  # as `retrieval serve` does: one BLAS thread per request thread
    bundle, size, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model, base = load_bundle(bundle)
    rng = np.random.default_rng(0)
    rows = np.arange(size) % len(base)
    spaces = {
        name: values[rows] + rng.normal(0, 0.05, (size, values.shape[1])).astype(np.float32)
        for name, values in base.spaces.items()
    }
    tags = None if base.tags is None else [base.tags[r] for r in rows]
    gallery = Gallery([str(i) for i in range(size)], [base.paths[r] for r in rows], spaces, tags)
    backend = SearcherBackend(Searcher(model, gallery))
    uvicorn.run(create_app(backend, roots=backend.roots()), host="127.0.0.1", port=port, log_level="error")
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def client(
    url: str,
    queries: list[str],
    deadline: float,
    latencies: list[float],
    errors: list[str],
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(timeout=30) as http:
        while time.perf_counter() < deadline:
            query = queries[int(rng.integers(len(queries)))]
            start = time.perf_counter()
            try:
                response = await http.get(url, params={"q": query, "k": 20})
                if response.status_code != 200 or len(response.json()["results"]) != 20:
                    errors.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            latencies.append(time.perf_counter() - start)


async def load(
    url: str, queries: list[str], clients: int, seconds: float
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(client(url, queries, deadline, latencies, errors, i) for i in range(clients))
    )
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("runs/demo/bundle"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--gallery", type=int, default=10_000)
    args = parser.parse_args()

    from retrieval.core import load_bundle
    from retrieval.data import load_competition

    config = load_bundle(args.bundle)[0].config
    queries = load_competition(config.data.root, "train", features=None).texts()
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(SERVER)
    server = subprocess.Popen(
        [sys.executable, script.name, str(args.bundle), str(args.gallery), str(port)]
    )
    try:
        url = f"http://127.0.0.1:{port}/api/search"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url, params={"q": "warm up"}, timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        latencies, errors = asyncio.run(load(url, queries, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        Path(script.name).unlink()
    ms = sorted(1000 * x for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
    print(
        f"\n{args.clients} clients for {args.seconds:.0f} s, {args.gallery:,}-image gallery, GET /api/search k=20\n"
    )
    print("| requests | errors | requests/s | p50 ms | p99 ms |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {len(ms)} | {len(errors)} | {len(ms) / args.seconds:.0f} | {statistics.median(ms):.1f} | {p99:.1f} |"
    )


if __name__ == "__main__":
    main()
