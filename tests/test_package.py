"""The top-level ``retrieval`` package: the main API on first use, nothing heavy before."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import retrieval


def run_python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**clean, **env},
    )
    return done.stdout.strip()


def test_importing_the_package_loads_no_framework() -> None:
    out = run_python(
        "import sys, retrieval; print(sorted(m for m in ('tensorflow', 'keras', 'sklearn')"
        " if m in sys.modules))"
    )
    assert out == "[]"


def test_main_api_names_are_the_sub_packages_objects() -> None:
    from retrieval.core import Searcher, Trainer, load_bundle
    from retrieval.data import load_competition
    from retrieval.evaluation import evaluate
    from retrieval.library import PictureLibrary

    assert retrieval.Trainer is Trainer and retrieval.Searcher is Searcher
    assert retrieval.load_bundle is load_bundle and retrieval.evaluate is evaluate
    assert retrieval.load_competition is load_competition
    assert retrieval.PictureLibrary is PictureLibrary
    assert set(retrieval.__all__) <= set(dir(retrieval))
    with pytest.raises(AttributeError, match="no attribute 'Trainr'"):
        retrieval.Trainr  # noqa: B018


def test_tensorflow_log_level_is_set_unless_the_user_set_it() -> None:
    code = "import os, retrieval; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    assert run_python(code) == "2"
    assert run_python(code, TF_CPP_MIN_LOG_LEVEL="0") == "0"
