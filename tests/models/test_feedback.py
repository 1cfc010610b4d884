from __future__ import annotations

import numpy as np
import pytest

from retrieval.models.feedback import RelevanceFeedback, zscore
from tests.fruit_toy import NO, RED_FRUIT, YES, fruit_gallery


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


def test_initial_scores_rank_until_the_first_vote() -> None:
    codes, _ = clusters()
    initial = np.arange(200, dtype=float)
    session = RelevanceFeedback(codes, initial_scores=initial)
    assert session.propose(3) == [199, 198, 197]
    np.testing.assert_allclose(session.scores(), zscore(initial))
    session.vote(199, True)
    assert 199 not in session.propose(5)


@pytest.mark.parametrize("seed", range(6))
def test_example_votes_keep_the_voted_kind_on_top(seed: int) -> None:
    # yes: apple, apple core, cherries; no: grapes, lemon, pineapple. The former SVM-only
    # ranking mixed red things that are not fruit (balloons) in with the red fruit.
    codes, text, kinds = fruit_gallery(seed)
    session = RelevanceFeedback(codes, initial_scores=text)
    session.vote_many([*YES, *NO], [True] * 3 + [False] * 3)
    shown = session.ranking(include_voted=True)
    assert set(shown[:3]) == set(YES)
    assert np.all(kinds[shown[:8]] == RED_FRUIT)  # then the five red fruit not voted on
    assert not set(NO) & set(shown)
    assert len(shown) == len(codes) - len(NO)


def test_shown_ranking_puts_yes_first_and_never_no() -> None:
    codes, labels = clusters(2)
    session = RelevanceFeedback(codes, initial_scores=-np.arange(200.0))
    session.vote_many([150, 3, 0], [True, False, False])
    shown = session.ranking(include_voted=True)
    assert shown[0] == 150 and 3 not in shown and 0 not in shown
    assert len(shown) == 198 and len(set(shown.tolist())) == 198
    assert np.all(labels[shown[1:40]] == labels[150])
    unvoted = session.ranking()
    assert not {150, 3, 0} & set(unvoted.tolist()) and len(unvoted) == 197


def test_text_keeps_the_session_anchored() -> None:
    # the votes point at a cluster; the text decides between the pictures the votes rate alike
    codes, labels = clusters(3)
    text = np.where(np.arange(200) % 2 == 0, 1.0, 0.0)
    session = RelevanceFeedback(codes, initial_scores=text)
    wanted = np.flatnonzero(labels == 1)
    session.vote_many([wanted[0], np.flatnonzero(labels == 0)[0]], [True, False])
    top = session.ranking()[:20]
    assert np.all(labels[top] == 1) and np.mean(top % 2 == 0) >= 0.9


def test_text_weight_follows_how_well_the_text_agrees_with_the_votes() -> None:
    codes, _ = clusters()
    text = np.arange(200, dtype=float)
    session = RelevanceFeedback(codes, initial_scores=text)
    assert session.text_agreement() == 1.0
    session.vote_many([199, 198, 0], [True, True, False])
    assert session.text_agreement() == 2.0
    session.vote_many([199, 198, 0], [False, False, True])
    assert session.text_agreement() == 0.0
    assert RelevanceFeedback(codes, initial_scores=text, adapt_text=False).text_agreement() == 1.0


def test_signals_drop_out_when_missing() -> None:
    codes, labels = clusters()
    session = RelevanceFeedback(codes)
    np.testing.assert_array_equal(session.scores(), np.zeros(200))
    session.vote(0, False)
    assert session.svm_scores() is None and session.rocchio_scores() is not None
    assert labels[session.ranking()[0]] != labels[0]
    np.testing.assert_array_equal(zscore(np.ones(5)), np.zeros(5))


def test_no_votes_alone_push_with_their_share_not_a_full_signal() -> None:
    codes, _ = clusters()
    text = np.random.default_rng(1).normal(size=200)
    session = RelevanceFeedback(codes, initial_scores=text, negative_weight=0.25)
    session.vote_many([3, 4], [False, False])
    expected = zscore(text) + 0.25 * zscore(session.rocchio_scores())
    np.testing.assert_allclose(session.scores(), expected)
    session.vote(150, True)  # beside a yes the push is already inside the Rocchio term
    text_part = session.text_agreement() * zscore(text)
    expected = text_part + zscore(session.rocchio_scores()) + 0.5 * zscore(session.svm_scores())
    np.testing.assert_allclose(session.scores(), expected)


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
