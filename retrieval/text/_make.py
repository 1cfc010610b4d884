"""The text encoder a config describes: the one place that names every encoder kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sklearn.base import BaseEstimator

from retrieval.config import TextConfig
from retrieval.text._encoders import (
    ConcatEncoder,
    PretrainedEncoder,
    TfidfEncoder,
    Word2VecEncoder,
)
from retrieval.text._neighbours import NeighbourTfidfEncoder


def _vocabulary(config: TextConfig) -> dict[str, Any]:
    """The TF-IDF settings both TF-IDF encoders take."""
    return {
        "max_features": config.max_features,
        "min_df": config.min_df,
        "sublinear_tf": config.sublinear_tf,
        "stop_words": config.stop_words,
    }


ENCODERS: dict[str, Callable[[TextConfig, int], BaseEstimator]] = {
    "tfidf": lambda config, seed: TfidfEncoder(
        ngram_range=(1, config.ngram_max), **_vocabulary(config)
    ),
    "word2vec": lambda config, seed: Word2VecEncoder(
        vector_size=config.word2vec_dim,
        epochs=config.word2vec_epochs,
        min_count=config.word2vec_min_count,
        stop_words=config.stop_words,
        seed=seed,
    ),
    "glove": lambda config, seed: PretrainedEncoder(
        "glove", limit=config.glove_vocabulary, normalize=True, stop_words=config.stop_words
    ),
    "tfidf_neighbours": lambda config, seed: NeighbourTfidfEncoder(
        neighbours=config.neighbours,
        min_similarity=config.neighbour_similarity,
        limit=config.glove_vocabulary,
        **_vocabulary(config),
    ),
}
"""How each encoder name of :class:`~retrieval.config.TextConfig` is built from its settings
(a test checks that it covers every name the config admits)."""


def make_encoder(
    config: TextConfig | str | Sequence[str] | None = None, *, seed: int = 0
) -> BaseEstimator:
    """The encoder a :class:`~retrieval.config.TextConfig` describes (or a name, or a list of
    names: ``"tfidf"``, ``"word2vec"``, ``"glove"``); several are concatenated.

    >>> type(make_encoder(["tfidf", "glove"])).__name__
    'ConcatEncoder'
    """
    if config is None:
        config = TextConfig()
    elif not isinstance(config, TextConfig):
        config = TextConfig(encoders=(config,) if isinstance(config, str) else tuple(config))
    if config.weights and len(config.weights) != len(config.encoders):
        raise ValueError(
            f"text.weights has {len(config.weights)} entries for {len(config.encoders)} encoders"
        )
    encoders = [ENCODERS[name](config, seed) for name in config.encoders]
    if len(encoders) == 1 and not config.weights:
        return encoders[0]
    return ConcatEncoder(encoders, list(config.weights) or None)
