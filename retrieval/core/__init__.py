"""The retrieval core: a trained model as plain data, the trainer that builds it, the searcher.

- :class:`TrainedModel`: text encoder, image branch, mappers, tag model; NumPy scoring.
- :class:`Trainer`: a :class:`~retrieval.config.RunConfig` and paired data -> a ``TrainedModel``.
- :class:`Gallery`: the images searched; :class:`Searcher` searches one with a model (a
  :class:`GallerySearcher`, the protocol that every searcher follows).
- :func:`search_combined`: texts and example pictures added to or taken from one query.
- :func:`save_bundle` / :func:`load_bundle`: a model and its default gallery on disk.

Examples
--------
>>> from retrieval.config import RunConfig                        # doctest: +SKIP
>>> model = Trainer(RunConfig()).fit(train)                       # doctest: +SKIP
>>> Searcher(model, model.gallery_from_dataset(test)).search("a red apple")  # doctest: +SKIP
"""

from retrieval.core.bundle import load_bundle, save_bundle
from retrieval.core.combined import QueryTerm, check_terms, combined_scores, search_combined
from retrieval.core.gallery import CODE, Gallery
from retrieval.core.model import Member, TrainedModel
from retrieval.core.searcher import SCALE, GallerySearcher, Searcher, SearchHit
from retrieval.core.trainer import Trainer, choose_weights

__all__ = [
    "CODE",
    "SCALE",
    "Gallery",
    "Member",
    "QueryTerm",
    "SearchHit",
    "GallerySearcher",
    "Searcher",
    "TrainedModel",
    "Trainer",
    "check_terms",
    "choose_weights",
    "combined_scores",
    "load_bundle",
    "save_bundle",
    "search_combined",
]
