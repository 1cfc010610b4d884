"""Fixtures shared across the test tree: the local Kaggle stand-in and its environment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kaggle_standin import KaggleStandIn, serving

# The kaggle client fixes its configuration folder when first imported: point it at an
# empty folder before any test imports it, so a developer's own credentials never leak in.
os.environ["KAGGLE_CONFIG_DIR"] = tempfile.mkdtemp(prefix="kaggle-config-")


@pytest.fixture
def kaggle_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KaggleStandIn:
    """Environment for the real client to reach the stand-in, with its test credentials."""
    state = KaggleStandIn()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("KAGGLE_USERNAME", state.username)
    monkeypatch.setenv("KAGGLE_KEY", state.key)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    for name in ("KAGGLE_API_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return state


@pytest.fixture
def kaggle_server(kaggle_env: KaggleStandIn) -> Iterator[KaggleStandIn]:
    """The stand-in Kaggle API serving on 127.0.0.1:7777 for one test."""
    with serving(kaggle_env) as state:
        yield state


@pytest.fixture(scope="session")
def clip_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised CLIP saved as a keras-hub preset folder (as a user's would be)."""
    pytest.importorskip("keras_hub")
    from retrieval.features.clip_random import random_clip_preset

    return random_clip_preset(tmp_path_factory.mktemp("clip") / "tiny-clip", seed=0)


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every download fails at once (a proxy on a closed port); an empty kagglehub cache, returned."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "kagglehub-cache"
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(cache))
    return cache
