"""``retrieval serve``: a web page to search a bundle's gallery or a library by text or example image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from retrieval.cli._options import add_bundle_or_library, add_command, add_weights_file

EXAMPLE = """examples:
  retrieval serve --bundle runs/demo/bundle                   # http://127.0.0.1:8000
  retrieval serve                                             # the per-user library (`retrieval index`)
  retrieval serve --library ~/work-library --port 9000
  retrieval serve --library ~/clip-library                    # a CLIP library (index --model clip:...)
  retrieval serve --bundle runs/demo/bundle --host 0.0.0.0    # reachable from other machines
  retrieval serve --bundle sent/bundle --picture-root sent/pictures   # a bundle made elsewhere"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "serve",
        help="serve a search page (text and image queries, yes/no feedback)",
        description="Serve a web page and a JSON API over a bundle's gallery or a library (OpenAPI at /docs).",
        example=EXAMPLE,
    )
    add_bundle_or_library(parser, "serve")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the page answers to besides this machine's loopback names and --host "
        "(repeat for more; requests for other names get 400, which stops DNS rebinding)",
    )
    parser.add_argument(
        "--picture-root",
        action="append",
        type=Path,
        metavar="DIR",
        help="with --bundle: serve its pictures only from this folder (repeat for more; default: "
        "the folders its gallery lists, so give this for a bundle made elsewhere)",
    )
    add_weights_file(parser)
    parser.add_argument(
        "--max-upload-mb", type=float, default=10.0, help="largest image upload (default 10)"
    )
    parser.set_defaults(run=run)


def check_port(host: str, port: int) -> None:
    """Fail with one line, before any loading, when ``host:port`` cannot be listened on."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ValueError(
                f"cannot listen on {host}:{port} ({reason}); choose another --port or --host"
            ) from None


def run(args: argparse.Namespace) -> int:
    check_port(args.host, args.port)
    import uvicorn
    from threadpoolctl import threadpool_limits

    # Requests run concurrently in threads; one BLAS thread each avoids oversubscribing the cores.
    threadpool_limits(1)

    from retrieval.core import Searcher, load_bundle
    from retrieval.web import LibraryBackend, SearcherBackend, create_app
    from retrieval.web.app import LOOPBACK_HOSTS

    if args.picture_root and args.bundle is None:
        raise ValueError("--picture-root is for --bundle; a library serves the folders it indexed")
    if args.bundle is None:
        from retrieval.cli._options import library_or_default

        args.library = library_or_default(args.library, must_exist=args.library is None)
    backend: LibraryBackend | SearcherBackend
    if args.library is not None:
        from retrieval.library import PictureLibrary

        # re-read whenever `retrieval index` rewrites the library
        backend = LibraryBackend(PictureLibrary(args.library), weights_file=args.weights_file)
        if args.weights_file is not None and not isinstance(backend.current().searcher, Searcher):
            raise ValueError("--weights-file is for ResNet-50 bundles; a CLIP library needs none")
    else:
        searcher = Searcher(*load_bundle(args.bundle))
        backend = SearcherBackend(searcher, weights_file=args.weights_file, roots=args.picture_root)
    hosts = [*LOOPBACK_HOSTS, *args.allowed_host]
    if args.host not in ("0.0.0.0", "::") and args.host not in hosts:
        hosts.append(args.host)
    app = create_app(
        backend,
        roots=backend.roots,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        allowed_hosts=hosts,
    )
    print(
        f"serving {len(backend.paths)} pictures on http://{args.host}:{args.port}", file=sys.stderr
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
