"""Griffe extension: the package's docstrings are written for Sphinx and doctest. In the
rendered reference each role (``:class:`~retrieval.core.Gallery```) becomes inline code,
linked when its target is a public full path, and each doctest becomes a ``pycon`` block."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):`(~?)([\w.]+)`")
DOCTEST = re.compile(r"^(?:>>> .*|>>>)\n(?:(?!\s*$).*\n?)*", re.M)


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    shown = target.rsplit(".", 1)[-1] if tilde else target
    if target.startswith("retrieval.") and "._" not in target:
        return f"[`{shown}`][{target}]"
    return f"`{shown}`"


def _fenced(match: re.Match[str]) -> str:
    return "```pycon\n" + match.group(0).rstrip("\n") + "\n```\n"


def rendered(docstring: str) -> str:
    """The docstring with its roles as code and its doctests fenced."""
    return DOCTEST.sub(_fenced, ROLE.sub(_role, docstring))


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring once, when its object is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rendered(obj.docstring.value)
