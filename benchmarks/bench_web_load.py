"""Load on the search endpoint: concurrent clients against `retrieval serve` on 127.0.0.1.

The server runs in its own process (as `retrieval serve` does) over a trained bundle whose
gallery is enlarged to --gallery codes (the bundle's own image codes plus small noise,
cycling its pictures), so the figure reflects a gallery of that size. Clients send text
queries drawn from the bundle's data for --seconds; the table gives throughput, p50/p99
latency and errors.

``--mix N`` runs a second phase in which N of the clients upload example pictures to
``/api/search/image`` instead, and compares the text queries' latency there with the first
phase's: image queries decode and run the network off the event loop, so they must not stall
text search.

Usage: python benchmarks/bench_web_load.py --bundle runs/demo/bundle [--clients 50] [--seconds 30] [--gallery 10000] [--mix 2]
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


async def uploader(
    url: str, pictures: list[bytes], deadline: float, latencies: list[float], errors: list[str]
) -> None:
    """Upload example pictures one after another until ``deadline``."""
    async with httpx.AsyncClient(timeout=60) as http:
        turn = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                response = await http.post(
                    url, params={"k": 20}, files={"file": ("q.jpg", pictures[turn % len(pictures)])}
                )
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            latencies.append(time.perf_counter() - start)
            turn += 1


async def load(
    base: str,
    queries: list[str],
    clients: int,
    seconds: float,
    uploaders: int = 0,
    pictures: list[bytes] = (),
) -> tuple[list[float], list[str], list[float]]:
    """Text queries from ``clients - uploaders`` clients and uploads from ``uploaders``; the
    text latencies, every error, and the upload latencies."""
    latencies: list[float] = []
    uploads: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            client(f"{base}/api/search", queries, deadline, latencies, errors, i)
            for i in range(clients - uploaders)
        ),
        *(
            uploader(f"{base}/api/search/image", list(pictures), deadline, uploads, errors)
            for _ in range(uploaders)
        ),
    )
    return latencies, errors, uploads


def percentile(ms: list[float], share: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("runs/demo/bundle"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--gallery", type=int, default=10_000)
    parser.add_argument(
        "--mix",
        type=int,
        default=0,
        help="a second phase with this many clients uploading pictures",
    )
    args = parser.parse_args()

    from retrieval.core import load_bundle
    from retrieval.data import load_competition

    model, gallery = load_bundle(args.bundle)
    queries = load_competition(model.config.data.root, "train", features=None).texts()
    pictures = [Path(p).read_bytes() for p in gallery.paths[:8] if Path(p).is_file()]
    if args.mix and not pictures:
        raise SystemExit("--mix needs the bundle's pictures on disk")
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(SERVER)
    server = subprocess.Popen(
        [sys.executable, script.name, str(args.bundle), str(args.gallery), str(port)]
    )
    phases = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(
                    f"{base}/api/search", params={"q": "warm up"}, timeout=5
                ).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        if args.mix:  # the first upload builds the network: not part of either phase
            httpx.post(
                f"{base}/api/search/image", files={"file": ("q.jpg", pictures[0])}, timeout=120
            )
        phases.append(("text only", asyncio.run(load(base, queries, args.clients, args.seconds))))
        if args.mix:
            mixed = asyncio.run(load(base, queries, args.clients, args.seconds, args.mix, pictures))
            phases.append((f"{args.mix} of them uploading", mixed))
    finally:
        server.terminate()
        server.wait(timeout=30)
        Path(script.name).unlink()
    print(
        f"\n{args.clients} clients for {args.seconds:.0f} s per phase, {args.gallery:,}-image "
        "gallery, GET /api/search k=20 (text latencies)\n"
    )
    print(
        "| phase | text requests | errors | requests/s | p50 ms | p99 ms | uploads | upload p50 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    p99s = []
    for name, (latencies, errors, uploads) in phases:
        ms = [1000 * x for x in latencies]
        p99s.append(percentile(ms, 0.99))
        upload = f"{statistics.median(1000 * x for x in uploads):.0f}" if uploads else "-"
        print(
            f"| {name} | {len(ms)} | {len(errors)} | {len(ms) / args.seconds:.0f} | "
            f"{statistics.median(ms):.1f} | {p99s[-1]:.1f} | {len(uploads)} | {upload} |"
        )
    if len(p99s) == 2:
        print(f"\ntext p99 with uploads / without: {p99s[1] / p99s[0]:.2f}x")


if __name__ == "__main__":
    main()
