"""Exceptions and warnings shared by the whole package.

Every error about input data names where the problem is (file, and line when
there is one) and what was expected, so a user can fix the input directly.

Examples
--------
>>> err = DataFormatError("expected 2049 columns, found 3", path="f.csv", line=7)
>>> str(err)
'f.csv:7: expected 2049 columns, found 3'
"""

from __future__ import annotations

import os


class RetrievalError(Exception):
    """Base class of every error this package raises on purpose."""


def _location(path: str | os.PathLike[str] | None, line: int | None) -> str:
    if path is None:
        return ""
    return f"{os.fspath(path)}:{line}: " if line is not None else f"{os.fspath(path)}: "


class LocatedError(RetrievalError, ValueError):
    """An error about a file; ``path`` and ``line`` say where."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.message = message
        super().__init__(_location(path, line) + message)


class DataFormatError(LocatedError):
    """Input data is missing or malformed; ``path`` and ``line`` say where."""


class ConfigError(LocatedError):
    """A run configuration has an unknown key or a value of the wrong type or range."""


def refuse_single_string(texts: object, what: str = "descriptions") -> None:
    """Raise ``TypeError`` when a list of ``what`` was expected and one string came: iterating
    it would treat each character as a description.

    >>> refuse_single_string(["a red apple"])
    >>> refuse_single_string("a red apple")
    Traceback (most recent call last):
    ...
    TypeError: expected a list of descriptions, got a single string; wrap it in a list
    """
    if isinstance(texts, str):
        raise TypeError(f"expected a list of {what}, got a single string; wrap it in a list")


class DataWarning(UserWarning):
    """A recoverable problem in input data; the item or line was skipped or repaired."""


def data_warning_text(
    message: str, *, path: str | os.PathLike[str] | None = None, line: int | None = None
) -> str:
    """The text of a :class:`DataWarning`, located like a :class:`DataFormatError`."""
    return _location(path, line) + message
