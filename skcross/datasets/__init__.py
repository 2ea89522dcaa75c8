"""Data sets for cross-modal retrieval: built-in, real (from a data folder), synthetic."""

from ._loaders import (
    default_data_home,
    join_digit_halves,
    load_digit_halves,
    load_mfeat,
    load_nutrimouse,
    load_wikipedia,
    make_multimodal_classification,
    plot_digit_halves,
)

__all__ = [
    "default_data_home",
    "join_digit_halves",
    "load_digit_halves",
    "load_mfeat",
    "load_nutrimouse",
    "load_wikipedia",
    "make_multimodal_classification",
    "plot_digit_halves",
]
