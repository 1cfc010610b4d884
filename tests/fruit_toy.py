"""A toy gallery for relevance feedback: the "fruit" search a user refined with six votes.

The user searched for fruit, voted yes on an apple, an apple core and cherries, and no on
grapes, a lemon and a pineapple. Codes share a "fruit" direction between the fruit and a
"red" direction between the red fruit and red things that are not fruit (a balloon, a fire
engine, ...), so the votes alone cannot tell a red fruit from a red balloon: the text can.
"""

from __future__ import annotations

import numpy as np

RED_FRUIT, OTHER_FRUIT, RED_THING, UNRELATED = range(4)
NAMES = [
    *["apple", "apple core", "cherries", "strawberry", "red apple", "raspberry"],
    *["cherry tomato", "red currant", "grapes", "lemon", "pineapple", "banana", "pear"],
    *["lime", "melon", "kiwi", "balloon", "fire engine", "stop sign", "lipstick"],
    *["ladybird", "post box", "red car", "rose"],
    *[f"picture {i}" for i in range(76)],
]
YES = (0, 1, 2)  # apple, apple core, cherries
NO = (8, 9, 10)  # grapes, lemon, pineapple


def fruit_gallery(seed: int = 0, dim: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, text scores of "fruit", kinds)`` for the 100 pictures of :data:`NAMES`."""
    rng = np.random.default_rng(seed)
    fruit, red, other = rng.normal(0, 1, (3, dim))
    kinds = np.repeat([RED_FRUIT, OTHER_FRUIT, RED_THING, UNRELATED], [8, 8, 8, 76])
    centres = {RED_FRUIT: fruit + red, OTHER_FRUIT: fruit + other, RED_THING: red}
    codes = np.array(
        [
            centres[k] + rng.normal(0, 1, dim) if k in centres else rng.normal(0, 1.5, dim)
            for k in kinds
        ]
    )
    text = np.where(kinds <= OTHER_FRUIT, 0.5, 0.05) + rng.normal(0, 0.05, len(kinds))
    return codes, text, kinds
