"""The package-wide benchmark runner: ``python -m skcross.benchmarks --help``.

Fits every exported skcross estimator and its peers (scikit-learn ``CCA`` and
``PLSCanonical``, the label-space baseline of Rasiwasia et al.) on the same
splits, tunes each by ``GridSearchCV`` with the mAP scorer on the training
split, and writes ``results.csv`` and its own marked section of ``RESULTS.md``
(the other benchmark scripts keep theirs in the same file).
"""

from ._runner import DATASETS, METHODS, CCAPeer, LabelSpaceBaseline, main, replace_section, run

__all__ = ["DATASETS", "METHODS", "CCAPeer", "LabelSpaceBaseline", "main", "replace_section", "run"]
