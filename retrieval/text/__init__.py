"""Text branch: tokenizer and encoders from descriptions to float32 feature rows.

Every encoder has ``fit(texts)``, ``transform(texts)`` (float32, one row per text) and
``known_counts(texts)`` (how many tokens of each text it knows; 0 means a zero row).

Examples
--------
>>> from retrieval.text import TfidfEncoder, tokenize
>>> tokenize("Two dogs play in the park.")
['two', 'dogs', 'play', 'park']
>>> TfidfEncoder().fit(["a dog", "a cat"]).transform(["dog"]).tolist()
[[0.0, 1.0]]
"""

from retrieval.text._encoders import (
    ConcatEncoder,
    EmptyTextError,
    PretrainedEncoder,
    TfidfEncoder,
    Word2VecEncoder,
    glove_arrays,
    glove_columns,
    glove_files,
    load_glove,
    load_keyed_vectors,
    text_matrix,
)
from retrieval.text._make import make_encoder
from retrieval.text._neighbours import NeighbourTfidfEncoder
from retrieval.text._registry import encoder_from_state
from retrieval.text._tokenize import Tokenizer, tokenize

__all__ = [
    "ConcatEncoder",
    "EmptyTextError",
    "NeighbourTfidfEncoder",
    "PretrainedEncoder",
    "TfidfEncoder",
    "Tokenizer",
    "Word2VecEncoder",
    "encoder_from_state",
    "glove_arrays",
    "glove_columns",
    "glove_files",
    "load_glove",
    "load_keyed_vectors",
    "make_encoder",
    "text_matrix",
    "tokenize",
]
