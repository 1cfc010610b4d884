"""``retrieval report``: top-20 recall report (HTML + Markdown) of saved retrieval runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from retrieval.cli._options import add_bundle, add_command, add_competition_root, add_split

EXAMPLE = """examples:
  retrieval report --bundle runs/demo/bundle --out reports/demo           # its held-out split
  retrieval report --bundle runs/demo/bundle --split test --out reports/demo-test
  retrieval report --scores run.npz --out reports/run
  retrieval report --scores a.npz --scores b.npz --out reports/compare

An .npz holds gallery_paths, query_texts, relevant, and either scores (queries x gallery)
or ranking (queries x k) with ranks; optional: codes, name, history (a JSON string)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers,
        "report",
        help="write a top-20 recall report (HTML + Markdown) of saved runs",
        description="Write report.html (self-contained) and report.md for one or more runs.",
        example=EXAMPLE,
    )
    parser.add_argument(
        "--scores", type=Path, action="append", default=[], help="a run saved as .npz"
    )
    add_bundle(parser, repeat=True)
    add_split(parser, "what --bundle is scored on")
    add_competition_root(parser, "data root for --bundle (default: the bundle config's)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--title", help="the report's title (default: 'Retrieval report: the SPLIT part')"
    )
    parser.add_argument("--gallery-note", default="", help="a sentence about the gallery")
    parser.set_defaults(run=run)


def load_run(path: Path):
    """A :class:`RunResult` from an ``.npz`` file (see ``retrieval report --help``)."""
    import numpy as np

    from retrieval.errors import DataFormatError
    from retrieval.report import RunResult

    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    missing = {"gallery_paths", "query_texts", "relevant"} - set(arrays)
    if missing:
        raise DataFormatError(f"{path}: missing arrays {sorted(missing)}")
    try:
        history = json.loads(str(arrays["history"])) if "history" in arrays else None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: 'history' is not JSON ({exc.msg})") from None
    try:
        return RunResult(
            name=str(arrays["name"]) if "name" in arrays else path.stem,
            gallery_paths=[Path(str(p)) for p in arrays["gallery_paths"]],
            query_texts=[str(t) for t in arrays["query_texts"]],
            relevant=arrays["relevant"],
            scores=arrays.get("scores"),
            ranking=arrays.get("ranking"),
            ranks=arrays.get("ranks"),
            codes=arrays.get("codes"),
            history=history,
        )
    except ValueError as exc:
        raise DataFormatError(f"{path}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from retrieval.workflows import report_bundles

    if not args.bundle and not args.scores:
        raise ValueError("give --bundle or --scores")
    path = report_bundles(
        args.bundle,
        args.out,
        split=args.split,
        root=args.root,
        extra_runs=[load_run(path) for path in args.scores],
        title=args.title,
        gallery_note=args.gallery_note,
    )
    print(path)
    print(args.out / "report.md")
    return 0
