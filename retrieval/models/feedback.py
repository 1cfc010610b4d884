"""Relevance feedback: learn what the user wants from yes/no votes on pictures.

An RBF-kernel SVM is trained on the 100-d codes of the pictures voted on and scores
the rest. Proposals alternate between the likeliest positives and the likeliest
negatives: a "no" on a picture the model thought relevant teaches it as much as a
"yes", so the boundary is found in fewer rounds.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> codes = np.vstack([rng.normal(0, 1, (20, 4)), rng.normal(5, 1, (20, 4))])
>>> session = RelevanceFeedback(codes, seed=0)
>>> session.vote(0, False); session.vote(25, True)
>>> ranking = session.ranking()
>>> bool(np.mean(ranking[:10] >= 20) == 1.0)   # the other cluster comes first
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.svm import SVC


class RelevanceFeedback:
    """A feedback session over a gallery of codes.

    Parameters
    ----------
    codes:
        ``(n, d)`` codes of the gallery pictures.
    initial_scores:
        Optional scores (higher is more relevant) used before both a "yes" and a "no"
        have been given, e.g. the similarities of a text query.
    C, gamma:
        The RBF-kernel SVM's parameters (scikit-learn's ``SVC``).
    """

    def __init__(
        self,
        codes: np.ndarray,
        *,
        initial_scores: np.ndarray | None = None,
        C: float = 1.0,
        gamma: float | str = "scale",
        seed: int = 0,
    ) -> None:
        self.codes = np.asarray(codes, dtype=np.float32)
        if self.codes.ndim != 2 or len(self.codes) == 0:
            raise ValueError(
                f"codes must be a non-empty (n, d) array, got shape {self.codes.shape}"
            )
        if initial_scores is not None and np.shape(initial_scores) != (len(self.codes),):
            raise ValueError(f"initial_scores must have shape ({len(self.codes)},)")
        self.initial_scores = (
            None if initial_scores is None else np.asarray(initial_scores, dtype=np.float64)
        )
        self.C = C
        self.gamma = gamma
        self.seed = seed
        self.votes_: dict[int, bool] = {}
        self.model_: SVC | None = None

    def vote(self, item: int, relevant: bool) -> None:
        """Record a yes (``True``) or no (``False``) for gallery item ``item``; a new vote replaces an old one."""
        if not 0 <= item < len(self.codes):
            raise IndexError(f"item {item} is outside the gallery of {len(self.codes)} pictures")
        self.votes_[int(item)] = bool(relevant)
        self.model_ = None

    def vote_many(self, items: Sequence[int], relevant: Sequence[bool]) -> None:
        for item, answer in zip(items, relevant, strict=True):
            self.vote(item, answer)

    @property
    def can_learn(self) -> bool:
        """True once there is at least one yes and one no."""
        return len(set(self.votes_.values())) == 2

    def scores(self) -> np.ndarray:
        """A relevance score for every picture (SVM decision value, or the initial scores)."""
        if not self.can_learn:
            if self.initial_scores is not None:
                return self.initial_scores.copy()
            return self._nearest_to_votes()
        if self.model_ is None:
            items = np.fromiter(self.votes_, dtype=np.int64)
            labels = np.array([self.votes_[i] for i in items], dtype=np.int64)
            self.model_ = SVC(kernel="rbf", C=self.C, gamma=self.gamma, random_state=self.seed)
            self.model_.fit(self.codes[items], labels)
        return self.model_.decision_function(self.codes)

    def _nearest_to_votes(self) -> np.ndarray:
        if not self.votes_:
            return np.zeros(len(self.codes))
        sign = 1.0 if next(iter(self.votes_.values())) else -1.0
        voted = self.codes[list(self.votes_)]
        distances = np.linalg.norm(self.codes[:, None, :] - voted[None, :, :], axis=2).min(axis=1)
        return -sign * distances

    def ranking(self, *, include_voted: bool = False) -> np.ndarray:
        """Gallery indices from most to least relevant."""
        order = np.argsort(-self.scores(), kind="stable")
        if include_voted:
            return order
        return np.array([i for i in order if i not in self.votes_], dtype=np.int64)

    def propose(self, n: int = 8) -> list[int]:
        """The next ``n`` pictures to vote on, alternating likely positives and likely negatives."""
        order = self.ranking()
        if not self.can_learn:
            return order[:n].tolist()
        proposals: list[int] = []
        top, bottom = 0, len(order) - 1
        while len(proposals) < min(n, len(order)):
            if len(proposals) % 2 == 0:
                proposals.append(int(order[top]))
                top += 1
            else:
                proposals.append(int(order[bottom]))
                bottom -= 1
        return proposals
