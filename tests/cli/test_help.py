"""Every subcommand explains itself: each option has help text, each --help shows examples."""

from __future__ import annotations

import argparse

import pytest

from retrieval.cli import build_parser

SUBCOMMANDS = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_option_has_help_text(name: str) -> None:
    parser = SUBCOMMANDS[name]
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions  # noqa: SLF001
        if not isinstance(action, argparse._HelpAction) and not action.help  # noqa: SLF001
    ]
    assert not missing, f"retrieval {name}: options without help: {missing}"


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_ends_with_examples(name: str) -> None:
    text = SUBCOMMANDS[name].format_help()
    assert "examples:" in text and f"retrieval {name}" in text.split("examples:", 1)[1]
