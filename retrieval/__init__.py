"""retrieval: find the image that a description talks about.

The main API is here, imported on first use, so ``import retrieval`` itself loads neither
TensorFlow nor Keras:

- :class:`RunConfig`: every choice of a run (``RunConfig.from_toml("configs/default.toml")``);
- :func:`load_competition`: a dataset in the competition's layout;
- :class:`Trainer`: ``Trainer(config).fit(dataset)`` trains a :class:`TrainedModel`;
- :func:`evaluate`: MAP@20, recall@K and nDCG@K of a model on a dataset with answers;
- :class:`Searcher`: text or example-image search over a gallery;
- :func:`load_bundle` / :func:`save_bundle`: a trained model and its gallery on disk;
- :class:`PictureLibrary`: an incremental index of your own folders of pictures.

The package's messages (files skipped, training steps) go to stderr through the
``"retrieval"`` logger (:mod:`retrieval.logs`). ``TF_CPP_MIN_LOG_LEVEL`` is set to 2 unless it
is set already (TensorFlow's CPU-instruction notice goes), and the native runtime's start-up
notes, written before any log level is read, are held back when TensorFlow is first imported
(:mod:`retrieval.native_notes`; ``RETRIEVAL_NATIVE_NOTES=1`` shows them).

Examples
--------
>>> import retrieval
>>> retrieval.__version__
'0.2.0'
>>> retrieval.Searcher.__name__, retrieval.load_competition.__module__
('Searcher', 'retrieval.data._competition')
>>> retrieval.no_such_name
Traceback (most recent call last):
...
AttributeError: module 'retrieval' has no attribute 'no_such_name'
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from retrieval.logs import to_stderr
from retrieval.native_notes import quiet_first_import

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
to_stderr()
quiet_first_import()

__version__ = "0.2.0"

_MAIN_API = {
    "RunConfig": "retrieval.config",
    "load_competition": "retrieval.data",
    "Trainer": "retrieval.core",
    "TrainedModel": "retrieval.core",
    "Searcher": "retrieval.core",
    "load_bundle": "retrieval.core",
    "save_bundle": "retrieval.core",
    "evaluate": "retrieval.evaluation",
    "PictureLibrary": "retrieval.library",
}

__all__ = ["__version__", *_MAIN_API]


def __getattr__(name: str) -> Any:
    """Import a main-API name from its sub-package on first use."""
    module = _MAIN_API.get(name)
    if module is None:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MAIN_API])
