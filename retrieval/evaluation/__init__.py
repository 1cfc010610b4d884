"""Evaluate trained models on descriptions whose true image is known, and compare methods fairly.

- :func:`evaluate`: rank a dataset's images for each of its descriptions, with every metric
  of :data:`retrieval.metrics.METRIC_NAMES` and the gallery size.
- :mod:`retrieval.evaluation.protocol`: cross-validation on train parts, bootstrap intervals
  and paired tests on test parts (the quality study's protocol);
- :mod:`retrieval.evaluation.study` and :mod:`retrieval.evaluation.candidates`: the study that
  ``benchmarks/bench_quality.py`` runs, its cache of cross-validated scores and its candidates.

Examples
--------
>>> result = evaluate(model, held_out)          # doctest: +SKIP
>>> print(format_metrics(result.metrics, gallery_size=result.gallery_size))  # doctest: +SKIP
"""

from retrieval.evaluation._evaluate import Evaluation, evaluate, format_metrics

__all__ = ["Evaluation", "evaluate", "format_metrics"]
