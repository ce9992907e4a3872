"""Exercises of notebook 00 (MovieLens tour). Context: `data`, the notebook's `Dataset`."""

import numpy as np

from lessons.config import ITEM
from lessons.data import Dataset
from lessons.exercises import Exercise, choice, close_to

RARE_THRESHOLD = 10  # the notebook prints the count below 5; the exercise asks for another


def _counts(data: Dataset) -> np.ndarray:
    return np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items)


def _rare_items(data: Dataset) -> int:
    return int((_counts(data) < RARE_THRESHOLD).sum())


def _rare_slips(data: Dataset) -> list[tuple[int, str]]:
    counts, rated = _counts(data), data.interactions[ITEM].nunique()
    return [
        (int((counts <= RARE_THRESHOLD).sum()), f"that counts the items with at most "
         f"{RARE_THRESHOLD} interactions; the question asks for fewer than {RARE_THRESHOLD}"),
        (int((counts[counts > 0] < RARE_THRESHOLD).sum()), f"that leaves out the "
         f"{data.n_items - rated} items nobody rated: they have 0 interactions, fewer than "
         f"{RARE_THRESHOLD} too"),
    ]  # fmt: skip


def _density(data: Dataset, most_interacted: bool = True, cells: int | None = None) -> float:
    """Share of ones in the columns of the n_items // 5 most (or least) interacted items."""
    x = data.matrix()
    counts = np.asarray(x.sum(axis=0)).ravel()
    fifth = np.argsort(-counts if most_interacted else counts)[: x.shape[1] // 5]
    return x[:, fifth].nnz / (cells or x.shape[0] * len(fifth))


def _head_density(data: Dataset) -> float:
    return _density(data)


def _density_slips(data: Dataset) -> list[tuple[float, str]]:
    all_cells = data.n_users * data.n_items
    return [
        (len(data.interactions) / all_cells, "that is the density of all of X, printed in "
         "section 4: count the ones of the head's columns only"),
        (_density(data, cells=all_cells), "that divides by every cell of X: divide by the "
         "head's cells, n_users · (n_items // 5)"),
        (_density(data, most_interacted=False), "those are the least-interacted items: sort "
         "the counts in descending order, np.argsort(-counts)"),
    ]  # fmt: skip


rare_items = Exercise(
    name="nb00.rare_items",
    question=f"How many items have fewer than {RARE_THRESHOLD} interactions in the whole dataset "
    "(items nobody rated count too)?",
    expected=_rare_items,
    compare=close_to(rtol=0, atol=0),
    pitfalls=_rare_slips,
    hints=[
        "Count the interactions of every item with np.bincount on the item column.",
        "Pass minlength=data.n_items so that items with no interaction get a 0.",
    ],
    solution_code=(
        'counts = np.bincount(data.interactions["item"], minlength=data.n_items)\n'
        f"answer = int((counts < {RARE_THRESHOLD}).sum())"
    ),
    explanation="these items are the far end of the long tail: any model knows little about them",
)

head_density = Exercise(
    name="nb00.head_density",
    question="Section 4 printed the share of ones in all of X. What share of the cells are ones "
    "in the columns of the short head, the n_items // 5 most-interacted items (nnz of those "
    "columns / (n_users · n_items // 5))?",
    expected=_head_density,
    compare=close_to(rtol=1e-3),
    pitfalls=_density_slips,
    hints=[
        "The column sums of the binary matrix X = data.matrix() are the items' interaction counts.",
        "np.argsort(-counts)[: X.shape[1] // 5] are the head's columns; X[:, head].nnz counts "
        "their ones.",
    ],
    solution_code=(
        "X = data.matrix()\n"
        "counts = np.asarray(X.sum(axis=0)).ravel()\n"
        "head = np.argsort(-counts)[: X.shape[1] // 5]\n"
        "answer = X[:, head].nnz / (X.shape[0] * len(head))"
    ),
    explanation="about 20% on ML-100K against under 3% on the other items: most of what a model "
    "learns from is about the head",
)

protocol = Exercise(
    name="nb00.protocol",
    question="The model ships next month. Which of these splits comes closest to estimating how "
    "it will do on next month's interactions?",
    expected=lambda **_: "b",
    compare=choice,
    choices={
        "a": "random: hold out a random 20% of each user's interactions",
        "b": "temporal: hold out each user's latest interactions (leave-latest-out)",
        "c": "cold_items: hold out whole items",
        "d": "any split, as long as seen items are not excluded",
    },
    why_not={
        "a": "a random hold-out leaves some of each user's later interactions in training, a "
        "look at her future that next month's model will not have (section 6 measures it)",
        "c": "holding out whole items measures cold start, movies nobody has rated yet, not "
        "next month's interactions with the catalogue the model knows",
        "d": "section 6 measures the same model reading higher on the random split than on the "
        "temporal one, so the split does matter. And seen items are excluded under every split, "
        "since a movie she has already rated is no recommendation",
    },
    hints=["In which split is every test interaction of a user later than that user's training?"],
    solution_code='answer = "b"',
    explanation="of these, only the temporal split keeps each user's own future out of training "
    "(a global time cutoff would also keep out other users' later interactions); the random split "
    "reads higher above partly through that leak, partly because its test set is easier",
)

EXERCISES = (rare_items, head_density, protocol)

__all__ = ["EXERCISES", "head_density", "protocol", "rare_items"]
