"""Exercises of notebook 06 (serving and scale). Context: approx, exact, batch, n_items."""

import numpy as np

from lessons.exercises import Exercise, choice, close_to
from lessons.serving import recall_against

FLOAT_BYTES = 4  # float32
# The batch of the memory exercise. Not the notebook's BATCH: that equals its DIM (32), so the
# size of V (n × d floats) would pass for the size of the logits (B × n).
TRAIN_BATCH = 256


def _logits_mb(batch: int, n_items: int) -> float:
    return batch * n_items * FLOAT_BYTES / 2**20


def _memory_slips(batch: int, n_items: int, dim: int | None = None) -> list[tuple[float, str]]:
    right, unit = _logits_mb(batch, n_items), "the question asks for MiB (2²⁰ bytes)"
    slips = [
        (right * 2**20 / 1e6, f"that is the size in MB (10⁶ bytes); {unit}"),
        (right / 2**10, f"that is the size in GiB; {unit}"),
        (right * 2**20, f"that is the size in bytes; {unit}"),
        (batch * n_items / 2**20, "that counts the floats: each takes 4 bytes"),
    ]
    if dim is not None and dim != batch:
        slips.append((n_items * dim * FLOAT_BYTES / 2**20, "that is the size of V, n × d "
                      "floats; the logits hold one float per (example, item)"))  # fmt: skip
    return slips


def _recall(approx: np.ndarray, exact: np.ndarray) -> float:
    return recall_against(approx, exact)


def _recall_slips(approx: np.ndarray, exact: np.ndarray) -> list[tuple[float, str]]:
    k = np.asarray(exact).shape[1]
    return [(recall_against(approx, exact) * k, f"that is the mean number of shared ids: divide "
             f"it by k = {k} for the share of the exact top-k")]  # fmt: skip


recall = Exercise(
    name="nb06.recall",
    question="`exact` holds the brute-force top-k of each query (one row per query) and `approx` "
    "the IVF index's. Compute the recall of the index: the mean over queries of "
    "|approx_q ∩ exact_q| / k.",
    expected=_recall,
    compare=close_to(rtol=1e-6),
    pitfalls=_recall_slips,
    hints=[
        "Loop over the rows with zip(approx, exact) and count the common ids of each pair.",
        "np.intersect1d(a, e).size counts the common ids; divide the mean by exact.shape[1].",
    ],
    solution_code=(
        "hits = [np.intersect1d(a, e).size for a, e in zip(approx, exact)]\n"
        "answer = np.mean(hits) / exact.shape[1]"
    ),
    explanation="that is lessons.serving.recall_against: the share of the exact top-k found",
)

logits_memory = Exercise(
    name="nb06.logits_memory",
    question="A full-softmax step holds the logits ψ Vᵀ, one float32 (4 bytes) per "
    "(example, item). "
    f"How many MiB (2**20 bytes) do they take for a batch of {TRAIN_BATCH} examples over the "
    "largest catalogue, `max(SIZES)` items?",
    expected=_logits_mb,
    compare=close_to(rtol=1e-3),
    pitfalls=_memory_slips,
    hints=[
        f"The logits matrix has shape ({TRAIN_BATCH}, max(SIZES)).",
        f"{TRAIN_BATCH} * max(SIZES) * 4 bytes, divided by 2**20.",
    ],
    solution_code=f"answer = {TRAIN_BATCH} * max(SIZES) * 4 / 2**20",
    explanation="and autograd keeps about two more tensors of that size (log-softmax and its "
    "gradient): that, not V, bounds the batch of a full softmax over a large catalogue",
)

dense_update = Exercise(
    name="nb06.dense_update",
    question="The sampled step above was first timed with a sparse gradient on V and no optimizer "
    "update. Trained instead with the usual dense `torch.optim.Adam` on V, how does the time of "
    "one sampled-softmax step grow with the catalogue size n?",
    expected=lambda **_: "c",
    compare=choice,
    choices={
        "a": "it stays flat: the loss builds only B × B logits, so nothing else depends on n",
        "b": "like B·n·d: Adam recomputes every item's logit to update V",
        "c": "like n·d: every step touches all n rows of V and of the optimizer's state, not "
        "only the rows of the batch",
        "d": "like B²·d: Adam keeps its moments per pair of examples in the batch",
    },
    why_not={
        "a": "the loss builds only B × B logits, but the step also updates V; look at what the "
        "optimizer does to a parameter of shape (n, d)",
        "b": "Adam computes no logits; it updates each parameter elementwise, from its gradient "
        "and its two moments",
        "d": "Adam's moments have the shape of the parameter, (n, d) for V, not one per pair of "
        "examples",
    },
    hints=[
        "Compare the `Adam` and `none` columns of the update table as n grows tenfold.",
        "How many numbers does Adam read and write per step for a parameter of shape (n, d)?",
    ],
    solution_code='answer = "c"',
    explanation="the sampled loss saves the (B, n) logits, not the update, so a dense update costs "
    "the same order as the full softmax step again; SparseAdam on a sparse gradient "
    "(nn.Embedding(sparse=True)), or a features-only item tower φ (no id embedding) computed for "
    "the batch's items, keeps the whole step independent of n",
)

EXERCISES = (recall, logits_memory, dense_update)

__all__ = ["EXERCISES", "dense_update", "logits_memory", "recall"]
