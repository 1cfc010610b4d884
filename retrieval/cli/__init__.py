"""The ``retrieval`` command line.

Each subcommand lives in its own module and registers itself through ``register``;
heavy libraries (TensorFlow, Keras) are imported inside the commands that need them,
so ``retrieval --help`` and the data commands start fast.

Examples
--------
$ retrieval summary data/demo --split train
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

from retrieval import __version__
from retrieval.cli import (
    cmd_demo,
    cmd_download,
    cmd_duplicates,
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
from retrieval.fileio import NoSpace
from retrieval.logs import to_stderr

_PACKAGE = Path(__file__).resolve().parents[1]
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_USER_PATH_ERRORS = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    NoSpace,
)


def raised_here(exc: BaseException) -> bool:
    """Whether the package itself raised ``exc``: a refusal of bad input, worth one line.

    That is so for the package's own errors, for a path the user gave that cannot be opened,
    and when the innermost frame outside the standard library (``json``, ``pathlib``...) is in
    ``retrieval/``. An error from deep inside another library is a bug, whose traceback the
    user should see."""
    if isinstance(exc, (RetrievalError, *_USER_PATH_ERRORS)):
        return True
    innermost = None
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename).resolve()
        if not path.is_relative_to(_STDLIB) or "site-packages" in path.parts:
            innermost = path
        tb = tb.tb_next
    return innermost is not None and innermost.is_relative_to(_PACKAGE)


COMMANDS = (
    cmd_summary,
    cmd_download,
    cmd_features,
    cmd_train,
    cmd_evaluate,
    cmd_report,
    cmd_search,
    cmd_index,
    cmd_duplicates,
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
    to_stderr(logging.INFO)  # the package's messages, as bare lines on stderr
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
    except (RetrievalError, OSError, ValueError) as exc:
        if not raised_here(exc):
            raise  # not a refusal of the input: a bug, shown with its traceback
        print(f"retrieval {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if quiet is not None:
            quiet.close()
