"""Package-level utilities."""

from __future__ import annotations

import inspect


def all_estimators() -> list[tuple[str, type]]:
    """Every public skcross estimator class, as ``(name, class)`` pairs.

    Discovered from ``skcross.__all__``, so the common tests cover a new
    estimator as soon as it is exported.
    """
    import skcross
    from skcross.base import CrossModalEstimator

    found = []
    for name in skcross.__all__:
        obj = getattr(skcross, name)
        if inspect.isclass(obj) and issubclass(obj, CrossModalEstimator) and obj is not CrossModalEstimator:
            found.append((name, obj))
    return sorted(found)
