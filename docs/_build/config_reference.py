"""The configuration reference, written from the config dataclasses when the site is built.

Every section of :class:`retrieval.config.RunConfig` and every mapper kind's parameter
dataclass becomes a table of its keys, their types, their defaults (the default run's) and
the values they admit, so the page cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any

from retrieval.config import MAPPER_PARAMS, MapperConfig, RunConfig
from retrieval.parameters import Range


def _toml(value: Any) -> str:
    """A default as it would be written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def type_text(hint: Any) -> str:
    """A type hint in words: ``number above 0``, ``one of "a", "b"``, ``list of integer``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        ranges = [extra for extra in args[1:] if isinstance(extra, Range)]
        base = type_text(args[0])
        return base + "".join(", " + r.describe().removeprefix("a number ") for r in ranges)
    if origin is typing.Literal:
        return "one of " + ", ".join(_toml(arg) for arg in args)
    if origin is tuple or origin is list:
        return "list of " + type_text(args[0])
    if origin is dict:
        return "table"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in args if arg is not type(None))
    names = {bool: "true or false", int: "integer", float: "number", str: "text"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _first_paragraphs(cls: type) -> str:
    return inspect.cleandoc(cls.__doc__ or "")


def section_table(cls: type) -> str:
    """A markdown table of one dataclass's keys."""
    hints = typing.get_type_hints(cls, include_extras=True)
    instance = cls()
    rows = ["| key | type | default |", "| --- | --- | --- |"]
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            continue
        default = getattr(instance, field.name)
        shown = "see below" if field.name == "mappers" else f"`{_toml(default)}`"
        rows.append(f"| `{field.name}` | {type_text(hints[field.name])} | {shown} |")
    return "\n".join(rows)


def reference(rendered: Any = lambda text: text) -> str:
    """The whole reference; ``rendered`` turns a docstring into markdown."""
    out = [
        "## `RunConfig`: the top level",
        "",
        rendered(_first_paragraphs(RunConfig)),
        "",
        section_table(RunConfig),
    ]
    hints = typing.get_type_hints(RunConfig, include_extras=True)
    for field in dataclasses.fields(RunConfig):
        cls = hints[field.name]
        if field.name == "mappers":
            out += [
                "",
                "## `[[mappers]]`",
                "",
                rendered(_first_paragraphs(MapperConfig)),
                "",
                "The default run has one: "
                f"`{_toml(RunConfig().mappers[0].kind)}` in the "
                f"`{_toml(RunConfig().mappers[0].space)}` space.",
                "",
                section_table(MapperConfig),
            ]
            for kind, params in MAPPER_PARAMS.items():
                out += [
                    "",
                    f"### `kind = \"{kind}\"`: `params`",
                    "",
                    rendered(_first_paragraphs(params)),
                    "",
                    section_table(params),
                ]
        elif dataclasses.is_dataclass(cls):
            out += [
                "",
                f"## `[{field.name}]`",
                "",
                rendered(_first_paragraphs(cls)),
                "",
                section_table(cls),
            ]
    return "\n".join(out) + "\n"
