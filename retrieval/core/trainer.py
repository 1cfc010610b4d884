"""Build a :class:`~retrieval.core.model.TrainedModel` from a run config and paired data.

Examples
--------
>>> from retrieval.config import RunConfig                              # doctest: +SKIP
>>> from retrieval.data import load_competition                         # doctest: +SKIP
>>> model = Trainer(RunConfig.from_toml("configs/default.toml")).fit(   # doctest: +SKIP
...     load_competition("data/demo", "train"))
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from retrieval.config import RunConfig
from retrieval.core.model import Member, TrainedModel, standardize_rows, with_tag_side
from retrieval.data import Dataset
from retrieval.features import WeightsUnavailableError, logit_layer
from retrieval.metrics import map_at_k, ranks_from_scores
from retrieval.models.concepts import ConceptBridge, imagenet_class_names
from retrieval.models.hubness import HubnessCorrection
from retrieval.models.image_code import ImageCoder
from retrieval.models.kinds import make_mapper
from retrieval.models.query_set import dual_softmax
from retrieval.models.tags import TagIndicators, TagModel, TagRidge, tag_scores
from retrieval.models.transfer import TextTransfer
from retrieval.text import glove_columns, make_encoder, text_matrix

_log = logging.getLogger(__name__)


class Trainer:
    """Fits every part a config describes; ``verbose`` reports each step on stderr.

    Steps: the image branch on the training images' features, the text encoder on the
    descriptions, the ImageNet concept bridge (for features with ImageNet logits: see
    :class:`~retrieval.config.ConceptConfig`), each mapper from text features into its image
    space, the tag model (if tag fusion is on), and the fusion weights (fixed, or chosen on a
    held-out part of the training items: see :class:`~retrieval.config.FusionConfig`).
    """

    def __init__(self, config: RunConfig | None = None, *, verbose: bool = False) -> None:
        self.config = config if config is not None else RunConfig()
        self.verbose = verbose
        self._started = time.perf_counter()  # reset by each fit

    def _say(self, message: str) -> None:
        """``message``, after the seconds since ``fit`` began, logged at ``INFO`` when verbose
        (else ``DEBUG``)."""
        elapsed = time.perf_counter() - self._started
        _log.log(logging.INFO if self.verbose else logging.DEBUG, "[%6.1f s] %s", elapsed, message)

    def fit(self, dataset: Dataset) -> TrainedModel:
        """Learn every part from paired data (description ``i`` describes image ``i``)."""
        if not dataset.is_paired:
            raise ValueError("training needs paired data (description i describes image i)")
        config = self.config
        self._started = time.perf_counter()
        features = dataset.features(config.data.features)
        self._say(f"image branch: {features.shape[1]}-d features of {len(dataset)} images")
        coder = ImageCoder.from_config(config.image, seed=config.seed).fit(features)
        standardised = coder.features(features)  # before any tag or concept columns join them
        spaces = {"code": coder.transform(features), "features": standardised}
        texts = dataset.texts()
        self._say(f"text encoder: {', '.join(config.text.encoders)}")
        encoder = make_encoder(config.text, seed=config.seed).fit(texts)
        # TF-IDF rows are mostly zeros: one sparse matrix serves every fit below
        X = text_matrix(encoder, texts)
        tags = [[str(t) for t in ts] for ts in dataset.tags]
        use_tags = config.tags.enabled and any(tags)
        bridge = self._concept_bridge(encoder, dataset.record_of(config.data.features))
        concepts = None if bridge is None else bridge.image_vectors(features)
        if bridge is not None and bridge.side_weight:
            bridge.fit_side(features)
            spaces["features"] = np.hstack([spaces["features"], bridge.side(features)])
        member_weights = [m.weight for m in config.mappers]
        tag_weight = config.tags.weight if use_tags else 0.0
        concept_weight = config.concepts.weight if bridge is not None else 0.0
        transfer = None
        if config.transfer.enabled:
            transfer = TextTransfer(
                config.transfer.k, config.transfer.temperature, config.transfer.space
            )
        transfer_weight = config.transfer.weight if transfer is not None else 0.0
        # the rows whose neighbours the text transfer finds (the standardised features, before
        # any tag or concept columns join them)
        image_rows = spaces["code"] if config.transfer.space == "code" else standardised
        joint_candidates = self._joint_candidates(use_tags)
        joint_weight = joint_candidates[0]
        several = len(config.mappers) > 1 or use_tags or bridge is not None or transfer is not None
        several = several or config.hubness.enabled or len(self._query_set_candidates()) > 1
        hub_choice = (config.hubness.neighbours[0], config.hubness.strengths[0])
        query_set = self._query_set_candidates()[0]
        predicted_weight = None
        predict_tags = use_tags and config.tags.predict_missing
        if config.fusion.select == "holdout" and several:
            weights, hub_choice, query_set = self._select_weights(
                X,
                spaces,
                tags if use_tags else None,
                joint_candidates,
                concepts=None if bridge is None else (bridge, concepts),
                transfer=transfer,
                transfer_rows=image_rows,
                tag_inputs=standardised if predict_tags else None,
            )
            member_weights, tag_weight, concept_weight, transfer_weight, joint_weight = weights[:5]
            predicted_weight = weights.predicted_tags
        if transfer is not None:
            self._say(f"text transfer: {config.transfer.k} nearest of {len(dataset)} pictures")
            transfer.fit(image_rows, X)
        tag_side = None
        if joint_weight > 0:
            self._say(f"tags join the features space with weight {joint_weight:g}")
            tag_side = TagIndicators(weight=joint_weight).fit(tags)
            spaces["features"] = with_tag_side(spaces["features"], tag_side, tags)
        members = []
        history = {"image": coder.history_} if coder.history_ else {}
        for i, (mapper_config, weight) in enumerate(
            zip(config.mappers, member_weights, strict=True)
        ):
            self._say(f"mapper {i}: {mapper_config.kind} into the {mapper_config.space} space")
            mapper = make_mapper(mapper_config.kind, mapper_config.params, seed=config.seed)
            mapper.fit(X, spaces[mapper_config.space])
            members.append(Member(mapper, mapper_config.space, weight))
            if getattr(mapper, "history_", None):
                history[f"mapper {i} ({mapper_config.kind})"] = mapper.history_
        tag_model = image_tags = None
        if use_tags:
            self._say("tag model")
            tag_model = TagModel(C=config.tags.C, min_count=config.tags.min_count).fit(X, tags)
            if predict_tags:  # for galleries whose pictures have no tags
                self._say("tags from the image features, for galleries without tags")
                image_tags = TagRidge(config.tags.predict_alpha)
                image_tags.fit(standardised, tags)
        hubness = None
        if config.hubness.enabled and hub_choice[1] > 0:
            bank = bank_rows(X.shape[0], config.hubness.bank, config.seed)
            self._say(
                f"hubness correction: {hub_choice[0]} nearest of {len(bank)} descriptions, "
                f"strength {hub_choice[1]:g}"
            )
            keys = [m.mapper.unit_query_keys(X[bank]) for m in members]
            hubness = HubnessCorrection(keys, *hub_choice)
        self._say(f"trained in {time.perf_counter() - self._started:.1f} s")
        return TrainedModel(
            config=config,
            text_encoder=encoder,
            image_coder=coder,
            members=members,
            tag_model=tag_model,
            tag_weight=tag_weight,
            tag_side=tag_side,
            image_tags=image_tags,
            predicted_tag_weight=predicted_weight,
            concepts=bridge,
            concept_weight=concept_weight,
            transfer=transfer,
            transfer_weight=transfer_weight,
            hubness=hubness,
            query_set=query_set,
            feature_record=dict(dataset.record_of(self.config.data.features)),
            history=history,
        )

    def _concept_bridge(self, encoder: Any, record: dict) -> ConceptBridge | None:
        """The concept bridge, when the config asks for it, the features have ImageNet logits
        and the text features a GloVe block (otherwise ``None``)."""
        settings = self.config.concepts
        columns = glove_columns(encoder) if settings.enabled else None
        if columns is None:
            return None
        try:
            layer = logit_layer(record)
        except WeightsUnavailableError as exc:
            self._say(f"concept bridge left out: {exc}")
            return None
        if layer is None:
            return None
        start, stop, glove = columns
        labels = glove.transform(imagenet_class_names(settings.synonyms))
        self._say(f"concept bridge: 1000 ImageNet classes, temperature {settings.temperature:g}")
        bridge = ConceptBridge(settings.temperature, settings.side_weight)
        return bridge.fit(labels, *layer, text_columns=(start, stop))

    def _query_set_candidates(self) -> tuple[float, ...]:
        """The query-set temperatures worth trying (``(0.0,)`` when it is off)."""
        settings = self.config.query_set
        return settings.temperatures if settings.enabled else (0.0,)

    def _joint_candidates(self, use_tags: bool) -> tuple[float, ...]:
        """The weights of the tag indicators in the features space worth trying (``0``: none)."""
        uses_features = any(m.space == "features" for m in self.config.mappers)
        return self.config.tags.joint_weights if use_tags and uses_features else (0.0,)

    def _select_weights(
        self,
        X: Any,
        spaces: dict[str, np.ndarray],
        tags: list[list[str]] | None,
        joint_candidates: Sequence[float] = (0.0,),
        *,
        concepts: tuple[ConceptBridge, np.ndarray] | None = None,
        transfer: TextTransfer | None = None,
        transfer_rows: np.ndarray | None = None,
        tag_inputs: np.ndarray | None = None,
    ) -> tuple[FusionWeights, tuple[int, float], float]:
        """Fusion weights (the members', the tag score's, the concept score's, the text
        transfer's) and the weight of the tags in the features space, with the best MAP@20
        on a held-out part of the training items; then, with those, the hubness correction's
        neighbours and strength (the first candidates when the correction is off), and the
        query-set temperature (0 when it is off).

        With ``tag_inputs`` (the rows the image tag model reads), the held-out pictures'
        tags are also predicted from them, as a gallery without tags would have them, and
        the tag score's weight for such galleries is chosen there (the sixth fusion weight;
        ``None`` without ``tag_inputs``)."""
        config = self.config
        fusion = config.fusion
        order = np.random.default_rng(config.seed).permutation(X.shape[0])
        if fusion.holdout_items:
            order = order[: fusion.holdout_items]
        n_val = max(2, int(round(len(order) * fusion.holdout)))
        val, fit = np.sort(order[:n_val]), np.sort(order[n_val:])
        how = "" if fusion.holdout_refine else " (learned mappers without refinement)"
        self._say(f"fusion weights: fitting on {len(fit)} items{how}, choosing on {len(val)}")
        X_fit, X_val = X[fit], X[val]
        fit_spaces = {name: rows[fit] for name, rows in spaces.items()}
        val_spaces = {name: rows[val] for name, rows in spaces.items()}
        extra_components = []
        if tags is not None:
            fit_tags, val_tags = [tags[i] for i in fit], [tags[i] for i in val]
            model = TagModel(C=config.tags.C, min_count=config.tags.min_count)
            model.fit(X_fit, fit_tags)
            extra_components.append(
                tag_scores(model.predict_proba(X_val), model.binarize(val_tags))
            )
        if concepts is not None:
            bridge, rows = concepts
            extra_components.append(bridge.scores(X_val, rows[val]))
        if transfer is not None:
            rows = transfer_rows if transfer_rows is not None else spaces["code"]
            held = TextTransfer(transfer.k, transfer.temperature, transfer.space)
            neighbours, weights = held.fit(rows[fit], X_fit).neighbours(rows[val])
            extra_components.append(held.scores(X_val, neighbours, weights))
        untouched: dict[int, tuple[Any, np.ndarray]] = {}  # members the tags' weight leaves alone
        best = None
        for joint_weight in joint_candidates:
            held_fit, held_val = dict(fit_spaces), dict(val_spaces)
            side = None
            if joint_weight > 0:
                side = TagIndicators(weight=joint_weight).fit(fit_tags)
                held_fit["features"] = with_tag_side(held_fit["features"], side, fit_tags)
                held_val["features"] = with_tag_side(held_val["features"], side, val_tags)
            components, mappers = [], []
            for i, mapper_config in enumerate(config.mappers):
                if i in untouched:
                    mappers.append(untouched[i][0])
                    components.append(untouched[i][1])
                    continue
                mapper = make_mapper(mapper_config.kind, mapper_config.params, seed=config.seed)
                if not fusion.holdout_refine:
                    mapper = mapper.without_refinement()
                mapper.fit(X_fit, held_fit[mapper_config.space])
                scores = mapper.similarity(X_val, held_val[mapper_config.space])
                if mapper_config.space != "features":
                    untouched[i] = (mapper, scores)
                mappers.append(mapper)
                components.append(scores)
            weights, value = best_weights(components + extra_components, config.fusion.grid)
            if len(joint_candidates) > 1:
                self._say(f"tags in the features space with weight {joint_weight:g}: {value:.4f}")
            if best is None or value > best[0] + 1e-12:
                best = (value, weights, joint_weight, side, mappers, components, held_val)
        value, weights, joint_weight, side, mappers, components, held_val = best
        self._say("fusion weights: " + ", ".join(f"{w:g}" for w in weights))
        hub_choice = (config.hubness.neighbours[0], config.hubness.strengths[0])
        if config.hubness.enabled:
            bank = bank_rows(len(fit), config.hubness.bank, config.seed)
            bank_keys = [m.unit_query_keys(X_fit[bank]) for m in mappers]
            gallery_keys = [
                m.unit_gallery_keys(held_val[c.space])
                for m, c in zip(mappers, config.mappers, strict=True)
            ]
            hub_value, best_corrected = -np.inf, components
            # among the candidates only: without 0, a correction is kept
            for k in config.hubness.neighbours:
                hub = HubnessCorrection(bank_keys, k, 1.0)
                penalties = hub.penalties(gallery_keys)
                for strength in config.hubness.strengths:
                    hub.strength = strength
                    corrected = [hub.corrected(c, penalties, i) for i, c in enumerate(components)]
                    candidate = fused_quality(corrected + extra_components, weights)
                    if candidate > hub_value + 1e-12:
                        hub_choice, hub_value, best_corrected = (k, strength), candidate, corrected
            self._say(
                f"hubness correction: {hub_choice[0]} nearest, strength {hub_choice[1]:g} "
                f"(MAP@20 {value:.4f} without, {hub_value:.4f} with)"
            )
            components = best_corrected
        query_set = self._query_set_candidates()[0]
        if config.query_set.enabled:
            fused = fused_scores(components + extra_components, weights)
            values = {t: _quality(dual_softmax(fused, t)) for t in self._query_set_candidates()}
            query_set = max(values, key=values.__getitem__)  # ties: the first candidate
            self._say(
                "query-set normalisation: "
                + ", ".join(f"temperature {t:g}: {v:.4f}" for t, v in values.items())
                + f"; {query_set:g} kept"
            )
        n = len(config.mappers)
        member_weights = list(weights[:n])
        extra = iter(weights[n:])
        tag_weight = next(extra) if tags is not None else 0.0
        concept_weight = next(extra) if concepts is not None else 0.0
        transfer_weight = next(extra) if transfer is not None else 0.0
        predicted_weight = None
        if tags is not None and tag_inputs is not None:
            held_tags = HeldOutTags(model, side)
            held_tags.fit(tag_inputs[fit], fit_tags, config.tags.predict_alpha)
            predicted_weight = held_tags.choose_weight(
                X_val,
                [(m, c.space) for m, c in zip(mappers, config.mappers, strict=True)],
                val_spaces,
                tag_inputs[val],
                weights,
                extra_components,
                candidates=config.tags.predicted_weights,
                query_set=query_set,
            )
            self._say(
                f"tag score weight for galleries without tags (predicted): {predicted_weight:g}"
            )
        fusion_weights = FusionWeights(
            member_weights,
            tag_weight,
            concept_weight,
            transfer_weight,
            joint_weight,
            predicted_weight,
        )
        return fusion_weights, hub_choice, query_set


class FusionWeights(NamedTuple):
    """What the held-out items choose: the weight of each member, of the tag score, of the
    concept score and of the text transfer; the weight of the tags beside the features; and
    the tag score's weight for galleries whose tags are predicted (``None``: not chosen)."""

    members: list[float]
    tags: float
    concepts: float
    transfer: float
    joint: float
    predicted_tags: float | None


class HeldOutTags:
    """Tags predicted for held-out pictures, as a gallery without tags gets them, to choose
    the tag score's weight for such galleries (:meth:`choose_weight`). ``tag_side``: the
    tags beside the features that the held-out mappers were fitted with (``None``: none)."""

    def __init__(self, tag_model: TagModel, tag_side: TagIndicators | None):
        self.tag_model, self.side = tag_model, tag_side

    def fit(self, rows: np.ndarray, tags: list[list[str]], alpha: float) -> HeldOutTags:
        """Learn the fitted items' ``tags`` from their ``rows`` (the image tag model's inputs)."""
        self.ridge = TagRidge(alpha).fit(rows, tags)
        return self

    def choose_weight(
        self,
        X_val: Any,
        mappers: Sequence[tuple[Any, str]],
        val_spaces: dict[str, np.ndarray],
        val_rows: np.ndarray,
        weights: Sequence[float],
        extra_components: Sequence[np.ndarray],
        *,
        candidates: Sequence[float],
        query_set: float = 0.0,
    ) -> float:
        """The candidate weight of the tag score with the best held-out MAP@20 when the
        held-out pictures carry predicted tags (the other weights as chosen; the hubness
        correction, if any, left out); ties keep the earlier candidate. ``val_spaces`` are
        the held-out pictures' spaces without tags; ``extra_components`` start with the true
        tags' score."""
        predicted = self.ridge.predict_proba(val_rows)
        spaces = dict(val_spaces)
        if self.side is not None:  # the predicted scores stand where the indicators were
            scores = self.ridge.align(predicted, self.side.classes_)
            spaces["features"] = with_tag_side(spaces["features"], self.side, None, scores)
        components = [mapper.similarity(X_val, spaces[space]) for mapper, space in mappers]
        tag_rows = self.ridge.align(predicted, self.tag_model.classes_)
        components.append(tag_scores(self.tag_model.predict_proba(X_val), tag_rows))
        components += list(extra_components[1:])
        n = len(mappers)
        values = {}
        for weight in candidates:
            trial = [*weights[:n], weight, *weights[n + 1 :]]
            values[weight] = _quality(dual_softmax(fused_scores(components, trial), query_set))
        return float(max(values, key=values.__getitem__))


def bank_rows(n: int, size: int, seed: int) -> np.ndarray:
    """A seeded, sorted sample of ``size`` of ``n`` training rows (all of them if fewer).

    >>> bank_rows(5, 10, 0).tolist()
    [0, 1, 2, 3, 4]
    """
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def fused_quality(components: Sequence[np.ndarray], weights: Sequence[float]) -> float:
    """MAP@20 of the weighted sum of standardised square score matrices of paired items
    (row ``i``'s match is column ``i``)."""
    standardized = [standardize_rows(np.asarray(c, dtype=np.float64)) for c in components]
    return _weighted_quality(standardized, weights)


def fused_scores(components: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted sum of the standardised score matrices (as the model fuses them)."""
    standardized = [standardize_rows(np.asarray(c, dtype=np.float64)) for c in components]
    return sum(w * s for w, s in zip(weights, standardized, strict=True))


def _quality(scores: np.ndarray) -> float:
    """MAP@20 of a square score matrix of paired items (row ``i``'s match is column ``i``)."""
    return map_at_k(ranks_from_scores(scores, np.arange(len(scores))), 20)


def _weighted_quality(standardized: Sequence[np.ndarray], weights: Sequence[float]) -> float:
    """MAP@20 of the weighted sum of standardised score matrices (-1 when every weight is 0)."""
    total = sum(w * s for w, s in zip(weights, standardized, strict=True) if w)
    if isinstance(total, int):
        return -1.0
    return _quality(total)


def choose_weights(components: Sequence[np.ndarray], grid: Sequence[float]) -> list[float]:
    """Weights (the first fixed at 1) whose sum of standardised scores ranks best (MAP@20).

    ``components`` are square score matrices of paired items (row ``i``'s match is column
    ``i``). Every combination from ``grid`` is tried for up to three free weights; beyond
    that, one weight at a time, twice over. Ties keep the earlier candidate.
    """
    return best_weights(components, grid)[0]


def best_weights(
    components: Sequence[np.ndarray], grid: Sequence[float]
) -> tuple[list[float], float]:
    """:func:`choose_weights` and the MAP@20 its weights reach."""
    standardized = [standardize_rows(np.asarray(c, dtype=np.float64)) for c in components]

    def quality(weights: Sequence[float]) -> float:
        return _weighted_quality(standardized, weights)

    free = len(components) - 1
    if free == 0:
        return [1.0], quality([1.0])
    if free <= 3:
        best, best_value = None, -np.inf
        for combo in itertools.product(grid, repeat=free):
            value = quality([1.0, *combo])
            if value > best_value + 1e-12:
                best, best_value = [1.0, *combo], value
        return [float(w) for w in best], float(best_value)
    weights = [1.0] * len(components)
    for _ in range(2):
        for j in range(1, len(components)):
            values = [quality(weights[:j] + [w] + weights[j + 1 :]) for w in grid]
            weights[j] = float(grid[int(np.argmax(values))])
    return weights, quality(weights)
