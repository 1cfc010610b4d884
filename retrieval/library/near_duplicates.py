"""Near-duplicate pictures: groups whose codes lie within a cosine threshold of each other.

Exact copies are already indexed once (the catalogue groups identical content); this finds
pictures that differ in bytes but not in what they show: re-encoded, resized, lightly cropped
or retouched versions. Pairs are found block by block (``block`` rows at a time against all),
so memory stays at ``block x n`` however large the library; pairs are joined into groups
through union-find (a picture close to two others joins both into one group).

Examples
--------
>>> import numpy as np
>>> codes = np.array([[1.0, 0.0], [0.999, 0.04], [0.0, 1.0], [0.03, 1.0], [-1.0, 0.0]])
>>> [g.members for g in near_duplicate_groups(codes, threshold=0.99)]
[[0, 1], [2, 3]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.arrays import unit_rows


@dataclass(frozen=True)
class DuplicateGroup:
    """Gallery positions of pictures that are near-duplicates of one another (sorted), and
    the lowest cosine of a pair that joined them."""

    members: list[int]
    lowest: float


def near_duplicate_groups(
    codes: np.ndarray, *, threshold: float = 0.95, block: int = 1024
) -> list[DuplicateGroup]:
    """Groups of rows of ``codes`` joined by pairs whose cosine is at least ``threshold``,
    largest first (then by first member); rows alone are left out."""
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine between -1 and 1, got {threshold}")
    unit = unit_rows(codes)
    n = len(unit)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    lowest: dict[int, float] = {}
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, n, block):
        similarity = unit[start : start + block] @ unit.T
        rows, cols = np.nonzero(similarity >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c > i:
                pairs.append((i, c, float(similarity[r, c])))
    for i, j, _ in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    for i, _, cosine in pairs:
        group = root(i)
        lowest[group] = min(lowest.get(group, 1.0), cosine)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    groups = [DuplicateGroup(rows, lowest[g]) for g, rows in members.items() if len(rows) > 1]
    return sorted(groups, key=lambda g: (-len(g.members), g.members[0]))
