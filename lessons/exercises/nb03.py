"""Exercises of notebook 03 (softmax embeddings). Context: `model`, `split`, `psi`, `V`."""

import numpy as np
import torch

from lessons.data import Split
from lessons.exercises import Exercise, choice, close_to, same_sequence
from lessons.recommend import similar_items

# Mary Poppins (1964) on MovieLens: the notebook does not print its neighbours, and its top 5
# by cosine differs from those by Euclidean distance, dot product and the cosine without the
# bias coordinate at split seeds 0-4 (item 288 separated the bias-free cosine at seed 0 only,
# so a learner who changed SEED could pass with it).
ITEM_ID, TOP_N = 418, 5


def _logits(psi: torch.Tensor, V: torch.Tensor) -> torch.Tensor:  # noqa: N803 (lesson notation)
    """⟨ψ, V_k⟩ for every item k, in float64."""
    v, q = (torch.as_tensor(t, dtype=torch.float64) for t in (V, psi))
    return v @ q


def _log_z(psi: torch.Tensor, V: torch.Tensor) -> float:  # noqa: N803
    return float(torch.logsumexp(_logits(psi, V), dim=0))


def _log_z_slips(psi: torch.Tensor, V: torch.Tensor) -> list[tuple[float, str]]:  # noqa: N803
    logits = _logits(psi, V)
    return [
        (float(torch.exp(logits).sum()), "that is Z itself: take its log"),
        (float(logits.max()), "that is the largest logit alone: log Z adds up every item's "
         "exp⟨ψ, V_k⟩ before taking the log"),
    ]  # fmt: skip


def _neighbours(model: torch.nn.Module, split: Split) -> np.ndarray:
    return similar_items(model, split, ITEM_ID, TOP_N, scoring="cosine")["item"].to_numpy()


def _top(V: torch.Tensor) -> np.ndarray:  # noqa: N803
    scores = V @ V[ITEM_ID]
    scores[ITEM_ID] = -float("inf")
    return torch.topk(scores, TOP_N).indices.numpy()


def _neighbour_slips(model: torch.nn.Module) -> list[tuple[np.ndarray, str]]:
    with torch.no_grad():
        V = model.item_embeddings().double()  # noqa: N806 (the lesson's notation)
    cosine = _top(torch.nn.functional.normalize(V, dim=1))
    slips = [
        (
            np.r_[ITEM_ID, cosine[: TOP_N - 1]],
            f"leave item {ITEM_ID} itself out: it is its own nearest neighbour",
        ),
        (
            _top(V),
            "that ranks by the dot product ⟨V_i, V_j⟩, which favours long rows: divide "
            "each row by its norm first",
        ),
    ]
    if model.item_bias is not None:  # V without its last coordinate, the bias b
        plain = torch.nn.functional.normalize(V[:, :-1], dim=1)
        slips.append((_top(plain), "that is the cosine without the bias coordinate: use the "
                      "rows of dnn.item_embeddings(), bias included"))  # fmt: skip
    return slips


log_z = Exercise(
    name="nb03.log_z",
    question="For user 3's query embedding `psi3` (shape (d + 1,): ψ followed by the bias "
    "coordinate 1) and the "
    "item embeddings `V` (n_items, d + 1), compute log Z = log Σ_k exp⟨ψ, V_k⟩.",
    expected=_log_z,
    compare=close_to(rtol=1e-5),
    pitfalls=_log_z_slips,
    hints=[
        "V @ psi3 gives every ⟨ψ, V_k⟩ at once.",
        "torch.logsumexp(..., dim=0) computes log Σ exp without overflow.",
    ],
    solution_code="answer = torch.logsumexp(V @ psi3, dim=0).item()",
    explanation="log p̂_j = ⟨ψ, V_j⟩ − log Z: one normalizer shared by every item of the query",
)

neighbours = Exercise(
    name="nb03.neighbours",
    question=f"Without `similar_items`, list the ids of the {TOP_N} items whose rows V_j of "
    f"`dnn.item_embeddings()` (the V of section 1, bias coordinate included) have the highest "
    f"cosine similarity with item {ITEM_ID}'s, best first, leaving item {ITEM_ID} itself out.",
    expected=_neighbours,
    compare=same_sequence,
    hints=[
        "dnn.item_embeddings().detach() is V; divide each row by its norm, "
        "V.norm(dim=1, keepdim=True).",
        f"Cosines = Vn @ Vn[{ITEM_ID}]; set entry {ITEM_ID} to -inf and take the top {TOP_N}.",
    ],
    solution_code=(
        "Vn = torch.nn.functional.normalize(dnn.item_embeddings().detach(), dim=1)\n"
        f"cos = Vn @ Vn[{ITEM_ID}]\n"
        f"cos[{ITEM_ID}] = -float('inf')\n"
        f"answer = torch.topk(cos, {TOP_N}).indices.numpy()"
    ),
    explanation="item-to-item similarity needs no user at all: it is read off V",
    pitfalls=_neighbour_slips,
)

generalizes = Exercise(
    name="nb03.generalizes",
    question="Which softmax DNN computes exactly the logits of softmax matrix factorization?",
    expected=lambda **_: "c",
    compare=choice,
    hints=["MF's query embedding is the row U_u: what input and which layer give ψ(x) = U_u?"],
    solution_code='answer = "c"',
    explanation="x = e_u and ψ = W x with W = Uᵀ gives ψ = U_u: MF is the DNN's special case",
    choices={
        "a": "one with a deep ReLU tower over the user's history",
        "b": "one whose input is the user's demographics only",
        "c": "one whose input is the one-hot user id, with no hidden layer",
    },
    why_not={
        "a": "two users with the same history get the same ψ from it, while MF gives every user "
        "a free row U_u, so it cannot give MF's logits exactly",
        "b": "users who share age, gender and occupation get the same ψ, while MF gives every "
        "user a row U_u of their own",
    },
)

EXERCISES = (log_z, neighbours, generalizes)

__all__ = ["EXERCISES", "generalizes", "log_z", "neighbours"]
