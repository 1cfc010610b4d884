"""Hyperparameters written once: a dataclass field is an estimator's parameter.

A parameter dataclass lists each hyperparameter once, as a field with its type, its default and,
where values are limited, a :class:`Range` in ``Annotated``. The same dataclass checks a run
configuration's table when it is loaded (:mod:`retrieval.config`) and gives an estimator its
``__init__`` (:func:`estimator_init`), so the estimator's signature, its defaults and its
parameter checks cannot drift apart.

Examples
--------
>>> import typing
>>> from dataclasses import dataclass
>>> @dataclass
... class RidgeLike:
...     alpha: typing.Annotated[float, POSITIVE] = 1.0
>>> class Model:
...     __init__ = estimator_init(RidgeLike)
>>> Model().alpha, Model(alpha=3.0).alpha
(1.0, 3.0)
>>> check_parameters(RidgeLike, {"alpha": -1.0}, owner="Model")
Traceback (most recent call last):
...
ValueError: The 'alpha' parameter of Model must be a number above 0, got -1.0
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Annotated, Any, Literal


@dataclass(frozen=True)
class Range:
    """The numbers a parameter may take: ``low`` and ``high`` (``None``: unbounded), each end
    included unless ``open_low`` / ``open_high``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def describe(self) -> str:
        """In words, for error messages (``"a number above 0"``)."""
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.open_low else 'at least'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'below' if self.open_high else 'at most'} {self.high:g}")
        return "a number " + " and ".join(parts) if parts else "a number"

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.open_high else value > self.high)
        )


POSITIVE = Range(0, open_low=True)
"""Above 0 (penalties, learning rates, temperatures)."""
NON_NEGATIVE = Range(0)
"""0 or more (epochs, weights, margins)."""
AT_LEAST_ONE = Range(1)
"""1 or more (counts of components, iterations)."""
FRACTION = Range(0, 1, open_high=True)
"""From 0 up to, not including, 1 (dropout, validation fractions)."""


def _expected(hint: Any) -> tuple[Any, tuple[Range, ...]]:
    """The bare type of ``hint`` and the ranges ``Annotated`` adds to it."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        return base, tuple(extra for extra in extras if isinstance(extra, Range))
    return hint, ()


def problem(value: Any, hint: Any) -> str | None:
    """What ``value`` should have been for a field typed ``hint`` (``None``: it is fine)."""
    base, ranges = _expected(hint)
    origin = typing.get_origin(base)
    if origin is Literal:
        options = typing.get_args(base)
        return None if value in options else f"one of {list(options)}"
    if origin is tuple:
        (item, *_rest) = typing.get_args(base)
        if not isinstance(value, list | tuple):
            return "a list"
        for entry in value:
            issue = problem(entry, item)
            if issue:
                return f"a list of {issue.removeprefix('a ').removeprefix('an ')}s"
        return None
    if base is bool:
        return None if isinstance(value, bool) else "true or false"
    if base is str:
        return None if isinstance(value, str) else "a string"
    if base is int and not (isinstance(value, Integral) and not isinstance(value, bool)):
        return "an integer"
    if base is float and not (isinstance(value, Real) and not isinstance(value, bool)):
        return "a number"
    for allowed in ranges:
        if not allowed.admits(value):
            return allowed.describe()
    return None


def field_hints(params: type) -> dict[str, Any]:
    """Each field of the dataclass ``params`` and its type (``Annotated`` kept)."""
    hints = typing.get_type_hints(params, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(params)}


def check_parameters(params: type, values: Mapping[str, Any], *, owner: str) -> None:
    """Raise ``ValueError`` naming the first of ``values`` that ``params`` does not admit
    (names that are not its fields are left to other checks)."""
    hints = field_hints(params)
    for name, value in values.items():
        issue = problem(value, hints[name]) if name in hints else None
        if issue:
            raise ValueError(f"The {name!r} parameter of {owner} must be {issue}, got {value!r}")


def check_estimator(estimator: Any, *params: type) -> None:
    """Check a scikit-learn estimator's parameters against the dataclasses ``params``."""
    values = estimator.get_params(deep=False)
    for group in params:
        check_parameters(group, values, owner=type(estimator).__name__)


@dataclass
class Seeded:
    """The parameters every trained estimator takes besides its own: the seed and how much
    training prints (Keras' ``verbose``)."""

    seed: Annotated[int, NON_NEGATIVE] = 0
    verbose: Annotated[int, NON_NEGATIVE] = 0


def estimator_init(*params: type) -> Callable[..., None]:
    """An ``__init__`` whose keyword parameters are the fields of the dataclasses ``params``,
    with their defaults, each stored as an attribute of the same name (as scikit-learn's
    ``get_params`` and ``clone`` expect)."""
    defaults: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    for group in params:
        defaults.update({f.name: f.default for f in dataclasses.fields(group)})
        hints.update(field_hints(group))

    def __init__(self: Any, **values: Any) -> None:
        unknown = sorted(set(values) - set(defaults))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got an unexpected parameter {unknown[0]!r}; "
                f"expected one of {sorted(defaults)}"
            )
        for name, default in defaults.items():
            setattr(self, name, values.get(name, default))

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
        + [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[name]
            )
            for name, default in defaults.items()
        ]
    )
    names = ", ".join(group.__name__ for group in params)
    __init__.__doc__ = f"Keyword parameters: the fields of {names}, with their defaults."
    return __init__
