"""Exercises of notebook 01 (matrix factorization). Context: `model`, `split`, or `table`."""

import numpy as np
import pandas as pd
import torch

from lessons.data import Split
from lessons.exercises import Exercise, choice, close_to, same_sequence
from lessons.recommend import recommend

TOP_N, ALPHA, USER_ID = 5, 1.0, 0


def _alpha_top(model: torch.nn.Module, split: Split) -> np.ndarray:
    return recommend(model, split, USER_ID, TOP_N, alpha=ALPHA)["item"].to_numpy()


def _alpha_slips(model: torch.nn.Module, split: Split) -> list[tuple[np.ndarray, str]]:
    def top(**how):
        return recommend(model, split, USER_ID, TOP_N, **how)["item"].to_numpy()

    return [
        (top(), "that is the dot-product list ⟨U_u, V_j⟩: divide each score by ‖V_j‖"),
        (
            top(alpha=ALPHA, exclude_seen=False),
            "your list has items the user already has: set their scores to -inf before sorting",
        ),
    ]


def _v_edited(model: torch.nn.Module) -> str | None:
    """A trained V with every row of norm 1 is one divided by its norms in place."""
    norms = torch.linalg.vector_norm(model.item_embeddings().detach(), dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
        return None
    return ("every row of the model's V has norm 1: V was divided by its norms in place, which "
            "changed the trained model (detach().numpy() shares its memory). Re-run the training "
            "cell, then compute scores = V @ U[0] / norms as new arrays")  # fmt: skip


def _arp(table: pd.DataFrame) -> float:
    return float(table.groupby("user")["popularity"].mean().mean())


def _arp_slips(table: pd.DataFrame) -> list[tuple[float, str]]:
    pooled = float(table["popularity"].mean())  # every row counts once: long lists weigh more
    return [(pooled, "that is the mean over every row, so a longer list weighs more: average "
                     "each user's list first, then the users")]  # fmt: skip


alpha_top = Exercise(
    name="nb01.alpha_top",
    question=f"Without `recommend`, compute the top-{TOP_N} item ids of user {USER_ID} for the "
    f"score ⟨U_u, V_j⟩ / ‖V_j‖^{ALPHA:g}, leaving out the items the user is known to have "
    "(split.seen_matrix(): the training history, and any validation part).",
    expected=_alpha_top,
    compare=same_sequence,
    hints=[
        "U = model.user_embedding and V = model.item_embeddings() (detach().numpy() both: they "
        "share memory with the model, so compute new arrays, never V /= …).",
        "Divide V @ U[0] by np.linalg.norm(V, axis=1); set the seen items "
        "(split.seen_matrix()[0].indices) to -np.inf before sorting.",
    ],
    solution_code=(
        "U = model.user_embedding.detach().numpy()\n"
        "V = model.item_embeddings().detach().numpy()\n"
        f"scores = V @ U[{USER_ID}] / np.linalg.norm(V, axis=1) ** {ALPHA}\n"
        f"scores[split.seen_matrix()[{USER_ID}].indices] = -np.inf\n"
        f"answer = np.argsort(-scores)[:{TOP_N}]"
    ),
    explanation="dividing by ‖V_j‖ ranks by direction only, like cosine scoring",
    pitfalls=_alpha_slips,
    changed_context=_v_edited,
)

arp = Exercise(
    name="nb01.arp",
    question="ARP = (1/|𝒰|) Σ_{u∈𝒰} (1/|L_u|) Σ_{j∈L_u} c_j, with 𝒰 the users that have a list. "
    "Compute it for the lists in `table` (columns user, item, popularity).",
    expected=_arp,
    compare=close_to(rtol=1e-6),
    pitfalls=_arp_slips,
    hints=[
        "First the mean popularity of each user's list, then the mean over users.",
        'table.groupby("user")["popularity"].mean() gives the per-user means.',
    ],
    solution_code='answer = table.groupby("user")["popularity"].mean().mean()',
    explanation="that is lessons.metrics.arp_at_k, the mean training count of a recommended item",
)

new_user = Exercise(
    name="nb01.new_user",
    question="A new visitor rates five movies. What has to happen before matrix factorization can "
    "score the catalogue for her?",
    expected=lambda **_: "b",
    compare=choice,
    choices={
        "a": "nothing: score her with the mean of the rows of U",
        "b": "learn a row U_u for her: refit the model, or fold in (solve for U_u with V fixed)",
        "c": "add her age and occupation to the model's input",
        "d": "switch to cosine scoring",
    },
    why_not={
        "a": "the mean row is the same for every newcomer and ignores her five ratings, so all "
        "of them would get one and the same list",
        "c": "MF's score ⟨U_u, V_j⟩ has no input for age or occupation; reading features is "
        "what the softmax DNN of notebook 02 adds",
        "d": "cosine normalises ⟨U_u, V_j⟩, but she still has no row U_u to normalise",
    },
    hints=[
        "Which parameter of s_uj = ⟨U_u, V_j⟩ belongs to the user, and where does it come from?"
    ],
    solution_code='answer = "b"',
    explanation="MF's only input is the user id; the softmax DNN of notebook 02 reads her history "
    "and features instead",
)

EXERCISES = (alpha_top, arp, new_user)

__all__ = ["EXERCISES", "alpha_top", "arp", "new_user"]
