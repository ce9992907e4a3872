"""Ranking and popularity metrics, vectorized over all users.

`top_k` turns scores into item lists; the `*_at_k` functions score those lists against
held-out items or training popularity; `evaluate` does both for a `Split` in one call.
"""

from lessons.metrics.evaluate import (
    DEFAULT_METRICS,
    METRIC_NAMES,
    chance_recall,
    evaluate,
    evaluate_dict,
    parse_metrics,
)
from lessons.metrics.popularity import (
    aplt_at_k,
    arp_at_k,
    coverage_at_k,
    exposure_counts,
    gini_at_k,
    popularity_bins,
    popularity_order,
    reach_at_k,
    recall_by_popularity_decile,
    short_head,
)
from lessons.metrics.ranking import (
    hit_rate_at_k,
    hits_matrix,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    recall_at_k_capped,
)
from lessons.metrics.topk import PAD, top_k, validate_topk

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_NAMES",
    "PAD",
    "aplt_at_k",
    "arp_at_k",
    "chance_recall",
    "coverage_at_k",
    "evaluate",
    "evaluate_dict",
    "exposure_counts",
    "gini_at_k",
    "hit_rate_at_k",
    "hits_matrix",
    "map_at_k",
    "ndcg_at_k",
    "parse_metrics",
    "popularity_bins",
    "popularity_order",
    "precision_at_k",
    "reach_at_k",
    "recall_at_k",
    "recall_at_k_capped",
    "recall_by_popularity_decile",
    "short_head",
    "top_k",
    "validate_topk",
]
