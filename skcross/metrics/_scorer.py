"""Retrieval scorers for GridSearchCV, cross_val_score and friends."""

from __future__ import annotations

from itertools import permutations
from typing import Any, Sequence

import numpy as np

from . import _instance, _ranking
from ._ranking import mean_average_precision

__all__ = ["make_map_scorer", "map_scorers", "cross_modal_map", "make_retrieval_scorer", "retrieval_scorers"]


def _final_estimator_and_embeddings(estimator: Any, X: Any):
    """Embed every modality of X; a Pipeline's earlier steps transform X first.

    A fitted search (GridSearchCV, RandomizedSearchCV, ...) is scored through
    its refitted ``best_estimator_``, so that nested cross-validation
    (``cross_val_score(GridSearchCV(...), scoring=make_map_scorer())``) works.
    """
    from sklearn.pipeline import Pipeline

    while not hasattr(estimator, "embed") and hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if isinstance(estimator, Pipeline):
        Xt = estimator[:-1].transform(X) if len(estimator) > 1 else X
        estimator = estimator[-1]
    else:
        Xt = X
    if not hasattr(estimator, "embed"):
        raise TypeError(
            f"{type(estimator).__name__} is not a skcross estimator: the mAP scorers "
            "need a fitted cross-modal estimator (or a Pipeline ending in one)."
        )
    return estimator, estimator.embed(Xt)


def _retrieval_metric(final: Any) -> str:
    get = getattr(final, "_get_retrieval_metric", None)
    return get() if get is not None else "cosine"


def cross_modal_map(
    embeddings: Sequence[Any],
    labels: Sequence[Any],
    pairs: Sequence[tuple[int, int]] | None = None,
    k: int | None = None,
    metric: str = "cosine",
) -> dict[tuple[int, int], float]:
    """mAP for ordered (query, database) pairs of modalities.

    ``embeddings[c]`` and ``labels[c]`` hold modality ``c``'s embeddings and
    labels. By default every ordered pair ``(i, j)`` with ``i != j``. Ties
    are averaged (see :func:`mean_average_precision`).

    Examples
    --------
    >>> import numpy as np
    >>> from skcross.metrics import cross_modal_map
    >>> x, y = np.eye(2), [0, 1]
    >>> cross_modal_map([x, x], [y, y])
    {(0, 1): 1.0, (1, 0): 1.0}
    """
    n = len(embeddings)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} modalities of embeddings.")
    if pairs is None:
        pairs = list(permutations(range(n), 2))
    return {
        (i, j): mean_average_precision(
            embeddings[i], embeddings[j], labels[i], labels[j], k=k, metric=metric
        )
        for i, j in pairs
    }


class _MapScorer:
    """Picklable scorer: mAP of ``query`` modality retrieving ``target`` (or the mean)."""

    def __init__(self, query: Any = 0, target: Any = 1, k: int | None = None, mean: bool = False):
        self.query = query
        self.target = target
        self.k = k
        self.mean = mean

    def __call__(self, estimator: Any, X: Any, y: Any, **kwargs: Any) -> float:
        final, emb = _final_estimator_and_embeddings(estimator, X)
        metric = _retrieval_metric(final)
        arrays = emb.modalities()
        labels = [y] * len(arrays)
        if self.mean:
            return float(np.mean(list(cross_modal_map(arrays, labels, k=self.k, metric=metric).values())))
        q, t = emb.index(self.query), emb.index(self.target)
        if q == t:
            raise ValueError("query and target must be different modalities.")
        return mean_average_precision(arrays[q], arrays[t], y, y, k=self.k, metric=metric)

    def __repr__(self) -> str:
        if self.mean:
            return f"make_map_scorer(mean=True, k={self.k})"
        return f"make_map_scorer(query={self.query!r}, target={self.target!r}, k={self.k})"


def make_map_scorer(query: Any = 0, target: Any = 1, k: int | None = None, mean: bool = False) -> _MapScorer:
    """A scorer ``scorer(estimator, X, y) -> float`` for model selection.

    It embeds the held-out multi-modal ``X`` with the fitted estimator and returns
    the mAP of ``query``-modality items retrieving ``target``-modality items
    (relevant when they share a label in ``y``). Use it as ``scoring=`` in
    ``GridSearchCV`` or ``cross_val_score``.

    Parameters
    ----------
    query, target : int or str, default=0, 1
        Modalities by position or name.
    k : int, default=None
        mAP@k instead of mAP over the full ranking.
    mean : bool, default=False
        Score the mean mAP over all ordered pairs of modalities instead.

    Examples
    --------
    >>> from skcross.metrics import make_map_scorer
    >>> make_map_scorer("image", "text")
    make_map_scorer(query='image', target='text', k=None)
    """
    return _MapScorer(query=query, target=target, k=k, mean=mean)


def map_scorers(modalities: int | Sequence[str], k: int | None = None) -> dict[str, _MapScorer]:
    """One scorer per ordered pair of modalities, plus ``"map_mean"``.

    For multi-metric search: ``GridSearchCV(..., scoring=map_scorers(["image",
    "text"]), refit="map_mean")``. Keys are ``"map_<query>_to_<target>"``.

    Examples
    --------
    >>> from skcross.metrics import map_scorers
    >>> sorted(map_scorers(["img", "txt"]))
    ['map_img_to_txt', 'map_mean', 'map_txt_to_img']
    """
    if isinstance(modalities, (int, np.integer)):
        keys: list = list(range(int(modalities)))
    else:
        keys = list(modalities)
    if len(keys) < 2:
        raise ValueError("map_scorers needs at least two modalities.")
    scorers = {
        f"map_{q}_to_{t}": _MapScorer(query=q, target=t, k=k)
        for q, t in permutations(keys, 2)
    }
    scorers["map_mean"] = _MapScorer(k=k, mean=True)
    return scorers


# name -> (function, needs labels, sign): rank metrics are negated so that
# greater is better, as scikit-learn's model selection expects.
_RETRIEVAL_METRICS = {
    "map": ("mean_average_precision", True, 1.0),
    "precision_at_k": ("precision_at_k", True, 1.0),
    "map_at_r": ("map_at_r", True, 1.0),
    "r_precision": ("r_precision", True, 1.0),
    "ndcg_at_k": ("ndcg_at_k", True, 1.0),
    "acg_at_k": ("acg_at_k", True, 1.0),
    "recall_at_k": ("recall_at_k", False, 1.0),
    "neg_median_rank": ("median_rank", False, -1.0),
    "neg_mean_rank": ("mean_rank", False, -1.0),
}
_ALIASES = {
    "mean_average_precision": "map",
    "ndcg": "ndcg_at_k",
    "acg": "acg_at_k",
    "recall": "recall_at_k",
    "median_rank": "neg_median_rank",
    "mean_rank": "neg_mean_rank",
}


def _metric_key(metric: Any) -> str:
    if isinstance(metric, str):
        key = _ALIASES.get(metric, metric)
        if key in _RETRIEVAL_METRICS:
            return key
    names = sorted(set(_RETRIEVAL_METRICS) | set(_ALIASES))
    raise ValueError(f"metric must be one of {names}, got {metric!r}.")


class _RetrievalScorer:
    """Picklable scorer: one retrieval metric of ``query`` retrieving ``target``
    (or its mean over all ordered pairs of modalities)."""

    def __init__(self, metric: str, query: Any = 0, target: Any = 1, mean: bool = False, kwargs: dict | None = None):
        self.metric = metric
        self.query = query
        self.target = target
        self.mean = mean
        self.kwargs = dict(kwargs or {})

    def _one(self, Q, D, y, metric):
        name, needs_labels, sign = _RETRIEVAL_METRICS[self.metric]
        kwargs = {"metric": metric, **self.kwargs}
        if needs_labels:
            if y is None:
                raise ValueError(f"The {self.metric!r} scorer needs labels y; got y=None.")
            value = getattr(_ranking, name)(Q, D, y, y, **kwargs)
        else:
            value = getattr(_instance, name)(Q, D, **kwargs)
        return sign * float(np.mean(value))

    def __call__(self, estimator: Any, X: Any, y: Any = None, **kwargs: Any) -> float:
        final, emb = _final_estimator_and_embeddings(estimator, X)
        metric = _retrieval_metric(final)
        arrays = emb.modalities()
        if self.mean:
            return float(np.mean([self._one(arrays[i], arrays[j], y, metric) for i, j in permutations(range(len(arrays)), 2)]))
        q, t = emb.index(self.query), emb.index(self.target)
        if q == t:
            raise ValueError("query and target must be different modalities.")
        return self._one(arrays[q], arrays[t], y, metric)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        if self.mean:
            return f"make_retrieval_scorer({self.metric!r}, mean=True{extra})"
        return f"make_retrieval_scorer({self.metric!r}, query={self.query!r}, target={self.target!r}{extra})"


def make_retrieval_scorer(
    metric: str, query: Any = 0, target: Any = 1, *, mean: bool = False, **kwargs: Any
) -> _RetrievalScorer:
    """A scorer ``scorer(estimator, X, y) -> float`` for any retrieval metric.

    It embeds the held-out multi-modal ``X`` with the fitted estimator (or a
    Pipeline ending in one) and scores ``query``-modality items retrieving
    ``target``-modality items, by the estimator's retrieval similarity.

    Parameters
    ----------
    metric : str
        "map" (:func:`mean_average_precision`), "precision_at_k",
        "map_at_r", "r_precision", "ndcg_at_k", "acg_at_k" (these need labels
        ``y``), or the label-free instance-level "recall_at_k" (mean over its
        ``ks``), "neg_median_rank", "neg_mean_rank" (ranks negated, so that
        greater is better); "median_rank" and "mean_rank" are accepted for the
        negated ones.
    query, target : int or str, default=0, 1
        Modalities by position or name.
    mean : bool, default=False
        Score the mean over all ordered pairs of modalities instead.
    **kwargs
        Passed to the metric function (``k=50``, ``ties="stable"``,
        ``protocol="sdml"``, ``ks=(1, 5)``, ...). ``precision_at_k`` needs an
        int ``k`` here.

    Examples
    --------
    >>> from skcross.metrics import make_retrieval_scorer
    >>> make_retrieval_scorer("ndcg_at_k", "image", "text", k=50)
    make_retrieval_scorer('ndcg_at_k', query='image', target='text', k=50)
    """
    key = _metric_key(metric)
    if key == "precision_at_k" and not isinstance(kwargs.get("k"), (int, np.integer)):
        raise ValueError("make_retrieval_scorer('precision_at_k') needs an int k, e.g. k=10.")
    if not isinstance(mean, bool):
        raise TypeError(f"mean must be a bool, got {type(mean).__name__}.")
    return _RetrievalScorer(key, query=query, target=target, mean=mean, kwargs=kwargs)


def retrieval_scorers(
    metrics: str | Sequence[str], modalities: int | Sequence[str], **kwargs: Any
) -> dict[str, _RetrievalScorer]:
    """Scorers for multi-metric search: every metric, for every ordered pair of
    modalities and their mean.

    Keys are ``"<metric>_<query>_to_<target>"`` and ``"<metric>_mean"``; use
    ``GridSearchCV(..., scoring=retrieval_scorers(["map", "recall_at_k"],
    ["image", "text"]), refit="map_mean")``. ``kwargs`` go to every metric, so
    give metric-specific options with :func:`make_retrieval_scorer` instead.

    Examples
    --------
    >>> from skcross.metrics import retrieval_scorers
    >>> sorted(retrieval_scorers(["map", "median_rank"], ["img", "txt"]))  # doctest: +NORMALIZE_WHITESPACE
    ['map_img_to_txt', 'map_mean', 'map_txt_to_img', 'neg_median_rank_img_to_txt',
     'neg_median_rank_mean', 'neg_median_rank_txt_to_img']
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError("metrics is empty.")
    if isinstance(modalities, (int, np.integer)):
        keys: list = list(range(int(modalities)))
    else:
        keys = list(modalities)
    if len(keys) < 2:
        raise ValueError("retrieval_scorers needs at least two modalities.")
    scorers: dict[str, _RetrievalScorer] = {}
    for name in names:
        key = _metric_key(name)
        for q, t in permutations(keys, 2):
            scorers[f"{key}_{q}_to_{t}"] = make_retrieval_scorer(key, q, t, **kwargs)
        scorers[f"{key}_mean"] = make_retrieval_scorer(key, mean=True, **kwargs)
    return scorers
