"""Combined queries: terms parsed as typed, standardised per term and summed with their signs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from retrieval.core import QueryTerm, check_terms, combined_scores, search_combined


class TableSearcher:
    """A searcher whose text and image scores come from fixed tables."""

    def __init__(self, texts: dict[str, list[float]], images: dict[str, list[float]]) -> None:
        n = len(next(iter({**texts, **images}.values())))
        self.gallery = SimpleNamespace(
            ids=[f"p{i}" for i in range(n)], paths=[f"{i}.jpg" for i in range(n)]
        )
        self.texts, self.images = texts, images
        self.weights_files: list = []

    def scores(self, texts: list[str]) -> np.ndarray:
        return np.array([self.texts[text] for text in texts])

    def image_scores(self, image: Path, *, weights_file=None) -> np.ndarray:
        self.weights_files.append(weights_file)
        return np.array(self.images[Path(image).name])


def test_terms_are_parsed_by_their_suffix() -> None:
    assert QueryTerm.parse("a dog on a beach") == QueryTerm(text="a dog on a beach")
    assert QueryTerm.parse(" photos/Beach.JPEG ", -2) == QueryTerm(
        image=Path("photos/Beach.JPEG"), weight=-2.0
    )
    assert QueryTerm.parse("a file called notes.txt").text == "a file called notes.txt"


@pytest.mark.parametrize(
    ("term", "message"),
    [
        (dict(), "exactly one"),
        (dict(text="a", image=Path("b.jpg")), "exactly one"),
        (dict(text="  "), "empty"),
        (dict(text="a", weight=0.0), "non-zero"),
        (dict(text="a", weight=float("nan")), "non-zero"),
    ],
)
def test_bad_terms_are_refused(term: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QueryTerm(**term)


def test_queries_without_a_positive_term_or_with_a_missing_image_are_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="no terms"):
        check_terms([])
    with pytest.raises(ValueError, match="subtracted terms only"):
        check_terms([QueryTerm(text="a", weight=-1)])
    missing = tmp_path / "gone.png"
    with pytest.raises(FileNotFoundError, match="gone.png: no such image file"):
        check_terms([QueryTerm(text="a"), QueryTerm(image=missing)])


def test_each_term_weighs_alike_whatever_its_scale(tmp_path: Path) -> None:
    (tmp_path / "ex.jpg").write_bytes(b"")  # only its existence is checked here
    # the text's scores are 100 times the image's: standardised, both count the same
    searcher = TableSearcher({"dog": [300.0, 0.0, 200.0, 100.0]}, {"ex.jpg": [0.0, 3.0, 2.0, 1.0]})
    terms = [QueryTerm(text="dog"), QueryTerm(image=tmp_path / "ex.jpg")]
    scores = combined_scores(searcher, terms, weights_file="w.h5")
    unit = 1 / np.sqrt(1.25)  # each term's standard deviation, in its own units, is sqrt(1.25)
    text_z = np.array([1.5, -1.5, 0.5, -0.5]) * unit
    image_z = np.array([-1.5, 1.5, 0.5, -0.5]) * unit
    np.testing.assert_allclose(scores, text_z + image_z)  # p0 and p1 cancel, p2 leads
    assert searcher.weights_files == ["w.h5"]
    hits = search_combined(searcher, terms, k=2)
    assert hits[0].id == "p2" and hits[0].path == "2.jpg"
    # its score is the combined score's z-score over the gallery ([0, 0, a, -a]: a / (a / sqrt 2))
    assert hits[0].score == pytest.approx(np.sqrt(2))


def test_a_subtracted_term_sinks_what_it_matches() -> None:
    searcher = TableSearcher({"beach": [0.9, 0.8, 0.1, 0.0], "indoors": [0.9, 0.0, 0.0, 0.1]}, {})
    plain = search_combined(searcher, [QueryTerm(text="beach"), QueryTerm(text="beach")], k=4)
    assert [hit.id for hit in plain][:2] == ["p0", "p1"]
    minus = search_combined(
        searcher, [QueryTerm(text="beach"), QueryTerm(text="indoors", weight=-1)], k=4
    )
    assert minus[0].id == "p1" and minus[-1].id != "p1"
    # a term that scores every picture alike adds nothing, rather than dividing by zero
    flat = TableSearcher({"beach": [0.9, 0.8, 0.1, 0.0], "any": [0.5] * 4}, {})
    both = combined_scores(flat, [QueryTerm(text="beach"), QueryTerm(text="any")])
    alone = combined_scores(flat, [QueryTerm(text="beach")])
    np.testing.assert_allclose(both, alone)
