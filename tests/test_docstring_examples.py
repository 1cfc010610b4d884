"""The examples in the docstrings of the light modules run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "retrieval",
    "retrieval.errors",
    "retrieval.fileio",
    "retrieval.progress",
    "retrieval.config",
    "retrieval.crawl",
    "retrieval.feedback",
    "retrieval.data._dataset",
    "retrieval.data._split",
    "retrieval.data._feature_csv",
    "retrieval.data._captions",
    "retrieval.data._synthetic",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
