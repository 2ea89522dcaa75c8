"""Cross-modal retrieval metrics and scorers."""

from ._instance import cross_modal_recall, instance_retrieval_report, mean_rank, median_rank, recall_at_k
from ._plot import plot_precision_recall, plot_precision_scope
from ._ranking import (
    acg_at_k,
    average_precision_scores,
    map_at_r,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_recall_curve,
    r_precision,
    similarity_matrix,
    top_k_similarities,
)
from ._scorer import cross_modal_map, make_map_scorer, make_retrieval_scorer, map_scorers, retrieval_scorers

__all__ = [
    "acg_at_k",
    "average_precision_scores",
    "cross_modal_map",
    "cross_modal_recall",
    "instance_retrieval_report",
    "make_map_scorer",
    "make_retrieval_scorer",
    "map_at_r",
    "map_scorers",
    "mean_average_precision",
    "mean_rank",
    "median_rank",
    "ndcg_at_k",
    "plot_precision_recall",
    "plot_precision_scope",
    "precision_at_k",
    "precision_recall_curve",
    "r_precision",
    "recall_at_k",
    "retrieval_scorers",
    "similarity_matrix",
    "top_k_similarities",
]
