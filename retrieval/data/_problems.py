"""Collect recoverable data problems, warn about the first few and keep them all."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Literal

from retrieval.errors import DataFormatError, DataWarning, data_warning_text

OnError = Literal["warn", "raise"]


@dataclass
class ProblemLog:
    """Skip-and-warn bookkeeping for a reader.

    With ``on_error="raise"`` every problem becomes a :class:`DataFormatError`;
    with ``"warn"`` the first ``max_warnings`` become :class:`DataWarning` and all
    of them are kept in ``messages`` (they end up in ``Dataset.notes``).
    """

    on_error: OnError = "warn"
    max_warnings: int = 20
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.on_error not in ("warn", "raise"):
            raise ValueError(f"on_error must be 'warn' or 'raise', got {self.on_error!r}")

    def report(
        self, message: str, *, path: str | os.PathLike[str] | None = None, line: int | None = None
    ) -> None:
        if self.on_error == "raise":
            raise DataFormatError(message, path=path, line=line)
        text = data_warning_text(message, path=path, line=line)
        self.messages.append(text)
        if len(self.messages) <= self.max_warnings:
            warnings.warn(text, DataWarning, stacklevel=3)

    def finish(self) -> list[str]:
        """Warn once about problems beyond ``max_warnings``; return all messages."""
        hidden = len(self.messages) - self.max_warnings
        if hidden > 0:
            warnings.warn(
                f"{hidden} more data problems not shown; see Dataset.notes",
                DataWarning,
                stacklevel=3,
            )
        return list(self.messages)
