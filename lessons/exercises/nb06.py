"""Exercises of notebook 06 (serving and scale). Context: approx, exact, batch, n_items."""

import numpy as np

from lessons.exercises import Exercise, choice, close_to
from lessons.serving import recall_against

FLOAT_BYTES = 4  # float32


def _logits_mb(batch: int, n_items: int) -> float:
    return batch * n_items * FLOAT_BYTES / 2**20


def _recall(approx: np.ndarray, exact: np.ndarray) -> float:
    return recall_against(approx, exact)


recall = Exercise(
    name="nb06.recall",
    question="`exact` holds the brute-force top-k of each query (one row per query) and `approx` "
    "the IVF index's. Compute the recall of the index: the mean over queries of "
    "|approx_q ∩ exact_q| / k.",
    expected=_recall,
    compare=close_to(rtol=1e-6),
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
    "How many MiB (2**20 bytes) do they take for a batch of `BATCH` examples over the largest "
    "catalogue, `max(SIZES)` items?",
    expected=_logits_mb,
    compare=close_to(rtol=1e-3),
    hints=[
        "The logits matrix has shape (BATCH, max(SIZES)).",
        "BATCH * max(SIZES) * 4 bytes, divided by 2**20.",
    ],
    solution_code="answer = BATCH * max(SIZES) * 4 / 2**20",
    explanation="and autograd keeps about two more tensors of that size (log-softmax and its "
    "gradient): that, not V, bounds the batch of a full softmax over a large catalogue",
)

in_batch_bias = Exercise(
    name="nb06.in_batch_bias",
    question="In-batch softmax uses the other examples' positives as negatives. Without the logQ "
    "correction, what happens to the recommendations of a model trained this way?",
    expected=lambda **_: "b",
    compare=choice,
    choices={
        "a": "they become more popular: popular items are seen more often as positives",
        "b": "they become less popular: popular items are sampled as negatives more often, so "
        "their scores are pushed down too far",
        "c": "nothing changes: in-batch negatives are a uniform sample of the catalogue",
        "d": "the model cannot be trained: the loss needs every item's logit",
    },
    hints=["Item j appears as a negative with probability q_j ∝ its training count."],
    solution_code='answer = "b"',
    explanation="on ML-100K the uncorrected in-batch two-tower recommends long-tail items (ARP@10 "
    "101, coverage 0.72) at a large cost in Recall@20 (0.195); subtracting log q_j from each logit "
    "restores Recall@20 to 0.341 (ARP 224)",
)

EXERCISES = (recall, logits_memory, in_batch_bias)

__all__ = ["EXERCISES", "in_batch_bias", "logits_memory", "recall"]
