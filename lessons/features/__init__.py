"""Turn a `Dataset` / `Split` into the tensors the neural models read.

`query`: the query containers and the side and dense features of users (ψ's input x).
`batches`: history bags and targets as batches, ad-hoc queries, and the leak-free
input/target split; `epochs`: that split drawn for a whole epoch at once (`EpochSampler`, what
`fit` trains on). `items`: genre, release-date bucket and title-word features of every item
(the item tower φ's input x_item), and the content vectors of the content-based baseline.
"""

from lessons.features.batches import ad_hoc_query, make_batch, split_history
from lessons.features.items import (
    DATE_SCHEMES,
    YEAR_EDGES,
    ItemFeatures,
    item_content,
    item_features,
    release_buckets,
)
from lessons.features.query import (
    AGE_BUCKETS,
    DENSE_COLUMNS,
    DENSE_SCALE,
    GENDERS,
    QueryBatch,
    QueryFeatures,
    age_bucket,
    query_features,
)

__all__ = [
    "AGE_BUCKETS", "DATE_SCHEMES", "DENSE_COLUMNS", "DENSE_SCALE", "GENDERS", "YEAR_EDGES",
    "ItemFeatures", "QueryBatch", "QueryFeatures", "ad_hoc_query", "age_bucket", "item_content",
    "item_features", "make_batch", "query_features", "release_buckets", "split_history",
]  # fmt: skip
