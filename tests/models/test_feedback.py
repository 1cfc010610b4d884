from __future__ import annotations

import numpy as np
import pytest

from retrieval.models.feedback import RelevanceFeedback


def clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (4, 16))
    labels = np.repeat(np.arange(4), 50)
    return centres[labels] + rng.normal(0, 1, (200, 16)), labels


def test_votes_steer_ranking_to_the_wanted_cluster() -> None:
    codes, labels = clusters()
    session = RelevanceFeedback(codes, seed=0)
    wanted = 2
    for _ in range(4):
        proposals = session.propose(6)
        session.vote_many(proposals, [labels[i] == wanted for i in proposals])
        if not session.can_learn:  # make sure one yes exists, as a user would search for one
            session.vote(int(np.flatnonzero(labels == wanted)[0]), True)
    top = session.ranking()[:30]
    assert np.mean(labels[top] == wanted) >= 0.95


def test_proposals_alternate_positive_and_negative_and_skip_voted() -> None:
    codes, labels = clusters(1)
    session = RelevanceFeedback(codes)
    session.vote(0, True)
    session.vote(199, False)
    proposals = session.propose(6)
    assert 0 not in proposals and 199 not in proposals
    scores = session.scores()
    assert all(scores[proposals[i]] > 0 for i in (0, 2, 4))
    assert all(scores[proposals[i]] < 0 for i in (1, 3, 5))
    assert len(set(proposals)) == 6


def test_initial_scores_used_until_both_answers_exist() -> None:
    codes, _ = clusters()
    initial = np.arange(200, dtype=float)
    session = RelevanceFeedback(codes, initial_scores=initial)
    assert session.propose(3) == [199, 198, 197]
    session.vote(199, True)
    assert session.propose(2) == [198, 197]


def test_single_yes_ranks_its_neighbours_first() -> None:
    codes, labels = clusters()
    session = RelevanceFeedback(codes)
    session.vote(120, True)
    assert np.all(labels[session.ranking()[:20]] == labels[120])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        RelevanceFeedback(np.zeros((0, 3)))
    session = RelevanceFeedback(np.zeros((5, 3)))
    with pytest.raises(IndexError, match="outside the gallery of 5"):
        session.vote(5, True)
    with pytest.raises(ValueError, match=r"initial_scores must have shape \(5,\)"):
        RelevanceFeedback(np.zeros((5, 3)), initial_scores=np.zeros(4))
