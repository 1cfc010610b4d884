"""Learned models, all scikit-learn estimators: the image branch, the mappers, tags, feedback.

- :mod:`~retrieval.models.autoencoder` and :mod:`~retrieval.models.image_code`: pool5 -> code.
- :mod:`~retrieval.models.mappers`: the one interface for matching text to images, and the
  classical mappers (ridge, reverse ridge, kernel ridge, PLS, CCA);
  :mod:`~retrieval.models.neural`: the learned Keras mapping and its losses
  (:mod:`~retrieval.models.losses`).
- :mod:`~retrieval.models.tags`: tags from text; :mod:`~retrieval.models.feedback`: relevance
  feedback from yes/no votes.

Import the modules directly; this package imports none of them, so loading it does not start Keras
(:func:`load_keras` reads a network saved by ``save_keras``, importing Keras when called).
"""

from retrieval.models._keras_files import load_keras

__all__ = ["load_keras"]
