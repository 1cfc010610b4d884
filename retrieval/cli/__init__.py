"""The ``retrieval`` command line.

Each subcommand lives in its own module and registers itself through ``register``;
heavy libraries (TensorFlow, Keras) are imported inside the commands that need them,
so ``retrieval --help`` and the data commands start fast.

Example
-------
$ retrieval summary data/demo --split train
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from retrieval import __version__
from retrieval.cli import (
    cmd_demo,
    cmd_download,
    cmd_evaluate,
    cmd_features,
    cmd_index,
    cmd_report,
    cmd_score,
    cmd_search,
    cmd_serve,
    cmd_submissions,
    cmd_submit,
    cmd_summary,
    cmd_train,
    cmd_validate,
)
from retrieval.cli._quiet import NativeNoiseFilter, one_line_warnings
from retrieval.errors import RetrievalError

COMMANDS = (
    cmd_summary,
    cmd_download,
    cmd_features,
    cmd_train,
    cmd_evaluate,
    cmd_report,
    cmd_search,
    cmd_index,
    cmd_serve,
    cmd_submit,
    cmd_validate,
    cmd_score,
    cmd_submissions,
    cmd_demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrieval",
        description="Text-to-image retrieval: find the image that a description talks about.",
    )
    parser.add_argument("--version", action="version", version=f"retrieval {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (errors print one line on stderr)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's Python-side notes
    parser = build_parser()
    args = parser.parse_args(argv)
    one_line_warnings()
    quiet = None
    if not os.environ.get("RETRIEVAL_VERBOSE"):  # RETRIEVAL_VERBOSE=1 shows native notes
        try:
            quiet = NativeNoiseFilter()
        except OSError:  # no usable descriptor 2
            quiet = None
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, while it can still be handled
        return code
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool that pipe killed
    except KeyboardInterrupt:
        print("retrieval: interrupted", file=sys.stderr)
        return 130
    except (RetrievalError, FileNotFoundError, ValueError) as exc:
        print(f"retrieval {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if quiet is not None:
            quiet.close()
