"""``retrieval serve``: a web page to search a trained bundle's pictures by text or example image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLE = """examples:
  retrieval serve --bundle runs/demo/bundle --weights none      # http://127.0.0.1:8000
  retrieval serve --bundle runs/demo/bundle --host 0.0.0.0 --port 9000   # reachable from other machines"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a search page (text and image queries, yes/no feedback)",
        description="Serve a web page and a JSON API over a trained bundle's gallery (OpenAPI at /docs).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bundle", type=Path, default=Path("runs/demo/bundle"))
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--weights",
        default="imagenet",
        help="ResNet-50 weights for image queries: imagenet, none, or a file",
    )
    parser.add_argument("--max-upload-mb", type=float, default=10.0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from threadpoolctl import threadpool_limits

    # Requests run concurrently in threads; one BLAS thread each avoids oversubscribing the cores.
    threadpool_limits(1)

    from retrieval.pipeline import Retriever
    from retrieval.web import create_app
    from retrieval.web.gallery import RetrieverGallery

    gallery = RetrieverGallery(
        Retriever.load(args.bundle), weights=None if args.weights == "none" else args.weights
    )
    app = create_app(
        gallery, roots=gallery.roots(), max_upload_bytes=int(args.max_upload_mb * 1024 * 1024)
    )
    print(
        f"serving {len(gallery.paths)} pictures on http://{args.host}:{args.port}", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
