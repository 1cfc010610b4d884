"""Tokenizer shared by every text encoder: lower-case, strip accents and punctuation, drop stop words."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "yet",
        "of",
        "in",
        "on",
        "at",
        "to",
        "from",
        "by",
        "with",
        "for",
        "into",
        "onto",
        "over",
        "under",
        "off",
        "out",
        "up",
        "down",
        "about",
        "as",
        "than",
        "then",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "having",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "i",
        "me",
        "my",
        "we",
        "us",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "will",
        "would",
        "shall",
        "should",
        "can",
        "could",
        "may",
        "might",
        "must",
        "not",
        "no",
    ]
)
"""The ``"function"`` stop words: articles, prepositions, conjunctions, pronouns and auxiliary
verbs only, so that no word that names or describes a thing ("fire", "empty", "front",
"system", "bill") is dropped, as scikit-learn's English list drops them."""
STOP_WORD_SETS = ("english", "function", "none")
"""The named stop-word sets: scikit-learn's English list, :data:`FUNCTION_WORDS`, and none."""


class Tokenizer:
    """Split a description into lower-case word tokens.

    Parameters
    ----------
    stop_words:
        ``"english"`` (scikit-learn's list), ``"function"`` (:data:`FUNCTION_WORDS`), ``None`` or
        ``"none"`` to keep every word, or an iterable of words.
    min_length:
        Tokens shorter than this are dropped.

    No stemming is done: pretrained and word2vec vectors are looked up by the surface
    form, and the encoders should agree on tokens.

    Examples
    --------
    >>> Tokenizer()("A man's Café, on the   RED bench!")
    ['man', 'cafe', 'red', 'bench']
    >>> Tokenizer(stop_words=None)("On the bench.")
    ['on', 'the', 'bench']
    >>> Tokenizer("english")("An empty fire"), Tokenizer("function")("An empty fire")
    ([], ['empty', 'fire'])
    """

    def __init__(self, stop_words: str | Iterable[str] | None = "function", min_length: int = 1):
        self.stop_words = stop_words
        self.min_length = min_length
        if stop_words == "english":
            self._stop = frozenset(ENGLISH_STOP_WORDS)
        elif stop_words == "function":
            self._stop = FUNCTION_WORDS
        elif stop_words is None or stop_words == "none":
            self._stop = frozenset()
        elif isinstance(stop_words, str):
            raise ValueError(
                f"stop_words must be one of {list(STOP_WORD_SETS)}, None or a list, "
                f"got {stop_words!r}"
            )
        else:
            self._stop = frozenset(w.lower() for w in stop_words)

    def __call__(self, text: str) -> list[str]:
        return list(_tokens(str(text), self._stop, self.min_length))

    def __repr__(self) -> str:
        return f"Tokenizer(stop_words={self.stop_words!r}, min_length={self.min_length})"

    def __getstate__(self) -> dict:
        return {"stop_words": self.stop_words, "min_length": self.min_length}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


@functools.lru_cache(maxsize=50_000)
def _tokens(text: str, stop: frozenset[str], min_length: int) -> tuple[str, ...]:
    """The tokens of one text (remembered: every encoder of a model tokenises the same
    descriptions, in ``fit`` and again in ``transform``)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    tokens = []
    for match in _WORD.finditer(text.lower()):
        token = match.group(0)
        if token.endswith("'s"):
            token = token[:-2]
        token = token.replace("'", "")
        if len(token) >= min_length and token not in stop:
            tokens.append(token)
    return tuple(tokens)


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` with the default :class:`Tokenizer`."""
    return _DEFAULT(text)


_DEFAULT = Tokenizer()
