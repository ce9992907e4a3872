"""Exercises of notebook 04 (two-tower models). Context: `split`, `logits`, `log_q`, `items`."""

import numpy as np

from lessons.data import Split
from lessons.exercises import Exercise, choice, close_to

HEAD = 10  # the most-watched movies whose share of the negatives the learner computes


def _q(split: Split) -> np.ndarray:
    counts = split.item_popularity()
    return np.maximum(counts, 1) / counts.sum()


def _negative_share(split: Split) -> float:
    return float(np.sort(_q(split))[-HEAD:].sum())


def _negative_share_slips(split: Split) -> list[tuple[float, str]]:
    q = _q(split)
    return [
        (float(np.sort(q)[:HEAD].sum()), f"that sums the {HEAD} smallest q_j: np.sort is "
         "ascending, so the most-watched movies are at its end"),
        (HEAD / q.size, f"that is the uniform share, {HEAD}/n: in-batch negatives are the other "
         "examples' items, so they come in proportion to q_j"),
    ]  # fmt: skip


def _corrected(logits: np.ndarray, log_q: np.ndarray, items: np.ndarray) -> np.ndarray:
    # Column c of the in-batch logits is example c's item: subtract that item's log q.
    return np.asarray(logits) - np.asarray(log_q)[np.asarray(items)][None, :]


def _correction_slips(logits: np.ndarray, log_q: np.ndarray, items: np.ndarray) -> list:
    s, c = np.asarray(logits), np.asarray(log_q)[np.asarray(items)]
    return [
        (s + c[None, :], "the sign: the correction subtracts log q_j"),
        (
            s - c[:, None],
            "that corrects each row; column j is example j's item, so each "
            "column gets its own item's log q",
        ),
        (s, "that is `logits` unchanged"),
    ]


negative_share = Exercise(
    name="nb04.negative_share",
    question="In-batch negatives are drawn with probability q_j = max(c_j, 1) / Σ_k c_k, with c_j "
    "item j's training count (split.item_popularity()). What share of all negatives do the "
    f"{HEAD} most-watched movies take together, the sum of their q_j?",
    expected=_negative_share,
    # 1e-3: q as defined sums to 1.00045 (items with no count get 1), so an answer that
    # renormalizes it (0.049040 against 0.049063) is the same idea, not a slip.
    compare=close_to(rtol=1e-3),
    pitfalls=_negative_share_slips,
    hints=[
        "c = split.item_popularity(); q = np.maximum(c, 1) / c.sum()",
        f"np.sort(q) puts the largest q_j last: sum its last {HEAD} entries.",
    ],
    solution_code=(
        "c = split.item_popularity()\n"
        "q = np.maximum(c, 1) / c.sum()\n"
        f"answer = np.sort(q)[-{HEAD}:].sum()"
    ),
    explanation=f"a uniform sample would give those {HEAD} movies {HEAD}/n of the negatives; "
    "drawn in proportion to popularity they are pushed down for almost every query, which is "
    "what subtracting log q_j undoes",
)

corrected_logits = Exercise(
    name="nb04.corrected_logits",
    question="`logits` is a (P, P) in-batch logit matrix (row i: example i's query; column j: "
    "example j's item, whose id is items[j]). Apply the logQ correction s_ij − log q_{items[j]} "
    "with `log_q` (one value per catalogue item).",
    expected=_corrected,
    compare=close_to(rtol=1e-5, atol=1e-6),
    hints=[
        "Each column gets its own item's log q; every row gets the same correction.",
        "logits - log_q[items][None, :]",
    ],
    solution_code="answer = logits - log_q[items][None, :]",
    pitfalls=_correction_slips,
    explanation="subtracting log q_j raises rare items' logits: it undoes the extra push a "
    "popular item gets from being sampled as a negative so often",
)

popularity_aversion = Exercise(
    name="nb04.popularity_aversion",
    question="Trained with an in-batch softmax and NO logQ correction, the two-tower model's "
    "lists have a much lower ARP (mean popularity) than with it. Why?",
    expected=lambda **_: "c",
    compare=choice,
    choices={
        "a": "the temperature τ = 0.1 flattens the scores of popular items",
        "b": "in-batch training never sees popular items as positives",
        "c": "negatives are the batch's positives, so a popular item is a negative far more "
        "often than a uniform sample would make it: its score is pushed down too hard",
        "d": "the item tower cannot represent popularity from genres and release year",
    },
    why_not={
        "a": "τ divides every logit by the same number, popular item or not, and it is the "
        "same with the correction as without, so it cannot make the difference",
        "b": "every training pair is the positive of its own row, so a popular item is a "
        "positive as often as it is in the data",
        "d": "the two models have the same item tower, and the corrected one's lists are "
        "popular again; the difference is in the training, not in what φ can represent",
    },
    hints=["How often does an item with 400 training interactions appear in a random batch?"],
    solution_code='answer = "c"',
    explanation="sampling negatives ∝ q_j over-penalises popular items; − log q_j cancels it "
    "(Yi et al. 2019), and accuracy comes back",
)

EXERCISES = (negative_share, corrected_logits, popularity_aversion)

__all__ = ["EXERCISES", "corrected_logits", "negative_share", "popularity_aversion"]
