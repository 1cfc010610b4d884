from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.feature_extraction.text import TfidfVectorizer

from retrieval.core import SearchHit
from retrieval.data import load_competition

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


class CaptionGallery:
    """Demo pictures searched by TF-IDF over their captions and by 8x8 thumbnails."""

    def __init__(self, paths: list[Path], captions: list[str]) -> None:
        self.paths = paths
        self.vectorizer = TfidfVectorizer().fit(captions)
        self.caption_vectors = self.vectorizer.transform(captions)
        self.codes = np.stack([self._thumb(Image.open(p)) for p in paths])

    @staticmethod
    def _thumb(image: Image.Image) -> np.ndarray:
        v = np.asarray(image.convert("L").resize((8, 8)), dtype=np.float32).ravel()
        v -= v.mean()
        return v / (np.linalg.norm(v) + 1e-6)

    def text_scores(self, text: str) -> np.ndarray:
        return (self.caption_vectors @ self.vectorizer.transform([text]).T).toarray().ravel()

    def query_note(self, text: str) -> str | None:
        if not self.vectorizer.transform([text]).nnz:
            return "no word of this query is known"
        return None

    def _top(self, scores: np.ndarray, k: int) -> list[SearchHit]:
        order = np.argsort(-scores, kind="stable")[:k]
        return [SearchHit(int(i), str(i), self.paths[i], float(scores[i])) for i in order]

    def search_text(self, text: str, k: int) -> list[SearchHit]:
        return self._top(self.text_scores(text), k)

    def image_code(self, image: Image.Image) -> np.ndarray:
        return self._thumb(image)

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        return self.codes @ code


@pytest.fixture(scope="session")
def demo_gallery() -> CaptionGallery:
    train = load_competition(DEMO, "train", features=None)
    return CaptionGallery(train.image_paths[:120], train.texts()[:120])
