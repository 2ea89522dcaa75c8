"""Data sets for cross-modal retrieval: built-in, real (from a data folder), synthetic."""

from ._loaders import (
    MULTIMODAL_DIFFICULTY,
    MULTIVIEW_DATASETS,
    default_data_home,
    join_digit_halves,
    load_digit_halves,
    load_mfeat,
    load_multiview,
    load_nutrimouse,
    load_wikipedia,
    make_multimodal_classification,
    multimodal_difficulty,
    plot_digit_halves,
)

__all__ = [
    "MULTIMODAL_DIFFICULTY",
    "MULTIVIEW_DATASETS",
    "default_data_home",
    "join_digit_halves",
    "load_digit_halves",
    "load_mfeat",
    "load_multiview",
    "load_nutrimouse",
    "load_wikipedia",
    "make_multimodal_classification",
    "multimodal_difficulty",
    "plot_digit_halves",
]
