"""Honest evaluation, measured: three leakage demos and a feedback-loop simulator (notebook 05).

* `leaky_input_scores` / `leakage_table`: the test items added to each user's input history
  (the target left in the input); `UnconstrainedEASE` is a model trained to copy its input.
* `protocol_gap`: one model fitted and scored on a random and on a temporal split.
* `sampled_vs_full`: HR@k / NDCG@k among `n_negatives` sampled items vs the full catalogue
  (`lessons.negative_sampling` draws the negatives and ranks the test items).
* `feedback_loop`: retrain on the model's own recommendations; coverage per round.

A "scorer" is a trained lessons model or a fitted baseline (Popularity, ItemKNN, EASE).
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from lessons.baselines import ridge_inverse
from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.data import Dataset, Split, random_split, temporal_split
from lessons.data.dataset import check_split
from lessons.metrics import evaluate_dict, short_head, top_k
from lessons.metrics.topk import to_numpy
from lessons.negative_sampling import expected_hit_and_ndcg, rank_among, sample_negatives
from lessons.scoring import check_int, score_users

Fitter = Callable[[sp.csr_matrix], Any]  # X_train -> fitted baseline (has .scores(X))
LOOP_METRICS = ("coverage", "gini", "aplt")


def _check_split(split: Any) -> Split:
    check_split(split, "split")
    if split.test.empty:
        raise ValueError(f"{split!r} has no test interactions to evaluate against")
    return split


def _check_fitter(fitter: Any) -> Fitter:
    # A class is callable too: ItemKNN(x) would read the matrix as its `neighbors`.
    if isinstance(fitter, type) or not callable(fitter):
        name = getattr(fitter, "__name__", type(fitter).__name__)
        raise ValueError(
            f"fitter must be a function X -> fitted model, e.g. lambda x: {name}().fit(x); "
            f"got {fitter!r}"
        )
    return fitter


def _binary(x: sp.spmatrix) -> sp.csr_matrix:
    """`x` as a 0/1 float32 CSR matrix: a sum of interaction matrices counts no pair twice."""
    x = sp.csr_matrix(x, dtype=np.float32)
    x.data[:] = 1.0
    return x


def scores_for(model: Any, split: Split) -> np.ndarray:
    """Scores (n_users, n_items) of a lessons model or a fitted baseline, from `split`'s history."""
    if isinstance(model, torch.nn.Module):
        return score_users(model, split).numpy()
    if hasattr(model, "scores"):
        return np.asarray(model.scores(split.history_matrix()), dtype=np.float32)  # the input
    raise ValueError(
        f"expected a lessons model or a fitted baseline with .scores(X), got {type(model).__name__}"
    )


class UnconstrainedEASE:
    """EASE without its diag(B) = 0 constraint: a model trained with the targets in its input.

    B = argmin ‖X − XB‖²_F + λ‖B‖²_F = (XᵀX + λI)⁻¹ XᵀX = I − λ(XᵀX + λI)⁻¹, so
    score(u, ·) = X_u B. Every item a user has predicts itself, with weight B_jj = 1 − λP_jj > 0
    (larger for popular items; 0 only for an item nobody trained on): the model learned to
    copy its input. Evaluated honestly (seen items excluded, test items not in the input) the
    copy does nothing; once the test items reach the input, it finds them.
    """

    def __init__(self, lam: float = 500.0):
        if not 0 < lam < np.inf:  # `not <` refuses NaN too; inf would give NaN weights
            raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
        self.lam = float(lam)

    def fit(self, train: sp.spmatrix) -> "UnconstrainedEASE":
        x = sp.csr_matrix(train, dtype=np.float64)
        if x.nnz == 0:
            raise ValueError("train is empty; pass the binary user×item training matrix")
        gram = (x.T @ x).toarray()
        p = ridge_inverse(gram, self.lam)
        self.weights_ = (np.eye(x.shape[1]) - self.lam * p).astype(np.float32)
        return self

    def scores(self, x: sp.spmatrix) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise ValueError("UnconstrainedEASE is not fitted; call fit(train) first")
        return np.asarray(x @ self.weights_, dtype=np.float32)


def leaky_input_scores(model: Any, split: Split) -> np.ndarray:
    """Scores computed as if the test items were part of each user's input history.

    The leak: x_u reads train_u ∪ test_u, so the query "knows" the targets. Items that
    co-occur with the test items rise, and so do the test items themselves. Matrix
    factorization reads only the user id, so its scores do not change: the leak needs a
    history input. Evaluate the result against `split` itself (its seen items are train only,
    so the test items stay rankable).
    """
    split = _check_split(split)
    leaky = replace(split, train=pd.concat([split.train, split.test], ignore_index=True))
    return scores_for(model, leaky)


def leakage_table(model: Any, split: Split, *, k: int = DEFAULT_K) -> pd.DataFrame:
    """Recall@20 and NDCG@k honest vs with the test items in the input, plus the inflation.

    Returns:
        Rows "honest", "test items in the input", "inflation" (leaky / honest − 1).
    """
    split, metrics = _check_split(split), ("recall", "ndcg")
    honest = evaluate_dict(scores_for(model, split), split, k=k, metrics=metrics)
    leaky = evaluate_dict(leaky_input_scores(model, split), split, k=k, metrics=metrics)
    table = pd.DataFrame({"honest": honest, "test items in the input": leaky}).T
    table.loc["inflation"] = table.iloc[1] / table.iloc[0] - 1
    return table


def protocol_gap(
    data: Dataset,
    fitter: Fitter,
    *,
    test_frac: float = 0.2,
    seed: int = DEFAULT_SEED,
    k: int = DEFAULT_K,
) -> pd.DataFrame:
    """Fit `fitter(X_train)` on a random and on a temporal split; Recall@20 and NDCG@k of each.

    The random split lets the model learn from interactions made after some test ones; the
    temporal split holds out each user's latest interactions, the question a deployed model
    answers. Returns rows "random", "temporal" and "random / temporal − 1".
    """
    fitter, rows = _check_fitter(fitter), {}
    for name, split in (
        ("random", random_split(data, test_frac, seed=seed)),
        ("temporal", temporal_split(data, test_frac)),
    ):
        x = split.train_matrix()
        rows[name] = evaluate_dict(fitter(x).scores(x), split, k=k, metrics=("recall", "ndcg"))
    table = pd.DataFrame(rows).T
    table.loc["random / temporal − 1"] = table.loc["random"] / table.loc["temporal"] - 1
    return table


def sampled_vs_full(
    scores: dict[str, Any],
    split: Split,
    *,
    n_negatives: int = 100,
    k: int = DEFAULT_K,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Hit rate and NDCG of each held-out item, ranked among sampled negatives vs all items.

    For a test pair (u, i) with 0-based rank r among its negatives (the items in neither u's
    `split.seen_matrix()`, i.e. train, revealed query and validation, nor u's test items):
    HR@k = mean [r < k], NDCG@k = mean [r < k] / log2(r + 2) (one relevant item per
    ranking). Ties with the test item are broken at random, in expectation, so a
    model that scores everything alike is at chance, not perfect. "sampled" ranks i among
    `n_negatives` random negatives (the same draw for every model), "full" among all of them.
    Sampled metrics are always at least as high and can reorder models (Krichene & Rendle
    2020).

    Args:
        scores: Model name -> score matrix (n_users, n_items).
        split: The split whose test pairs are ranked.
        n_negatives: Negatives per test pair, in [k, fewest negatives of a test user].
        k: Cut-off.
        seed: Seed of the negative sample.

    Returns:
        One row per model: hr@k full, hr@k sampled, ndcg@k full, ndcg@k sampled.

    Raises:
        ValueError: On no models, scores of the wrong shape or with NaN, k <= 0, a bad
            `n_negatives`, or a split that ranks only candidate items (cold-start items:
            the negatives span the whole catalogue; `lessons.metrics.evaluate` ranks the
            candidates).
    """
    split = _check_split(split)
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(
            f"scores must be a non-empty dict {{model name: score matrix}}, got {scores!r:.60}"
        )
    k = check_int("k", k, 1)
    n_negatives = check_int("n_negatives", n_negatives, k, hint=" (at least k, e.g. 100)")
    arrays = {name: to_numpy(s, f"scores[{name!r}]") for name, s in scores.items()}
    for name, arr in arrays.items():
        if arr.shape != (split.n_users, split.n_items):
            raise ValueError(
                f"scores of {name!r} have shape {arr.shape}; expected "
                f"({split.n_users}, {split.n_items})"
            )
        if np.isnan(arr).any():  # NaN is never above the test item: it would rank first
            raise ValueError(f"scores of {name!r} contain NaN; check the model output")
    # It also refuses n_negatives above what a test user has left, and cold-start items.
    pairs = sample_negatives(split, n_negatives, np.random.default_rng(seed))
    rows = {}
    for name, arr in arrays.items():
        full, part = rank_among(arr, *pairs)
        (hr_full, ndcg_full), (hr_part, ndcg_part) = (
            expected_hit_and_ndcg(*ranked, k) for ranked in (full, part)
        )
        rows[name] = {f"hr@{k} full": hr_full, f"hr@{k} sampled": hr_part,
                      f"ndcg@{k} full": ndcg_full, f"ndcg@{k} sampled": ndcg_part}  # fmt: skip
    return pd.DataFrame(rows).T


def feedback_loop(
    split: Split,
    fitter: Fitter,
    *,
    rounds: int = 5,
    k: int = DEFAULT_K,
    consume: int = 2,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Retrain on the model's own recommendations and record what the lists look like.

    Round 0 fits `fitter` on the training matrix X₀ and shows every user their top-k items,
    scored from their history (`split.history_matrix()`: train + revealed query) with
    everything seen at test time excluded (`split.seen_matrix()`: train, query, validation),
    exactly as `lessons.metrics.evaluate` ranks. In round t, every user "consumes" `consume`
    of their listed items drawn at random (seeded), and those interactions are added to the
    training matrix, X_{t+1} = X_t + consumed, to the history the model reads and to the
    excluded items. The model is refitted on X_{t+1}. Each round records, for the lists shown
    to the test users, coverage@k, Gini@k and APLT@k (long tail = outside the ORIGINAL short
    head), and `head_share`, the share of X_t's interactions that fall on the original short
    head: a fall in coverage with a rising head share is the loop narrowing what anyone is
    shown. Accuracy is left out on purpose: removing consumed items from the lists changes
    what a test item competes with, so recall across rounds would not compare like with like.

    Args:
        split: The starting split (its test users are the ones measured). A random,
            temporal or cold-start-users split; not cold-start items.
        fitter: `fitter(X) -> fitted baseline`, e.g. `lambda x: ItemKNN().fit(x)`.
        rounds: Rounds of consumption after round 0 (>= 1).
        k: Length of the lists shown.
        consume: Items each user takes from their list per round, in [1, k].
        seed: Seed of which listed items are consumed.

    Returns:
        One row per round 0..rounds: round, added (interactions added so far), head_share,
        and the `LOOP_METRICS` at k.

    Raises:
        ValueError: On a bad argument, or a split that ranks only candidate items (cold-start
            items): the lists, and what users consume from them, span the whole catalogue.
    """
    split, fitter = _check_split(split), _check_fitter(fitter)
    if split.candidates is not None:
        raise ValueError(
            "feedback_loop ranks the whole catalogue; this split ranks only its "
            f"{len(split.candidates)} candidate items (a cold-start split): use a random, "
            "temporal or cold-start-users split"
        )
    rounds = check_int("rounds", rounds, 1, hint=" (e.g. 5)")
    k = check_int("k", k, 1, split.n_items)
    consume = check_int("consume", consume, 1, k, hint=" (items taken from each top-k list)")
    rng = np.random.default_rng(seed)
    train, history, seen = split.train_matrix(), split.history_matrix(), split.seen_matrix()
    consumed = sp.csr_matrix(train.shape, dtype=np.float32)
    head = short_head(split.item_popularity())
    # Listed test items are never consumed: they would leak into training.
    test = split.test_matrix()
    rows, added = [], 0
    for step in range(rounds + 1):
        x = _binary(train + consumed)  # X_t, what the model trains on
        scores = np.asarray(fitter(x).scores(_binary(history + consumed)), dtype=np.float32)
        lists = top_k(scores, k, exclude=seen + consumed)
        share = float(head[x.indices].mean())
        metrics = evaluate_dict(lists, split, k=k, metrics=LOOP_METRICS)
        rows.append({"round": step, "added": added, "head_share": share, **metrics})
        if step == rounds:
            break
        pick = np.argsort(rng.random(lists.shape), axis=1)[:, :consume]
        taken = np.take_along_axis(lists, pick, axis=1).ravel()
        user = np.repeat(np.arange(x.shape[0]), consume)
        keep = taken >= 0
        keep[keep] = np.asarray(test[user[keep], taken[keep]]).ravel() == 0
        user, item = user[keep], taken[keep]
        new = sp.csr_matrix((np.ones(item.size, np.float32), (user, item)), shape=x.shape)
        consumed = _binary(consumed + new)
        added += item.size
    return pd.DataFrame(rows)


__all__ = [
    "LOOP_METRICS",
    "UnconstrainedEASE",
    "feedback_loop",
    "leakage_table",
    "leaky_input_scores",
    "protocol_gap",
    "sampled_vs_full",
    "scores_for",
]
