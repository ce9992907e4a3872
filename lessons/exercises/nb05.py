"""Exercises of notebook 05 (popularity bias, honest evaluation). Context: `lists` and
`n_items`, or `scores` (model name -> score matrix), `split` and optionally `k` (the
notebook's K)."""

import numpy as np

from lessons.config import DEFAULT_K
from lessons.data import Split
from lessons.exercises import Exercise, choice, close_to
from lessons.metrics import coverage_at_k, evaluate_dict


def _coverage(lists: np.ndarray, n_items: int) -> float:
    lists = np.asarray(lists)
    return coverage_at_k(lists, n_items, lists.shape[1])


def _coverage_slips(lists: np.ndarray, n_items: int) -> list[tuple[float, str]]:
    lists = np.asarray(lists)
    # Only slips that differ from the answer can be matched: without an empty slot the first
    # one is the answer itself, and a correct answer never reaches the pitfalls.
    return [
        (np.unique(lists).size / n_items, "that counts -1, the mark of an empty slot, as an item"),
        (_coverage(lists, n_items) * n_items / lists.size,
         "that divides by the number of slots: Coverage divides by the catalogue's size, n_items"),
    ]  # fmt: skip


SHORT_K = 5  # a phone screen's list: shorter than the table's K, so it is built again


def _arps(scores: dict, split: Split, k: int) -> list[float]:
    return [evaluate_dict(s, split, k=k, metrics=["arp"])[f"arp@{k}"] for s in scores.values()]


def _least_popular(scores: dict, split: Split) -> float:
    # Popularity is in the dict too: its lists are the most popular ones a user can get, so
    # it never has the lowest ARP and needs no special case.
    if not scores:
        raise TypeError("scores needs at least one model (the dict of section 1)")
    return min(_arps(scores, split, SHORT_K))


def _least_popular_slips(scores: dict, split: Split, k: int = DEFAULT_K) -> list[tuple[float, str]]:
    # `k` is the notebook's K, the length of section 1's table: a learner who set K = 20 and
    # read that table has ARP@20, not ARP@10. At k = SHORT_K the slip is the answer itself.
    return [
        (min(_arps(scores, split, k)), f"that is the lowest ARP@{k}, read from "
         f"section 1's table: build the table again at k = {SHORT_K}"),
        (max(_arps(scores, split, SHORT_K)), f"that is the highest ARP@{SHORT_K}: the question "
         "asks for the least popular lists, the lowest"),
    ]  # fmt: skip


coverage = Exercise(
    name="nb05.coverage",
    question="Coverage@k = |∪_u L_u| / n_items. Compute it for the top-k lists in `lists` "
    "(an (n_users, k) array of item ids; -1 marks an empty slot).",
    expected=_coverage,
    compare=close_to(rtol=1e-6),  # exact up to float32 rounding
    hints=[
        "Collect the distinct item ids that appear in any list, leaving out -1.",
        "np.unique(lists[lists >= 0]).size, divided by n_items.",
    ],
    solution_code="answer = np.unique(lists[lists >= 0]).size / n_items",
    pitfalls=_coverage_slips,
    explanation="that is lessons.metrics.coverage_at_k: the share of the catalogue anyone is shown",
)

# A number, not the model's name: section 1 already prints the least popular model at K, and at
# the defaults it is the same model at 5, so a name could be copied without building the table.
least_popular = Exercise(
    name="nb05.least_popular",
    question=f"How popular are the least popular top-{SHORT_K} lists (a phone screen)? "
    f"`compare` reads the top-K lists: build the table again at {SHORT_K} from `scores`, "
    f"and answer with the lowest ARP@{SHORT_K}. Which model has it, and is it also "
    f"the model that gives the long tail the largest share of its lists (APLT@{SHORT_K})?",
    expected=_least_popular,
    compare=close_to(rtol=1e-4),
    pitfalls=_least_popular_slips,
    hints=[
        f"compare_models(scores, split, {SHORT_K}) is the table of section 1 at k = {SHORT_K}.",
        f"Take min() of the arp@{SHORT_K} column (idxmin() names the model).",
    ],
    solution_code=(
        f'table = compare_models(scores, split, {SHORT_K})\nanswer = table["arp@{SHORT_K}"].min()'
    ),
    explanation="ARP averages the popularity of every slot while APLT counts only the tail's "
    f"slots, so the two can rank models differently: compare the arp@{SHORT_K} and "
    f"aplt@{SHORT_K} columns (on MovieLens with the default parameters, ItemKNN has the "
    f"lowest ARP@{SHORT_K} and MF the largest APLT@{SHORT_K}). Lists of moderately popular "
    "items have a low ARP without any room for the tail",
)

sampled = Exercise(
    name="nb05.sampled",
    question="Ranked among 100 sampled negatives, the test item makes the top 10 far more "
    "often than among the whole catalogue. Why is the sampled figure misleading?",
    expected=lambda **_: "c",
    compare=choice,
    choices={
        "a": "100 negatives is too many; 10 would be more honest",
        "b": "sampling leaks the test item into training",
        "c": "most random negatives are tail items any model scores low, so a test item only has "
        "to beat a few real competitors; users see the ranking over the whole catalogue",
        "d": "it is not misleading: sampled and full metrics rank models the same way",
    },
    why_not={
        "a": "fewer negatives make it easier still; among 10, the test item is in the top 10 "
        "of 11 unless it is ranked last",
        "b": "the negatives are drawn when the model is evaluated; nothing about them reaches "
        "training",
        "d": "sampled and full metrics can disagree; beating a few real competitors among 100 "
        "random items is not beating the whole catalogue, and Krichene & Rendle (2020) show "
        "sampled metrics reordering models",
    },
    hints=["Which items does a uniform draw of 100 out of ~1,600 mostly pick, popular or rare?"],
    solution_code='answer = "c"',
    explanation="sampled HR@10 asks 'is the item in the top 10 of 101?', a much easier and "
    "different question; Krichene & Rendle (2020) show it can even reorder models",
)

coverage_alone = Exercise(
    name="nb05.coverage_alone",
    question="Re-ranked for coverage, the softmax DNN's lists reach twice EASE's Coverage@10, "
    "while NDCG@10 and ARP@10 barely move. What does that say?",
    expected=lambda **_: "b",
    compare=choice,
    choices={
        "a": "the re-ranked lists are much less popularity-biased",
        "b": "coverage counts an item once however few users see it: each added item reaches "
        "one list, and the lists stay as head-heavy as before; read it with ARP and Gini",
        "c": "the re-rank leaks test items into the lists",
        "d": "NDCG cannot see changes in the last slot of a list",
    },
    why_not={
        "a": "ARP@10 barely moved, so the lists are about as popular on average as before; the "
        "bias did not fall with the coverage",
        "c": "the re-rank takes each swap from the user's own ranking by the model's scores, "
        "items unseen in training only; no test item guides it",
        "d": "NDCG@10 weighs the tenth slot too, by 1/log₂(11) ≈ 0.29; and the question is "
        "what the coverage figure says about popularity",
    },
    hints=["How many lists does each item that the re-rank adds appear in?"],
    solution_code='answer = "b"',
    explanation="coverage is a count of distinct items, not of exposure: the ARP of the lists "
    "and the Gini of exposure say how head-heavy they are",
)

EXERCISES = (coverage, least_popular, sampled, coverage_alone)

__all__ = ["EXERCISES", "coverage", "coverage_alone", "least_popular", "sampled"]
