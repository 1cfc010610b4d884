"""Hubness correction: pictures close to every description are pushed down (CSLS).

In a learned space some pictures (hubs) are among the nearest of a great many descriptions
and crowd the top of most rankings. Cross-domain similarity local scaling (Conneau et al.
2018) scores ``cos(q, p) - strength * r(p)``, where ``r(p)`` is the mean cosine of picture
``p`` with its ``k`` most similar descriptions of a bank. :class:`HubnessCorrection` keeps
each member's unit query keys of a bank of training descriptions, so ``r`` is computed once
per picture (:meth:`HubnessCorrection.penalties`, when a gallery is built) and the correction
needs nothing from other queries: a single search is corrected as a whole test set is.

Examples
--------
>>> import numpy as np
>>> bank = [np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]], "float32")]   # three descriptions
>>> gallery = [np.array([[1.0, 0.0], [0.0, 1.0]], "float32")]            # two pictures
>>> hub = HubnessCorrection(bank, neighbours=2, strength=0.5)
>>> hub.penalties(gallery).astype(float).round(2).tolist()   # mean cosine with the 2 nearest
[[0.9], [0.7]]
>>> hub.corrected(np.array([[0.5, 0.5]]), hub.penalties(gallery), member=0).round(2).tolist()
[[0.05, 0.15]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from retrieval.store import Arrays, Meta

CHUNK = 8192
"""Gallery pictures scored against the bank at a time (bounds the memory of large galleries)."""


def mean_top_similarity(bank: np.ndarray, keys: np.ndarray, k: int) -> np.ndarray:
    """For each row of ``keys``, the mean of its ``k`` largest cosines with the rows of ``bank``.

    >>> mean_top_similarity(np.eye(2, dtype="float32"), np.array([[0.6, 0.8]], "float32"), 1)
    array([0.8], dtype=float32)
    """
    k = min(k, len(bank))
    out = np.empty(len(keys), dtype=np.float32)
    for start in range(0, len(keys), CHUNK):
        similarity = bank @ keys[start : start + CHUNK].T  # (bank, chunk)
        top = np.partition(similarity, len(bank) - k, axis=0)[len(bank) - k :]
        out[start : start + CHUNK] = top.mean(axis=0)
    return out


class HubnessCorrection:
    """Each member's bank of unit query keys, and the ``neighbours`` and ``strength`` of CSLS."""

    def __init__(self, bank_keys: Sequence[np.ndarray], neighbours: int, strength: float) -> None:
        self.bank_keys = [np.asarray(keys, dtype=np.float32) for keys in bank_keys]
        self.neighbours = int(neighbours)
        self.strength = float(strength)
        if self.neighbours < 1 or self.strength < 0:
            raise ValueError(
                f"neighbours must be 1 or more and strength 0 or more, got {neighbours}, {strength}"
            )

    def penalties(self, gallery_keys: Sequence[np.ndarray]) -> np.ndarray:
        """``r(p)`` of every picture for every member, (n_pictures, n_members)."""
        if len(gallery_keys) != len(self.bank_keys):
            raise ValueError(
                f"expected the gallery keys of {len(self.bank_keys)} members, got {len(gallery_keys)}"
            )
        columns = [
            mean_top_similarity(bank, np.asarray(keys, np.float32), self.neighbours)
            for bank, keys in zip(self.bank_keys, gallery_keys, strict=True)
        ]
        n = len(gallery_keys[0]) if gallery_keys else 0
        return np.stack(columns, axis=1) if columns else np.zeros((n, 0), np.float32)

    def corrected(self, scores: np.ndarray, penalties: np.ndarray, member: int) -> np.ndarray:
        """Member ``member``'s similarities minus ``strength`` times its pictures' penalties
        (``penalties`` holds the rows of the pictures ``scores`` has columns for)."""
        return scores - self.strength * penalties[:, member][None, :]

    def get_state(self) -> tuple[Meta, Arrays]:
        meta = {
            "neighbours": self.neighbours,
            "strength": self.strength,
            "members": len(self.bank_keys),
        }
        return meta, {f"bank_{i}": keys for i, keys in enumerate(self.bank_keys)}

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> HubnessCorrection:
        banks = [arrays[f"bank_{i}"] for i in range(int(meta["members"]))]
        return cls(banks, int(meta["neighbours"]), float(meta["strength"]))
