"""The one entry point of feature extraction: the local engine or the Ray engine.

It sits above both (:mod:`retrieval.features.ray_engine` builds on the local engine's
pieces), so that neither imports the other's caller.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from retrieval.features._extract import ExtractionResult
from retrieval.features._extract import extract_features as extract_locally


def extract_features(
    paths: Sequence[str | os.PathLike[str]],
    *,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    **options: Any,
) -> ExtractionResult:
    """Features of ``paths``; bad files are skipped and listed in ``failures``.

    ``engine="local"`` (the default) extracts in this process with decoding workers;
    ``engine="ray"`` runs the same decoding and network on a Ray cluster, with the same rows.

    ``model`` names the network (``retrieval.features.networks.NETWORKS``): ResNet-50
    (pool5, and ``fc1000`` logits when asked) or EfficientNet-Lite0/1/2 (the 1280-d pooled
    features, and its 1000 ImageNet logits in ``result.fc1000`` when ``fc1000``).
    ``network`` runs another :class:`ImageNetwork` instead (e.g. CLIP's image tower): its rows
    come back in ``result.pool5``, and ``weights``, ``seed``, ``precision`` do not apply.

    With ``cache_dir``, features are kept per file (keyed by path, size and mtime): a re-run
    extracts only new or changed files, and an interrupted run resumes. With ``out`` (a
    ``.npy`` path), pool5 rows are written to that file instead of held in memory, so peak
    memory does not grow with the number of pictures; ``result.pool5`` then maps it.

    Speed settings (none changes which rows come back): ``batch_size`` pictures per compiled
    model call (default 256 with an accelerator, 32 on CPUs); ``workers`` decoding workers
    (default all cores but one with an accelerator, a quarter of them on CPUs); ``decoder``
    ``"process"``, ``"thread"`` or ``"auto"`` (processes unless there are only a couple of
    batches to do); ``prefetch`` batches decoded ahead (default ``max(2, workers)``, at most 8);
    ``jit_compile`` as in Keras (``"auto"``: XLA under JAX, and under TensorFlow with an
    accelerator). ``precision="bfloat16"`` runs the convolutions in mixed bfloat16 (cosine to
    float32 features about 0.99999). ``draft=False`` decodes JPEGs at full size first, exactly as
    :func:`load_picture` does by default; draft decoding differs by a few grey levels on
    pictures at least twice the model's input.

    On Ray (:mod:`retrieval.features.ray_engine`): ``address`` is ``auto``, ``HOST:PORT`` or
    ``ray://...`` (None: ``$RAY_ADDRESS``, else a cluster started for the call), ``actors``
    the copies of the network. It resumes by shards
    (:func:`~retrieval.features.shards.write_shards`), so ``cache_dir`` and a given
    ``network`` object do not apply (CLIP is ``model="clip:PRESET"``), nor do the local
    decoders' ``workers``, ``decoder`` and ``prefetch``.
    """
    if engine == "ray":
        from retrieval.features.ray_engine import extract_features_on_ray

        return extract_features_on_ray(paths, address=address, actors=actors, **options)
    if engine != "local":
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    return extract_locally(paths, **options)
