"""Edge cases of the notebook 02/03 experiments and the training-time Evaluator.

Each test guards a plausible bug that would still give believable numbers (found by mutating
the code by hand); expected values come from the docstrings, hand computation or an
independent route through `lessons.metrics`, never from the code's own output.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import lessons.experiments as experiments
from lessons.data import cold_start_items, cold_start_users, random_split
from lessons.experiments import grid_summary, main_genre, run_grid, textbook_dnn
from lessons.metrics import evaluate_dict
from lessons.recommend import recommend
from lessons.scoring import score_users, split_features
from lessons.validation import Evaluator
from tests.helpers import tiny_dnn

# --- lessons.experiments ------------------------------------------------------------------


def test_textbook_dnn_is_fixed_by_its_seed(tiny_split):
    """Bug: the seed not applied inside the forked RNG, so 'the same' untrained model differs
    between calls and the notebook's hand computation cannot be reproduced."""
    a, b = (textbook_dnn(tiny_split, (8,), dim=4, side=False, dense=False, seed=3) for _ in "ab")
    c = textbook_dnn(tiny_split, (8,), dim=4, side=False, dense=False, seed=4)
    for name, tensor in a.state_dict().items():
        torch.testing.assert_close(tensor, b.state_dict()[name], rtol=0, atol=0)
    assert not torch.equal(a.item_embedding, c.item_embedding)


def test_run_grid_passes_each_run_its_features_depth_and_seed(monkeypatch, tiny_split):
    """Bugs: a feature set wired to the wrong flags (e.g. "history+side+dense" without dense),
    or the seed not passed on, so the "seeds" of the grid are one run repeated."""
    calls = []

    def fake_run(split, *, hidden, side, dense, epochs, seed=None):
        calls.append({"hidden": hidden, "side": side, "dense": dense, "seed": seed})
        history = SimpleNamespace(to_frame=lambda: pd.DataFrame({"seconds": [0.5, 0.25]}))
        return None, history, {"ndcg@10": 0.1}

    monkeypatch.setattr(experiments, "playground_run", fake_run)
    grid = run_grid(tiny_split, depths=(0, 2), seeds=(7, 8), width=5, epochs=1)
    expected = [{"hidden": (5,) * depth, "side": rich, "dense": rich, "seed": seed}
                for depth in (0, 2) for rich in (False, True) for seed in (7, 8)]  # fmt: skip
    assert calls == expected
    assert (
        list(grid["features"])
        == ["history"] * 2
        + ["history+side+dense"] * 2
        + ["history"] * 2
        + ["history+side+dense"] * 2
    )
    assert list(grid["seed"]) == [7, 8] * 4 and (grid["seconds"] == 0.75).all()


def test_grid_summary_mean_and_sample_std_per_setting():
    """Bug: the spread over seeds as the population std (ddof=0), √2 too small for two seeds;
    the mean and std are checked by hand per (depth, features) group."""
    grid = pd.DataFrame({"depth": [0, 0, 1, 1], "features": ["h"] * 4, "seed": [0, 1, 0, 1],
                         "ndcg@10": [0.1, 0.3, 0.2, 0.2]})  # fmt: skip
    summary = grid_summary(grid).set_index("depth")
    assert summary.loc[0, "mean"] == pytest.approx(0.2)
    assert summary.loc[0, "std"] == pytest.approx(np.sqrt(0.1**2 + 0.1**2))  # / (2 − 1)
    assert summary.loc[1, "std"] == pytest.approx(0.0)


def test_main_genre_takes_the_first_listed_genre_an_item_has():
    """Bug: the last listed genre of a multi-genre item chosen (argmax over reversed flags),
    which the synthetic data rarely shows but real MovieLens often does."""
    items = pd.DataFrame({"Action": [1, 1, 0, 0], "Comedy": [1, 0, 1, 0], "Drama": [1, 0, 0, 0]})
    dataset = SimpleNamespace(genres=["Action", "Comedy", "Drama"], items=items)
    codes, labels = main_genre(dataset, ["Comedy", "Action"])
    assert labels == ["Comedy", "Action", "other"]
    assert codes.tolist() == [0, 1, 0, 2]


def test_bare_values_for_sequences_are_refused_by_name(tiny_split, tiny_data):
    """Bug: hidden=64 raised TypeError, and ("Drama") (a missing comma) was read letter by
    letter: 'unknown genres ['D', 'r', 'a', 'm', 'a']'."""
    with pytest.raises(ValueError, match="hidden must be a sequence"):
        textbook_dnn(tiny_split, hidden=64)
    with pytest.raises(ValueError, match="hidden must be a sequence"):
        experiments.playground_run(tiny_split, hidden=64)
    with pytest.raises(ValueError, match="depths must be a list or tuple"):
        run_grid(tiny_split, depths=2)
    with pytest.raises(ValueError, match="genres must be a list or tuple.*got 'Drama'"):
        main_genre(tiny_data, "Drama")
    two = list(tiny_data.genres[:2])  # arrays and indexes are sequences too, as before
    for genres in (np.array(two), pd.Index(two)):
        assert main_genre(tiny_data, genres)[1] == [*two, "other"]
    with pytest.raises(ValueError, match="split must be a lessons.data.Split, got Dataset"):
        experiments.playground_run(tiny_data)  # AttributeError: no attribute 'dataset'


# --- lessons.validation.Evaluator ---------------------------------------------------------


def _evaluator(model, split, k=10, batch_size=10_000):
    features = split_features(split, side=False, dense=False)
    return Evaluator.build(model, split, features, k, False, False, batch_size)


def test_valid_loss_does_not_depend_on_the_evaluation_batch_size(tiny_split):
    """Bug: valid_loss as the plain mean of the batch means; a short last batch then weighs as
    much as a full one. The loss is a per-user mean, so any batching must give the same value
    as one batch of all users."""
    model = tiny_dnn(tiny_split.n_items)
    one = _evaluator(model, tiny_split)
    assert len(one.batches) == 1
    small = _evaluator(model, tiny_split, batch_size=7)
    assert {b.size for b in small.batches} != {7}  # a short last batch
    assert small(model)["valid_loss"] == pytest.approx(one(model)["valid_loss"], rel=1e-5)


def test_coverage_is_a_share_of_the_cold_start_candidates(tiny_data):
    """Bug: coverage divided by the whole catalogue even when only the held-out candidates
    are ranked. With k = number of candidates every list shows every candidate: coverage 1."""
    split = cold_start_items(tiny_data, 0.2, seed=0)
    k = len(split.candidates)
    result = _evaluator(tiny_dnn(split.n_items), split, k=k)(tiny_dnn(split.n_items))
    assert result[f"coverage@{k}"] == 1.0


def test_evaluator_excludes_the_revealed_query_of_cold_users(tiny_data):
    """Bug: only the training items excluded from the ranking, so a cold user's revealed
    query items (already seen) compete with the targets; the metrics must equal
    lessons.metrics.evaluate on score_users, which excludes `split.seen_matrix()`."""
    split = cold_start_users(tiny_data, 0.3, seed=0)
    model = tiny_dnn(split.n_items)
    result = _evaluator(model, split)(model)
    expected = evaluate_dict(score_users(model, split), split, k=10, recall_k=10,
                             metrics=["recall", "ndcg"])  # fmt: skip
    for name in ("recall@10", "ndcg@10"):
        assert result[name] == pytest.approx(expected[name], abs=1e-9)


class _Oracle(torch.nn.Module):
    """A "model" whose logits are a fixed (n_users, n_items) table, read by user id."""

    uses_history = True

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)

    def forward(self, batch):
        return self.table[batch.users]

    def query_embedding(self, batch):
        return self.forward(batch)

    def item_embeddings(self):
        return torch.eye(self.table.shape[1])

    def loss(self, batch):
        return torch.zeros(())


def test_validation_items_are_targets_while_validating_and_excluded_at_test(tiny_data):
    """Bug: test rankings leave out train (+ query) only, so a user's validation items, carved
    from their own interactions, fill test top-k slots. An oracle scoring each user's
    validation items 2 and test items 1 shows it: at test time the test items must lead every
    list (NDCG@k = 1, no validation item listed); while validating, the validation items are
    the targets and must lead it (NDCG@k = 1 again)."""
    split = random_split(tiny_data, 0.2, valid_frac=0.2, seed=0)
    valid, test = split.valid_matrix(), split.test_matrix()
    oracle = _Oracle((2 * valid + test).toarray())
    users = np.flatnonzero(np.diff(test.indptr))
    assert (valid[users].sum(axis=1) > 0).any()  # the oracle's trap is set
    listed = recommend(oracle, split, users, k=10)
    assert valid[listed["user"].to_numpy(), listed["item"].to_numpy()].sum() == 0
    assert evaluate_dict(score_users(oracle, split), split, metrics=["ndcg"])["ndcg@10"] == 1.0
    validating = _evaluator(oracle, split)
    assert validating.part == "valid"
    assert validating(oracle)["ndcg@10"] == 1.0
