"""The trained model: plain data and NumPy scoring, what search loads.

A :class:`TrainedModel` holds the fitted text encoder, the image branch
(:class:`~retrieval.models.image_code.ImageCoder`), the mappers with their weights, the
optional tag model and tag indicators, the run's config and a record of which network
made its image features. It is built by :class:`~retrieval.core.trainer.Trainer` and
searched through :class:`~retrieval.core.searcher.Searcher`; loading one imports neither
Keras nor gensim.

Scores
------
Each mapper's similarities are standardised per description over the gallery (z-scores)
and summed with the mappers' weights; with tag fusion the standardised tag score is added
with its weight, and with the concept bridge (features with ImageNet logits) the
standardised concept score with its own (the gallery's ``concepts`` space holds each image's
concept vector). With a hubness correction each member's similarity is first lowered by its
picture's penalty (the gallery's ``hubness`` space: see :mod:`retrieval.models.hubness`). A
model with one mapper and no tags returns that mapper's cosine similarities unchanged. With
tag indicators (``tag_side``), the ``features`` image space is each image's standardised
features followed by its weighted tag indicators. A ranking of a whole set of descriptions
at once is then normalised over the set's queries at the temperature ``query_set`` (``0``:
not; see :mod:`retrieval.models.query_set`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.config import RunConfig
from retrieval.core.gallery import CODE, Gallery
from retrieval.data import Dataset
from retrieval.errors import DataFormatError, refuse_single_string
from retrieval.features import extract_array, extraction_settings
from retrieval.features.clip import clip_encoder, is_clip_record
from retrieval.models.concepts import ConceptBridge
from retrieval.models.hubness import HubnessCorrection
from retrieval.models.image_code import ImageCoder
from retrieval.models.kinds import mapper_from_state
from retrieval.models.mappers import Mapper
from retrieval.models.tags import TagIndicators, TagModel, TagRidge, tag_scores
from retrieval.models.transfer import TextTransfer
from retrieval.store import Arrays, Meta, nest, part
from retrieval.text import Tokenizer, encoder_from_state

PREDICTED_TAGS = "predicted_tags"
"""The gallery space of tags predicted for pictures that have none (0/1 rows)."""
CONCEPTS = "concepts"
"""The gallery space of concept vectors (models with a concept bridge)."""
HUBNESS = "hubness"
"""The gallery space of each picture's hubness penalty per member (models with a correction)."""
TRANSFER = ("transfer", "transfer_weights")
"""The gallery spaces of each picture's nearest training pictures and their weights."""
Z_SAMPLE = 2048
"""Galleries larger than this standardise scores with statistics of a fixed sample of this size."""


@dataclass
class Member:
    """One mapper of a model: the image space it works in and its weight."""

    mapper: Mapper
    space: str
    weight: float


def standardize_rows(scores: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``scores`` minus each row's mean, over its standard deviation (of ``reference`` if given)."""
    reference = scores if reference is None else reference
    mean = reference.mean(axis=1, keepdims=True)
    std = reference.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(std, 1e-12)


def with_tag_side(
    features: np.ndarray,
    tag_side: TagIndicators | None,
    tags: Sequence[Sequence[Any]] | None,
    predicted: np.ndarray | None = None,
) -> np.ndarray:
    """Standardised features followed by the images' tag indicators (as they are without
    ``tag_side``). A gallery none of whose images has a tag is untagged: its ``predicted``
    tag scores there (rows over ``tag_side.classes_``), standardised as indicators are, or
    zeros without them."""
    if tag_side is None:
        return features
    if tags is not None and any(tags):
        side = tag_side.transform(tags)
    elif predicted is not None:
        side = tag_side.transform_scores(predicted)
    else:
        side = tag_side.transform(None, n=len(features))
    return np.hstack([features, side])


def z_sample(n: int) -> np.ndarray | None:
    """Gallery positions whose scores standardise every query (``None``: the whole gallery)."""
    if n <= Z_SAMPLE:
        return None
    return np.sort(np.random.default_rng(0).choice(n, Z_SAMPLE, replace=False))


@dataclass(frozen=True)
class _OptionalPart:
    """A component a trained model may have, stored under ``name`` (meta and arrays); one
    with a fusion weight (the attribute ``weight``) keeps its own meta under ``inner`` beside
    ``"weight"``."""

    name: str
    cls: Any
    weight: str | None = None
    inner: str = "model"
    attr: str = ""

    @property
    def field(self) -> str:
        """The model's attribute holding the component (``name`` unless ``attr`` says)."""
        return self.attr or self.name

    def wrap(self, own: Meta, model: TrainedModel) -> Meta:
        return (
            own if self.weight is None else {"weight": getattr(model, self.weight), self.inner: own}
        )

    def unwrap(self, stored: Meta, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The model's fields this part's stored meta and arrays give back."""
        if self.weight is None:
            return {self.field: self.cls.from_state(stored, arrays)}
        return {
            self.field: self.cls.from_state(stored[self.inner], arrays),
            self.weight: float(stored["weight"]),
        }


@dataclass
class TrainedModel:
    """Everything that scores descriptions against images (see the module docstring)."""

    config: RunConfig
    text_encoder: Any
    image_coder: ImageCoder
    members: list[Member]
    tag_model: TagModel | None = None
    tag_weight: float = 0.0
    tag_side: TagIndicators | None = None
    image_tags: TagRidge | None = None
    predicted_tag_weight: float | None = None
    concepts: ConceptBridge | None = None
    concept_weight: float = 0.0
    transfer: TextTransfer | None = None
    transfer_weight: float = 0.0
    hubness: HubnessCorrection | None = None
    query_set: float = 0.0
    feature_record: dict[str, Any] = field(default_factory=dict)
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ encoding
    def text_features(self, texts: Sequence[str]) -> np.ndarray:
        """Descriptions -> text features (a list of strings; a bare string is refused)."""
        refuse_single_string(texts)
        return self.text_encoder.transform(list(texts))

    def known_words(self, texts: Sequence[str]) -> np.ndarray:
        """How many words of each description the text encoder knows (0: it cannot be placed)."""
        return self.text_encoder.known_counts(list(texts))

    def stop_words_in(self, text: str) -> list[str]:
        """The words of ``text`` when every one of them is a stop word that each part of the
        text encoder leaves out ("fire", "empty", "a system"); otherwise an empty list."""
        parts = getattr(self.text_encoder, "encoders_", [self.text_encoder])
        words = Tokenizer(stop_words=None)(text)
        lists = [getattr(part, "stop_words", None) for part in parts]
        if not words or any(stop is None for stop in lists):
            return []
        return words if all(not Tokenizer(stop)(text) for stop in lists) else []

    @property
    def spaces(self) -> list[str]:
        """The image spaces this model needs in a gallery (``"code"`` first)."""
        extra = {CONCEPTS} if self.concepts is not None else set()
        extra |= set(TRANSFER) if self.transfer is not None else set()
        extra |= {HUBNESS} if self.hubness is not None else set()
        return [CODE] + sorted(({m.space for m in self.members} | extra) - {CODE})

    def image_spaces(
        self, features: np.ndarray, tags: Sequence[Sequence[Any]] | None = None
    ) -> dict[str, np.ndarray]:
        """Image features (and the images' tag lists, if any) -> every image space needed.

        A gallery none of whose pictures has a tag gets the tag scores the image tag model
        predicts (when the model has one), soft, in ``[0, 1]``: they join the ``features``
        space as the true tags' indicators would, and ``predicted_tags`` holds them over the
        tag model's classes for tag fusion."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or not np.isfinite(features).all():
            raise ValueError("image features must be a finite 2-d array")
        out = {CODE: self.image_coder.transform(features)}
        standardised = self.image_coder.features(features)  # cheap: a power and a scaling
        predicted = None  # the image tag model's scores, for a gallery without tags
        if self.image_tags is not None and not (tags is not None and any(tags)) and len(features):
            predicted = self.image_tags.predict_proba(standardised)
            if self.tag_model is not None:
                out[PREDICTED_TAGS] = self.image_tags.align(predicted, self.tag_model.classes_)
        if "features" in self.spaces:
            rows = standardised
            if self.concepts is not None and self.concepts.side_weight:
                rows = np.hstack([rows, self.concepts.side(features)])
            if predicted is not None and self.tag_side is not None:
                predicted = self.image_tags.align(predicted, self.tag_side.classes_)
            out["features"] = with_tag_side(rows, self.tag_side, tags, predicted)
        if self.concepts is not None:
            out[CONCEPTS] = self.concepts.image_vectors(features)
        if self.transfer is not None:
            rows = out[CODE] if self.transfer.space == CODE else standardised
            out[TRANSFER[0]], out[TRANSFER[1]] = self.transfer.neighbours(rows)
        if self.hubness is not None:
            keys = [m.mapper.unit_gallery_keys(out[m.space]) for m in self.members]
            out[HUBNESS] = self.hubness.penalties(keys)
        return out

    def gallery(
        self,
        ids: Sequence[str],
        paths: Sequence[Any],
        features: np.ndarray,
        tags: Sequence[Sequence[Any]] | None = None,
        *,
        name: str = "",
    ) -> Gallery:
        """A gallery of images from their ResNet features."""
        tag_lists = None if tags is None else [[str(t) for t in ts] for ts in tags]
        spaces = self.image_spaces(features, tag_lists)
        return Gallery(list(ids), list(paths), spaces, tag_lists, name)

    def gallery_from_dataset(self, dataset: Dataset) -> Gallery:
        """A gallery of ``dataset``'s images, with its tags."""
        kind = self.config.data.features
        features = dataset.features(kind)
        expected = getattr(self.image_coder, "n_features_in_", features.shape[1])
        if features.shape[1] != expected:
            raise DataFormatError(
                f"its {kind} features have {features.shape[1]} numbers per image, but the model "
                f"was trained on {expected}",
                path=dataset.name,
            )
        return self.gallery(
            dataset.ids, dataset.image_paths, features, dataset.tags, name=dataset.name
        )

    # ------------------------------------------------------------------ scoring
    def gallery_keys(self, gallery: Gallery) -> list[np.ndarray]:
        """Each member's unit-length gallery keys (what a searcher caches per gallery)."""
        return [m.mapper.unit_gallery_keys(gallery.spaces[m.space]) for m in self.members]

    def query_keys(self, X: np.ndarray) -> list[np.ndarray]:
        """Each member's query keys for text features ``X``."""
        return [m.mapper.unit_query_keys(X) for m in self.members]

    def gallery_tag_weight(self, gallery: Gallery) -> float:
        """The tag score's weight for ``gallery``: ``predicted_tag_weight`` (chosen on
        held-out pictures whose tags were predicted) when none of its pictures has a tag and
        the model predicts them, ``tag_weight`` otherwise."""
        untagged = gallery.tags is None or not any(gallery.tags)
        if untagged and self.image_tags is not None and self.predicted_tag_weight is not None:
            return self.predicted_tag_weight
        return self.tag_weight

    def tag_matrix(self, gallery: Gallery) -> np.ndarray | None:
        """The gallery's tags as rows over the tag model's classes: 0/1, or the predicted
        scores of a gallery without tags (``None``: no fusion)."""
        if self.tag_model is None or self.gallery_tag_weight(gallery) == 0:
            return None
        if gallery.tags is None or not any(gallery.tags):
            return gallery.spaces.get(PREDICTED_TAGS)
        return self.tag_model.binarize(gallery.tags)

    def component_scores(
        self, X: np.ndarray, gallery: Gallery, keys: Sequence[np.ndarray] | None = None
    ) -> list[np.ndarray]:
        """Raw similarities of every member (then the tag score, if fused), each (n_texts, n_gallery)."""
        keys = self.gallery_keys(gallery) if keys is None else keys
        out = [q @ g.T for q, g in zip(self.query_keys(X), keys, strict=True)]
        if self.hubness is not None:
            penalties = gallery.spaces[HUBNESS]
            out = [self.hubness.corrected(c, penalties, i) for i, c in enumerate(out)]
        tags = self.tag_matrix(gallery)
        if tags is not None:
            out.append(tag_scores(self.tag_model.predict_proba(X), tags))
        if self.concepts is not None:
            out.append(self.concepts.scores(X, gallery.spaces[CONCEPTS]))
        if self.transfer is not None:
            out.append(self.transfer_scores(X, gallery.spaces))
        return out

    def transfer_scores(
        self, X: Any, spaces: Mapping[str, np.ndarray], rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The text-transfer score of descriptions ``X`` for the gallery pictures (at ``rows``)."""
        neighbours, weights = (spaces[name] for name in TRANSFER)
        if rows is not None:
            neighbours, weights = neighbours[rows], weights[rows]
        return self.transfer.scores(X, neighbours, weights)

    def weights(self, gallery: Gallery, with_tags: bool | None = None) -> list[float]:
        """The weight of every component :meth:`component_scores` returns for ``gallery``
        (the tag score's, :meth:`gallery_tag_weight`, when it fuses tags: ``with_tags``, or
        else whether :meth:`tag_matrix` has rows; the concept score's whenever the model has
        a bridge)."""
        if with_tags is None:
            with_tags = self.tag_matrix(gallery) is not None
        weights = [m.weight for m in self.members]
        weights += [self.gallery_tag_weight(gallery)] if with_tags else []
        weights += [self.concept_weight] if self.concepts is not None else []
        return weights + ([self.transfer_weight] if self.transfer is not None else [])

    def fuse(
        self,
        components: Sequence[np.ndarray],
        weights: Sequence[float],
        reference: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """The weighted sum of standardised component scores (a lone component is kept as is)."""
        if len(components) == 1:
            return np.asarray(components[0], dtype=np.float32)
        reference = components if reference is None else reference
        total = np.zeros(components[0].shape, dtype=np.float64)
        for scores, ref, weight in zip(components, reference, weights, strict=True):
            if weight:
                total += weight * standardize_rows(scores, ref)
        return total.astype(np.float32)

    def scores(self, texts: Sequence[str], gallery: Gallery) -> np.ndarray:
        """Similarity of every description with every gallery image, (n_texts, n_gallery)."""
        X = self.text_features(texts)
        components = self.component_scores(X, gallery)
        sample = z_sample(len(gallery))
        reference = None if sample is None else [c[:, sample] for c in components]
        return self.fuse(components, self.weights(gallery), reference)

    # ------------------------------------------------------------------ images
    def image_features(self, images: Sequence[Any], *, weights_file: Any = None) -> np.ndarray:
        """Pictures (paths or PIL images) -> features, with the network that made the training features.

        ``weights_file`` is needed only when those features were made with a weights file.
        """
        if is_clip_record(self.feature_record):
            return clip_encoder(self.feature_record["preset"]).encode_images(list(images))
        settings = extraction_settings(self.feature_record, weights_file)
        return extract_array(list(images), **settings)

    def encode_images(self, images: Sequence[Any], *, weights_file: Any = None) -> np.ndarray:
        """Pictures (paths or PIL images) -> codes (see :meth:`image_features`)."""
        return self.image_coder.transform(self.image_features(images, weights_file=weights_file))

    # ------------------------------------------------------------------ storing
    def get_state(self) -> tuple[Meta, Arrays]:
        encoder_meta, encoder_arrays = self.text_encoder.get_state()
        coder_meta, coder_arrays = self.image_coder.get_state()
        arrays = {**nest("text", encoder_arrays), **nest("image", coder_arrays)}
        members = []
        for i, member in enumerate(self.members):
            meta, own = member.mapper.get_state()
            members.append({"space": member.space, "weight": member.weight, "mapper": meta})
            arrays.update(nest(f"mappers/{i}", own))
        optional: Meta = {}
        for part_ in _OPTIONAL_PARTS:
            component = getattr(self, part_.field)
            optional[part_.name] = None
            if component is not None:
                own_meta, own = component.get_state()
                optional[part_.name] = part_.wrap(own_meta, self)
                arrays.update(nest(part_.name, own))
        meta = {
            "config": self.config.to_dict(),
            "features": self.feature_record,
            "history": self.history,
            "text": encoder_meta,
            "image": coder_meta,
            "mappers": members,
            **optional,
            "query_set": self.query_set,
            "predicted_tag_weight": self.predicted_tag_weight,
        }
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: Meta, arrays: Mapping[str, np.ndarray], *, source: str | None = None
    ) -> TrainedModel:
        members = [
            Member(
                mapper_from_state(m["mapper"], part(f"mappers/{i}", arrays)),
                m["space"],
                float(m["weight"]),
            )
            for i, m in enumerate(meta["mappers"])
        ]
        optional: dict[str, Any] = {}
        for part_ in _OPTIONAL_PARTS:
            if meta.get(part_.name):
                optional.update(part_.unwrap(meta[part_.name], part(part_.name, arrays)))
        return cls(
            config=RunConfig.from_dict(meta["config"], source=source),
            text_encoder=encoder_from_state(meta["text"], part("text", arrays)),
            image_coder=ImageCoder.from_state(meta["image"], part("image", arrays)),
            members=members,
            **optional,
            query_set=float(meta.get("query_set", 0.0)),
            predicted_tag_weight=_optional_float(meta.get("predicted_tag_weight")),
            feature_record=dict(meta.get("features", {})),
            history=dict(meta.get("history", {})),
        )


def _optional_float(value: Any) -> float | None:
    """A stored number, or ``None`` (bundles written before it was stored have none)."""
    return None if value is None else float(value)


_OPTIONAL_PARTS = (
    _OptionalPart("tags", TagModel, weight="tag_weight", attr="tag_model"),
    _OptionalPart("tag_side", TagIndicators),
    _OptionalPart("image_tags", TagRidge),
    _OptionalPart("concepts", ConceptBridge, weight="concept_weight", inner="bridge"),
    _OptionalPart("transfer", TextTransfer, weight="transfer_weight"),
    _OptionalPart("hubness", HubnessCorrection),
)
"""The optional components, in the order the bundle's meta lists them."""
