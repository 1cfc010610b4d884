"""The trained retriever: image autoencoder + text encoder + regressor + gallery search.

``Retriever.fit(dataset)`` learns the image code (the autoencoder over pool5), the text
encoder, the mapping from text to code and, optionally, tag predictions; it then
indexes the training images as the default gallery. ``search`` answers a description,
``search_image`` an example image, ``rank`` ranks a whole gallery for many descriptions
(the competition's task) and ``rank_texts`` goes the other way, ranking candidate texts
for an image.

``save(dir)`` writes one self-describing bundle with a format version. Search needs only
NumPy and scikit-learn: the networks are also stored as :class:`DenseStack` arrays, so a
loaded bundle answers queries without importing Keras.

Example
-------
>>> from retrieval.config import RunConfig                       # doctest: +SKIP
>>> from retrieval.data import load_competition                  # doctest: +SKIP
>>> retriever = Retriever(RunConfig.from_toml("configs/demo.toml"))  # doctest: +SKIP
>>> retriever.fit(load_competition("data/demo", "train"))        # doctest: +SKIP
>>> retriever.search("a red apple", k=5)                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from retrieval.config import RunConfig
from retrieval.data import Dataset
from retrieval.errors import RetrievalError
from retrieval.fileio import atomic_directory, atomic_write
from retrieval.models.dense_stack import DenseStack

BUNDLE_FORMAT = 1
BUNDLE_KIND = "retrieval-bundle"


class BundleError(RetrievalError):
    """A bundle folder is missing, incomplete or of a format this version cannot read."""


class SearchHit(NamedTuple):
    """One search result: gallery position, image id, file path and cosine score."""

    index: int
    id: str
    path: Path
    score: float


@dataclass
class Gallery:
    """The searchable images: ids, paths, unit-length codes and (optionally) tags."""

    ids: list[str]
    paths: list[Path]
    codes: np.ndarray
    tags: list[list[str]] | None = None

    def __post_init__(self) -> None:
        self.codes = _unit_rows(np.asarray(self.codes, dtype=np.float32))
        if not (len(self.ids) == len(self.paths) == len(self.codes)):
            raise ValueError("gallery ids, paths and codes must have the same length")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, positions: Sequence[int] | np.ndarray) -> Gallery:
        """The images at ``positions``, in that order."""
        return Gallery(
            [self.ids[i] for i in positions],
            [self.paths[i] for i in positions],
            self.codes[np.asarray(positions, dtype=np.int64)],
            None if self.tags is None else [self.tags[i] for i in positions],
        )


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores of each row, best first (ties by position)."""
    k = min(k, scores.shape[1])
    if k == scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


class Retriever:
    """Text-to-image retrieval trained end to end from a :class:`~retrieval.data.Dataset`."""

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = config if config is not None else RunConfig()

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset) -> Retriever:
        """Learn every part from paired data and index its images as the gallery."""
        if not dataset.is_paired:
            raise ValueError("fit() needs paired data (description i describes image i)")
        config = self.config
        features = dataset.features(config.data.features)
        self.image_codes_ = self._fit_image_branch(features)
        texts = dataset.texts()
        self._fit_text_branch(texts, self.image_codes_)
        self.tagger_ = None
        if config.tags.enabled:
            from retrieval.models.tags import TagPredictor

            self.tagger_ = TagPredictor().fit(self.encoder_.transform(texts), dataset.tags)
        self.gallery_ = Gallery(
            list(dataset.ids),
            list(dataset.image_paths),
            self.image_codes_,
            [[str(t) for t in tags] for tags in dataset.tags],
        )
        return self

    def _fit_image_branch(self, features: np.ndarray) -> np.ndarray:
        image = self.config.image
        if not image.use_autoencoder:
            self.image_stack_ = None
            return features.astype(np.float32)
        from retrieval.models.autoencoder import Autoencoder

        self.autoencoder_ = Autoencoder(
            code_dim=image.code_dim,
            hidden=list(image.hidden),
            epochs=image.epochs,
            batch_size=image.batch_size,
            learning_rate=image.learning_rate,
            patience=image.patience,
            seed=self.config.seed,
        ).fit(features)
        self.image_stack_ = self.autoencoder_.encoder_stack()
        return self.image_stack_(features)

    def _fit_text_branch(self, texts: Sequence[str], codes: np.ndarray) -> None:
        from retrieval.models.regressor import TextToCodeRegressor
        from retrieval.text import make_encoder

        text, regressor = self.config.text, self.config.regressor
        self.encoder_ = make_encoder(
            text.encoders,
            max_features=text.max_features,
            word2vec_dim=text.word2vec_dim,
            word2vec_epochs=text.word2vec_epochs,
            glove_vocabulary=text.glove_vocabulary,
            seed=self.config.seed,
        ).fit(texts)
        self.regressor_ = TextToCodeRegressor(
            loss=regressor.loss,
            hidden=list(regressor.hidden),
            dropout=regressor.dropout,
            epochs=regressor.epochs,
            batch_size=regressor.batch_size,
            learning_rate=regressor.learning_rate,
            margin=regressor.margin,
            hard_negatives=regressor.hard_negatives,
            temperature=regressor.temperature,
            patience=regressor.patience,
            seed=self.config.seed,
        ).fit(self.encoder_.transform(texts), codes)
        self.text_stack_ = DenseStack.from_keras(self.regressor_.model_)
        self.history_ = dict(self.regressor_.history_)

    # ------------------------------------------------------------------ encoding
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Descriptions -> unit-length codes (n, code_dim)."""
        return _unit_rows(self.text_stack_(self._text_features(texts, "encode_texts")))

    def _text_features(self, texts: Sequence[str], caller: str) -> np.ndarray:
        self._check_fitted()
        if isinstance(texts, str):
            raise TypeError(f"{caller}() takes a list of descriptions; wrap a single one in a list")
        return self.encoder_.transform(list(texts))

    def encode_features(self, features: np.ndarray) -> np.ndarray:
        """pool5 features -> unit-length codes."""
        self._check_fitted()
        features = np.asarray(features, dtype=np.float32)
        if not np.isfinite(features).all():
            raise ValueError("features hold NaN or infinity")
        codes = features if self.image_stack_ is None else self.image_stack_(features)
        return _unit_rows(codes)

    def encode_images(
        self, images: Sequence[Any], *, weights: str | None = "imagenet"
    ) -> np.ndarray:
        """Pictures (paths or PIL images) -> unit-length codes, through ResNet-50 pool5."""
        from retrieval.features import extract_array

        return self.encode_features(extract_array(list(images), weights=weights))

    # ------------------------------------------------------------------ galleries
    def set_gallery(self, gallery: Gallery) -> None:
        """Search ``gallery`` from now on (for example the test images, or a folder)."""
        self.gallery_ = gallery

    def gallery_from_dataset(self, dataset: Dataset) -> Gallery:
        """A gallery of ``dataset``'s images, coded from its features."""
        return Gallery(
            list(dataset.ids),
            list(dataset.image_paths),
            self.encode_features(dataset.features(self.config.data.features)),
            [[str(t) for t in tags] for tags in dataset.tags],
        )

    def scores(self, texts: Sequence[str], gallery: Gallery | None = None) -> np.ndarray:
        """Similarity of every description with every gallery image (n_texts, n_gallery)."""
        features = self._text_features(texts, "scores")
        return self._text_scores(_unit_rows(self.text_stack_(features)), features, gallery)

    def _text_scores(
        self, codes: np.ndarray, features: np.ndarray, gallery: Gallery | None
    ) -> np.ndarray:
        gallery = gallery if gallery is not None else self.gallery_
        similarity = codes @ gallery.codes.T
        if self.tagger_ is not None and gallery.tags is not None:
            from retrieval.models.tags import fuse_scores, tag_scores

            proba = self.tagger_.predict_proba(features)
            similarity = fuse_scores(
                similarity,
                tag_scores(proba, self.tagger_.binarize(gallery.tags)),
                weight=self.config.tags.weight,
            )
        return similarity

    def search(self, text: str, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery images that best match ``text``."""
        if not text.strip():
            raise ValueError("the query is empty")
        features = self._text_features([text], "search")
        code = _unit_rows(self.text_stack_(features))
        positions = self._candidates(code[0], k)
        gallery = self.gallery_ if positions is None else self.gallery_.subset(positions)
        return self._hits(self._text_scores(code, features, gallery)[0], k, positions)

    def search_image(
        self, image: Any, k: int = 20, *, weights: str | None = "imagenet"
    ) -> list[SearchHit]:
        """The ``k`` gallery images closest to an example image (a path or a PIL image) in code space."""
        return self.search_code(self.encode_images([image], weights=weights)[0], k)

    def search_code(self, code: np.ndarray, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery images closest to a code (for example a gallery image's own)."""
        code = _unit_rows(np.asarray(code, np.float32)[None])[0]
        positions = self._candidates(code, k)
        codes = self.gallery_.codes if positions is None else self.gallery_.codes[positions]
        return self._hits(codes @ code, k, positions)

    def _candidates(self, code: np.ndarray, k: int) -> np.ndarray | None:
        """Gallery positions worth scoring for one query code; ``None`` means all of them.

        With ``config.index.backend`` other than ``exact`` and a gallery larger than
        ``config.index.candidates``, the index (built on first use for each gallery) proposes
        the nearest codes.
        """
        settings = self.config.index
        wanted = max(k, settings.candidates)
        if settings.backend == "exact" or len(self.gallery_) <= wanted:
            return None
        cached = getattr(self, "_gallery_index", None)
        if cached is None or cached[0] is not self.gallery_:
            from retrieval.index import make_index

            index = make_index(settings.backend, metric=settings.metric, **settings.params)
            index.add(range(len(self.gallery_)), self.gallery_.codes)
            cached = self._gallery_index = (self.gallery_, index)
        ids, _ = cached[1].search(code[None], wanted)
        return np.array([int(i) for i in ids[0]], dtype=np.int64)

    def _hits(
        self, scores: np.ndarray, k: int, positions: np.ndarray | None = None
    ) -> list[SearchHit]:
        gallery = self.gallery_
        best = top_k(scores[None], k)[0]
        return [
            SearchHit(int(i), gallery.ids[i], gallery.paths[i], float(scores[j]))
            for j, i in zip(best, best if positions is None else positions[best], strict=True)
        ]

    def rank(
        self, descriptions: Sequence[str], gallery: Gallery | Dataset, k: int | None = None
    ) -> np.ndarray:
        """For each description, gallery indices from best to worst (the first ``k`` if given)."""
        if isinstance(gallery, Dataset):
            gallery = self.gallery_from_dataset(gallery)
        scores = self.scores(descriptions, gallery)
        return top_k(scores, k or scores.shape[1])

    def rank_texts(
        self, image: Any, candidate_texts: Sequence[str], *, weights: str | None = "imagenet"
    ) -> list[tuple[str, float]]:
        """Candidate descriptions or label phrases for an image, best first (retrieval-style captioning)."""
        code = (
            self.encode_images([image], weights=weights)[0]
            if not isinstance(image, np.ndarray)
            else _unit_rows(np.asarray(image, np.float32)[None])[0]
        )
        scores = self.encode_texts(candidate_texts) @ code
        order = np.argsort(-scores, kind="stable")
        return [(candidate_texts[i], float(scores[i])) for i in order]

    def _check_fitted(self) -> None:
        if not hasattr(self, "text_stack_"):
            raise RuntimeError("this Retriever is not trained yet; call fit() or Retriever.load()")

    # ------------------------------------------------------------------ bundles
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the bundle folder atomically; an existing bundle is replaced only when complete."""
        self._check_fitted()
        path = Path(path)
        with atomic_directory(path) as staging:
            manifest = {
                "kind": BUNDLE_KIND,
                "format": BUNDLE_FORMAT,
                "config": self.config.to_dict(),
                "history": getattr(self, "history_", {}),
                "gallery": {
                    "ids": self.gallery_.ids,
                    "paths": [str(p) for p in self.gallery_.paths],
                    "tags": self.gallery_.tags,
                },
                "has_autoencoder": self.image_stack_ is not None,
                "has_tagger": self.tagger_ is not None,
            }
            with atomic_write(staging / "encoder.pkl", "wb") as handle:
                pickle.dump(self.encoder_, handle, protocol=pickle.HIGHEST_PROTOCOL)
            self.text_stack_.save(staging / "text_to_code.npz")
            if hasattr(self, "regressor_"):
                self.regressor_.save(staging / "regressor.keras")
            if self.image_stack_ is not None:
                self.image_stack_.save(staging / "image_encoder.npz")
                if hasattr(self, "autoencoder_"):
                    self.autoencoder_.save(staging / "autoencoder")
            if self.tagger_ is not None:
                self.tagger_.save(staging / "tagger.pkl")
            np.save(staging / "gallery_codes.npy", self.gallery_.codes)
            (staging / "bundle.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Retriever:
        """Read a bundle written by :meth:`save`; search works without importing Keras."""
        path = Path(path)
        manifest_path = path / "bundle.json"
        if not manifest_path.is_file():
            raise BundleError(f"{path}: not a retrieval bundle (no bundle.json)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BundleError(f"{manifest_path}: not valid JSON ({exc.msg})") from None
        if manifest.get("kind") != BUNDLE_KIND:
            raise BundleError(f"{manifest_path}: not a retrieval bundle")
        if manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(
                f"{manifest_path}: bundle format {manifest.get('format')!r}; this version of retrieval "
                f"reads format {BUNDLE_FORMAT}: retrain, or use the version that wrote it"
            )
        retriever = cls(RunConfig.from_dict(manifest["config"], source=str(manifest_path)))
        with (path / "encoder.pkl").open("rb") as handle:
            retriever.encoder_ = pickle.load(handle)
        retriever.text_stack_ = DenseStack.load(path / "text_to_code.npz")
        retriever.image_stack_ = (
            DenseStack.load(path / "image_encoder.npz") if manifest["has_autoencoder"] else None
        )
        retriever.tagger_ = None
        if manifest["has_tagger"]:
            from retrieval.models.tags import TagPredictor

            retriever.tagger_ = TagPredictor.load(path / "tagger.pkl")
        gallery = manifest["gallery"]
        retriever.gallery_ = Gallery(
            gallery["ids"],
            [Path(p) for p in gallery["paths"]],
            np.load(path / "gallery_codes.npy"),
            gallery["tags"],
        )
        retriever.history_ = manifest.get("history", {})
        return retriever
