"""Exercises of notebook 00 (MovieLens tour). Context: `data`, the notebook's `Dataset`."""

import numpy as np

from lessons.config import ITEM
from lessons.data import Dataset
from lessons.exercises import Exercise, choice, close_to

RARE_THRESHOLD = 5


def _rare_items(data: Dataset) -> int:
    counts = np.bincount(data.interactions[ITEM].to_numpy(), minlength=data.n_items)
    return int((counts < RARE_THRESHOLD).sum())


def _density(data: Dataset) -> float:
    x = data.matrix()
    return x.nnz / (x.shape[0] * x.shape[1])


rare_items = Exercise(
    name="nb00.rare_items",
    question=f"How many items have fewer than {RARE_THRESHOLD} interactions in the whole dataset "
    "(items nobody rated count too)?",
    expected=_rare_items,
    compare=close_to(rtol=0, atol=0),
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

density = Exercise(
    name="nb00.density",
    question="What share of the cells of the user×item interaction matrix X are filled "
    "(nnz / (n_users · n_items))?",
    expected=_density,
    compare=close_to(rtol=1e-3),
    hints=[
        "data.matrix() is the binary CSR matrix X; .nnz counts its stored ones.",
        "Divide by the number of cells, X.shape[0] * X.shape[1].",
    ],
    solution_code="X = data.matrix()\nanswer = X.nnz / (X.shape[0] * X.shape[1])",
    explanation="about 6% on ML-100K: almost every cell is unobserved, not 'disliked'",
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
    hints=["In which split is every test interaction of a user later than that user's training?"],
    solution_code='answer = "b"',
    explanation="of these, only the temporal split keeps each user's own future out of training "
    "(a global time cutoff would also keep out other users' later interactions); the random split "
    "reads higher above partly through that leak, partly because its test set is easier",
)

EXERCISES = (rare_items, density, protocol)

__all__ = ["EXERCISES", "density", "protocol", "rare_items"]
