"""mAP scorers for GridSearchCV, cross_val_score and friends."""

from __future__ import annotations

from itertools import permutations
from typing import Any, Sequence

import numpy as np

from ._ranking import mean_average_precision

__all__ = ["make_map_scorer", "map_scorers", "cross_modal_map"]


def _final_estimator_and_embeddings(estimator: Any, X: Any):
    """Embed every modality of X; a Pipeline's earlier steps transform X first."""
    from sklearn.pipeline import Pipeline

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


def cross_modal_map(
    embeddings: Sequence[Any],
    labels: Sequence[Any],
    pairs: Sequence[tuple[int, int]] | None = None,
    k: int | None = None,
    metric: str = "cosine",
) -> dict[tuple[int, int], float]:
    """mAP for ordered (query, database) pairs of modalities.

    ``embeddings[c]`` and ``labels[c]`` hold modality ``c``'s embeddings and
    labels. By default every ordered pair ``(i, j)`` with ``i != j``.
    """
    n = len(embeddings)
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
        metric = final._get_retrieval_metric()
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
