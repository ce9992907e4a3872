"""The recommenders of the lessons, as pure `torch.nn.Module`s with one shared surface.

Every model offers `query_embedding(batch)` (ψ, (B, d)), `item_embeddings()` (V, (n_items, d)),
`forward(batch)` (logits ψVᵀ, (B, n_items)), `loss(batch)` (scalar) and `uses_history`
(True: the query is a history bag; False: it is the user id). A model with an item bias b
(MF's and SoftmaxDNN's `item_bias`) returns [ψ, 1] (B, d + 1) and [V, b] (n_items, d + 1),
so that their product is still exactly the logits ψVᵀ + b. Training, evaluation and
recommendation (`lessons.train`, `lessons.recommend`) therefore work with any of them.
No optimizer, I/O or plotting lives here.
"""

from lessons.models.mf import MatrixFactorization
from lessons.models.softmax_dnn import SoftmaxDNN
from lessons.models.towers import ItemTower, QueryTower
from lessons.models.two_tower import TwoTower

__all__ = ["ItemTower", "MatrixFactorization", "QueryTower", "SoftmaxDNN", "TwoTower"]
