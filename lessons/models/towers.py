"""Building blocks shared by the neural models: the query tower ψ, the item tower φ, an MLP.

Embedding tables start at N(0, 1/d), so a dot product of two rows has variance ≈ 1/d:
the initial softmax is near uniform whatever d is.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from lessons.features import ItemFeatures, QueryBatch

# Re-exported: mf and two_tower import these two from here.
from lessons.models.targets import batch_target, input_mask  # noqa: F401

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}


def check_positive(name: str, value) -> int:
    """`value` as a Python int, or ValueError unless it is a positive integer.

    NumPy integers are accepted (sizes often come from `ds.n_items` arithmetic or an array of
    widths); bools are not, since True would silently mean 1.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_widths(hidden, name: str = "hidden") -> tuple[int, ...]:
    """`hidden` as a tuple of Python ints, or ValueError unless it lists positive widths.

    NumPy integers (e.g. np.array([256, 64])) are accepted like Python ints; a bare int is not,
    since `hidden=64` is a common slip for `hidden=(64,)`.
    """
    if isinstance(hidden, int | np.integer | str) or not all(
        isinstance(h, int | np.integer) and not isinstance(h, bool) and h > 0 for h in hidden
    ):
        raise ValueError(
            f"{name} must be a sequence of positive layer widths like (256, 64), got {hidden!r}"
        )
    return tuple(int(h) for h in hidden)


def init_table(table: torch.Tensor) -> torch.Tensor:
    """Fill an embedding table (rows × d) with N(0, 1/d) in place."""
    with torch.no_grad():
        return table.normal_(0.0, table.shape[1] ** -0.5)


def mlp(
    in_width: int, hidden: Sequence[int], dim: int, activation: str, dropout: float
) -> nn.Module:
    """in_width → hidden[0] → … → dim, with `activation` and dropout after each hidden layer.

    With no hidden layers the map is the identity when in_width == dim (then a query tower
    over a bag alone is the mean of the bag's item embeddings), and a single affine layer
    W x + b otherwise.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {tuple(ACTIVATIONS)}")
    hidden = check_widths(hidden)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
    if not hidden and in_width == dim:
        return nn.Identity()
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_width, width), ACTIVATIONS[activation]()]
        layers += [nn.Dropout(dropout)] if dropout > 0 else []
        in_width = width
    return nn.Sequential(*layers, nn.Linear(in_width, dim))


def gather_bags(bag: torch.Tensor, offsets: torch.Tensor, rows: torch.Tensor):
    """(bag, offsets) of the selected `rows` of a bag list, with index ops only (no loop)."""
    ends = torch.cat([offsets[1:], offsets.new_tensor([bag.numel()])])
    lengths = (ends - offsets)[rows]
    new_offsets = torch.cumsum(lengths, 0) - lengths
    shift = torch.repeat_interleave(offsets[rows] - new_offsets, lengths)  # source - destination
    return bag[torch.arange(shift.numel(), device=bag.device) + shift], new_offsets


MAX_IN_BATCH = 8192  # examples per in-batch softmax: its (P, P) logits take P² floats


def in_batch_examples(
    positive: torch.Tensor, known: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The examples of an in-batch softmax: one per (row, positive item) pair.

    Args:
        positive: Bool (B, n_items), the rows' target items.
        known: Bool (B, n_items), other known positives of each row (its input items).

    Returns:
        rows (P,), items (P,) of the P pairs (row-major), and the bool (P, P) mask of
        columns left out of each example's softmax: column c for example r when c's item is
        a known positive (target or input) of r's row — a duplicate of r's own item, or
        another of its targets — never the diagonal.

    Raises:
        ValueError: When P > MAX_IN_BATCH (use fewer users per batch).
    """
    rows, items = positive.nonzero(as_tuple=True)
    if rows.numel() > MAX_IN_BATCH:
        raise ValueError(
            f"this batch has {rows.numel()} (user, target) pairs; the in-batch softmax "
            f"takes at most {MAX_IN_BATCH} (its logits are pairs²): lower batch_size (users "
            "per batch, e.g. 32) or target_share"
        )
    exclude = (known | positive).index_select(1, items).index_select(0, rows)  # (P, P)
    return rows, items, exclude.fill_diagonal_(False)


class _BagMean(torch.autograd.Function):
    """x_u = mean_{j∈bag_u} E_j, the forward of nn.EmbeddingBag(mode="mean"), faster backward.

    ∂L/∂E_j = Σ_{u: j∈bag_u} g_u / |bag_u|. EmbeddingBag's backward sorts the ids with torch.sort
    (about 0.4 ms for a batch's 9k ids) and then adds serially; here numpy's radix argsort of
    16-bit ids groups the entries by item (0.1 ms) and one embedding_bag(mode="sum") over the
    rows g_u / |bag_u| sums each item's group, in parallel over items (2× faster in all).
    """

    @staticmethod
    def forward(ctx, weight, bag, offsets, lengths):
        ctx.save_for_backward(bag, lengths)
        ctx.n_rows = weight.shape[0]
        return nn.functional.embedding_bag(bag, weight, offsets, mode="mean")

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        bag, lengths = ctx.saved_tensors
        ids = bag.numpy()
        ids = ids.astype(np.uint16) if ctx.n_rows <= 2**16 else ids  # 16 bits: a radix sort
        order = torch.from_numpy(np.argsort(ids, kind="stable"))
        rows = torch.repeat_interleave(lengths).index_select(0, order)  # grouped by item
        counts = torch.bincount(bag, minlength=ctx.n_rows)
        scaled = grad / lengths[:, None].to(grad.dtype)
        table = nn.functional.embedding_bag(rows, scaled, torch.cumsum(counts, 0) - counts,
                                            mode="sum")  # fmt: skip
        return table, None, None, None


class QueryTower(nn.Module):
    """Query tower ψ: x = [mean_{j∈bag} E_j ‖ A_age ‖ G_gender ‖ O_occ ‖ dense] → MLP → ψ(x) ∈ R^d.

    Shapes: bag (nnz,), offsets (B,) -> mean bag embedding (B, e) (e = embedding_dim,
    default d); side (B, 3) -> 3 × (B, side_dim); dense (B, n_dense);
    x (B, e + 3·side_dim + n_dense); ψ (B, d).
    The bag is an nn.EmbeddingBag(mode="mean") (its table, with a faster backward: `_BagMean`):
    the cost grows with the number of interactions, never with n_users × n_items.
    `input_dropout` zeroes random coordinates of x (rescaling the rest by 1/(1 − p)) in
    training mode only: a regularizer on the input layer. It drops coordinates, not history
    items, and rescales the dense features like the rest.
    Side/dense features of a batch are read only when the tower was built for them.
    """

    def __init__(self, n_items: int, dim: int = 64, hidden: Sequence[int] = (256,),
                 activation: str = "relu", dropout: float = 0.0,
                 side_cardinalities: Sequence[int] | None = None, n_dense: int = 0,
                 side_dim: int = 8, input_dropout: float = 0.0,
                 embedding_dim: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.n_items, self.dim = check_positive("n_items", n_items), check_positive("dim", dim)
        if isinstance(n_dense, bool) or not isinstance(n_dense, int | np.integer) or n_dense < 0:
            raise ValueError(f"n_dense must be an integer >= 0, got {n_dense!r}")
        n_dense = int(n_dense)
        if isinstance(input_dropout, bool) or not 0 <= input_dropout < 1:
            raise ValueError(f"input_dropout must lie in [0, 1), got {input_dropout!r}")
        cards = () if side_cardinalities is None else side_cardinalities  # `or` fails on arrays
        cards = tuple(check_positive("side cardinality", c) for c in cards)
        e = self.dim if embedding_dim is None else check_positive("embedding_dim", embedding_dim)
        self.bag = nn.EmbeddingBag(self.n_items, e, mode="mean")
        init_table(self.bag.weight)
        side_dim = check_positive("side_dim", side_dim)
        self.side = nn.ModuleList(nn.Embedding(c, side_dim) for c in cards)
        self.n_dense = n_dense
        self.register_buffer(
            "cardinalities", torch.tensor(cards, dtype=torch.long), persistent=False
        )
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        in_width = e + len(cards) * side_dim + n_dense
        self.mlp = mlp(in_width, hidden, self.dim, activation, dropout)

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        bag, offsets = batch.bag, batch.offsets
        if offsets.ndim != 1 or offsets.numel() == 0:
            raise ValueError("the batch has no rows; skip empty batches")
        lengths = torch.diff(offsets, append=offsets.new_tensor([bag.numel()]))
        if (lengths <= 0).any():
            rows = torch.nonzero(lengths <= 0).ravel()[:5].tolist()
            raise ValueError(
                f"rows {rows} have an empty history bag; this model reads the history, "
                "so give every query at least one item (or drop those rows)"
            )
        low, high = (int(v) for v in torch.aminmax(bag))
        if low < 0 or high >= self.n_items:
            raise ValueError(f"history item ids must lie in [0, {self.n_items}), got "
                             f"{low}..{high}")  # fmt: skip
        parts = [_BagMean.apply(self.bag.weight, bag, offsets, lengths)]  # self.bag's, (B, e)
        if len(self.side):
            side = batch.side
            if side is None or side.shape != (offsets.numel(), len(self.side)):
                raise ValueError(
                    f"this tower reads side features: batch.side must be (B, {len(self.side)}) "
                    "(make_batch(..., use_side=True) on a dataset with demographics)"
                )
            if (side < 0).any() or (side >= self.cardinalities).any():
                raise ValueError(
                    f"side indices out of range; cardinalities are {self.cardinalities.tolist()}"
                )
            parts += [emb(side[:, i]) for i, emb in enumerate(self.side)]  # 3 × (B, side_dim)
        if self.n_dense:
            if batch.dense is None or batch.dense.shape != (offsets.numel(), self.n_dense):
                raise ValueError(
                    f"this tower reads {self.n_dense} dense features: batch.dense must be "
                    f"(B, {self.n_dense}) (make_batch(..., use_dense=True))"
                )
            parts.append(batch.dense)  # (B, n_dense)
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return self.mlp(self.input_dropout(x))  # (B, d)


class ItemTower(nn.Module):
    """Item tower φ: x_j = [G g_j ‖ Y_date(j) ‖ mean_{w∈title_j} W_w ‖ I_j] → MLP → φ(x_j) ∈ R^d.

    g_j is the genre multi-hot and G a bias-free linear map (the sum of j's genre vectors);
    Y the release-date bucket embedding (`ItemFeatures.year_bucket`); W the title-word
    embeddings (use_title=True); I the item-id embedding (use_item_id=True). Each part is
    feature_dim wide. Shapes: genres (n, n_genres) -> (n, f); date, title, id (n, f) each;
    x (n, k·f) for k parts; φ (n, d).
    With use_item_id=False, φ_j is a function of j's features alone, so it embeds items
    never seen in training (cold start); items with identical features get identical
    embeddings. Title words are off by default: on MovieLens 100K's cold splits they lowered
    NDCG@10 in every run measured (split seeds 0-2, 20 and 40 epochs; notebook 04).
    """

    def __init__(self, item_features: ItemFeatures, dim: int = 64, hidden: Sequence[int] = (),
                 use_item_id: bool = True, n_items: int | None = None, activation: str = "relu",
                 dropout: float = 0.0, feature_dim: int = 32,
                 use_title: bool = False) -> None:  # fmt: skip
        super().__init__()
        f, n = item_features, item_features.n_items
        if n_items is not None and n_items != n:
            raise ValueError(f"item_features describe {n} items but n_items={n_items}")
        self.n_items, dim = n, check_positive("dim", dim)
        width = check_positive("feature_dim", feature_dim)
        for name in ("genres", "year_bucket", "title_bag", "title_offsets"):
            self.register_buffer(name, getattr(f, name), persistent=False)
        self.genre = nn.Linear(f.genres.shape[1], width, bias=False)
        self.year = nn.Embedding(f.n_year_buckets, width)
        init_table(self.year.weight)
        self.title = None
        if use_title:
            self.title = nn.EmbeddingBag(max(1, len(f.vocabulary)), width, mode="mean")
            init_table(self.title.weight)
        self.item_id = nn.Parameter(init_table(torch.empty(n, width))) if use_item_id else None
        n_parts = 2 + (self.title is not None) + (self.item_id is not None)
        self.mlp = mlp(n_parts * width, hidden, dim, activation, dropout)

    def forward(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """φ of `items` (ids, (m,)), or of every item when None; shape (m or n_items, d)."""
        if items is None:
            items = torch.arange(self.n_items, device=self.genres.device)
        elif items.ndim != 1 or (
            items.numel() and (items.min() < 0 or items.max() >= self.n_items)
        ):
            raise ValueError(f"item ids must be a 1-D tensor of ids in [0, {self.n_items})")
        parts = [self.genre(self.genres[items]), self.year(self.year_bucket[items])]  # (m, f)
        if self.title is not None:
            bag, offsets = gather_bags(self.title_bag, self.title_offsets, items)
            parts.append(self.title(bag, offsets))  # (m, f)
        if self.item_id is not None:
            parts.append(self.item_id[items])  # (m, f)
        return self.mlp(torch.cat(parts, dim=1))  # (m, d)
