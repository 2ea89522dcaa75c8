"""The package-wide benchmark runner: ``python -m skcross.benchmarks --help``.

Fits every exported skcross estimator and its peers (scikit-learn ``CCA`` and
``PLSCanonical``, the label-space baseline of Rasiwasia et al.) on the same
splits, tunes each by ``GridSearchCV`` with the mAP scorer on the training
split, and writes ``RESULTS.md`` and ``results.csv``.
"""

from ._runner import DATASETS, METHODS, CCAPeer, LabelSpaceBaseline, main, run

__all__ = ["DATASETS", "METHODS", "CCAPeer", "LabelSpaceBaseline", "main", "run"]
