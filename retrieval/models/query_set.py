"""Query-set normalisation: when a whole set of descriptions is ranked against a gallery at
once (a Kaggle test part, an evaluation), a picture that many descriptions like is shared out
among them (dual softmax, Cheng et al. 2021).

Each score ``s(q, p)`` is multiplied by the softmax over the set's queries of the picture's
column, ``exp(s(q, p) / T) / sum_q' exp(s(q', p) / T)``: for a query, a picture that it likes
more than the other queries do rises, a hub that every query likes sinks. The temperature is
``T = t * std(scores)``, so ``t`` means the same for any scale of scores; ``t = 0`` is off.
It needs the other queries of the set, so it applies to set rankings only, never to a single
search.

Examples
--------
>>> import numpy as np
>>> scores = np.array([[0.9, 0.8], [0.7, 0.1]])   # picture 0 is every query's favourite
>>> np.argmax(scores, axis=1).tolist()
[0, 0]
>>> np.argmax(dual_softmax(scores, 0.5), axis=1).tolist()   # query 0 likes 1 the most of all
[1, 0]
"""

from __future__ import annotations

import numpy as np


def dual_softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """``scores`` (queries x pictures) times each picture's softmax over the queries, at a
    temperature of ``temperature`` standard deviations of ``scores`` (0: ``scores`` as given)."""
    scores = np.asarray(scores)
    if temperature < 0:
        raise ValueError(f"the temperature must be 0 or more, got {temperature}")
    spread = float(np.std(scores)) if scores.size else 0.0
    if temperature == 0 or scores.shape[0] < 2 or spread == 0 or not np.isfinite(spread):
        return scores
    scaled = scores.astype(np.float64) / (temperature * spread)
    scaled -= scaled.max(axis=0, keepdims=True)
    shares = np.exp(scaled)
    shares /= shares.sum(axis=0, keepdims=True)
    # scores can be negative (standardised fusions): shift them positive, which leaves each
    # query's order under the shares alone unchanged and keeps a larger share always better
    base = scores - scores.min() + spread
    return (base * shares).astype(scores.dtype, copy=False)
