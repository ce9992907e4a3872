"""Leakage demos, sampled metrics and the feedback loop on small synthetic data (fixed seeds)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from lessons.baselines import EASE, ItemKNN, Popularity  # noqa: E402
from lessons.config import ITEM, USER  # noqa: E402
from lessons.data import (  # noqa: E402
    cold_start_items,
    cold_start_users,
    random_split,
    synthetic_movielens,
    temporal_split,
)
from lessons.evaluation_demos import (  # noqa: E402
    LOOP_METRICS,
    UnconstrainedEASE,
    feedback_loop,
    leakage_table,
    leaky_input_scores,
    protocol_gap,
    sampled_vs_full,
    scores_for,
)
from lessons.metrics import evaluate_dict, top_k  # noqa: E402
from lessons.models import MatrixFactorization  # noqa: E402
from lessons.negative_sampling import expected_hit_and_ndcg, sample_negatives  # noqa: E402
from lessons.plots import bias as plots_bias  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return synthetic_movielens(n_users=150, n_items=120, seed=1)


@pytest.fixture(scope="module")
def split(data):
    return random_split(data, 0.2, seed=0)


@pytest.fixture(scope="module")
def x(split):
    return split.train_matrix()


def test_unconstrained_ease_is_ridge_without_the_diagonal_constraint():
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float))
    lam = 2.0
    gram = (x.T @ x).toarray()
    expected = np.linalg.solve(gram + lam * np.eye(3), gram)  # (G + λI)⁻¹ G
    model = UnconstrainedEASE(lam).fit(x)
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-5, atol=1e-6)
    assert (np.diag(model.weights_) > 0.3).all()  # it copies its input
    with pytest.raises(ValueError, match="lam"):
        UnconstrainedEASE(0.0)


def test_leaky_input_reads_train_plus_test(split, x):
    ease = EASE(lam=50.0).fit(x)
    expected = ease.scores(x + split.test_matrix())
    np.testing.assert_allclose(leaky_input_scores(ease, split), expected, rtol=1e-5, atol=1e-5)


def test_copying_model_inflates_with_the_target_in_its_input(split, x):
    table = leakage_table(UnconstrainedEASE(50.0).fit(x), split)
    assert list(table.index) == ["honest", "test items in the input", "inflation"]
    assert table.loc["inflation", "recall@20"] > 0.3
    honest = table.loc["honest", "recall@20"]
    assert table.loc["inflation", "recall@20"] == pytest.approx(
        table.loc["test items in the input", "recall@20"] / honest - 1
    )


def test_mf_cannot_leak_through_an_input_it_does_not_read(split):
    torch.manual_seed(0)
    mf = MatrixFactorization(split.n_users, split.n_items, dim=8)
    np.testing.assert_allclose(leaky_input_scores(mf, split), scores_for(mf, split))
    assert leakage_table(mf, split).loc["inflation"].abs().max() == pytest.approx(0.0)


def test_a_model_class_is_not_taken_for_a_fitter(data, split):
    with pytest.raises(ValueError, match=r"lambda x: ItemKNN\(\).fit\(x\)"):
        protocol_gap(data, ItemKNN)
    with pytest.raises(ValueError, match="fitter must be a function"):
        feedback_loop(split, ItemKNN(), rounds=1)


def test_leakage_table_and_unconstrained_ease_refuse_bad_arguments(data):
    with pytest.raises(ValueError, match="split must be a lessons.data.Split, got Dataset"):
        leakage_table(Popularity(), data)  # the Dataset, not its split
    with pytest.raises(ValueError, match="finite number"):
        UnconstrainedEASE(lam=float("inf"))


def test_scores_for_rejects_other_objects(split):
    with pytest.raises(ValueError, match="baseline"):
        scores_for(object(), split)


def test_protocol_gap_matches_direct_evaluation(data):
    def fitter(m):
        return Popularity().fit(m)

    table = protocol_gap(data, fitter, test_frac=0.25, seed=2)
    t = temporal_split(data, 0.25)
    direct = evaluate_dict(fitter(t.train_matrix()).scores(t.train_matrix()), t,
                           metrics=("recall", "ndcg"))  # fmt: skip
    assert table.loc["temporal", "recall@20"] == pytest.approx(direct["recall@20"])
    ratio = table.loc["random"] / table.loc["temporal"] - 1
    np.testing.assert_allclose(table.loc["random / temporal − 1"], ratio)


def test_sampled_metrics_exceed_full_ranking(split, x):
    scores = {"EASE": EASE(lam=50.0).fit(x).scores(x), "Pop": Popularity().fit(x).scores(x)}
    table = sampled_vs_full(scores, split, n_negatives=30, k=5, seed=0)
    assert list(table.index) == ["EASE", "Pop"]
    for kind in ("hr", "ndcg"):
        assert (table[f"{kind}@5 sampled"] > table[f"{kind}@5 full"] + 0.05).all()


def test_sampled_hit_rate_of_random_scores_is_k_over_n_plus_one(split):
    # With random scores the test item's rank among n negatives is uniform on 0..n.
    rng = np.random.default_rng(0)
    scores = {"random": rng.random((split.n_users, split.n_items)).astype(np.float32)}
    table = sampled_vs_full(scores, split, n_negatives=19, k=4, seed=1)
    assert table.loc["random", "hr@4 sampled"] == pytest.approx(4 / 20, abs=0.03)


def test_perfect_scores_hit_everything(split):
    perfect = split.test_matrix().toarray().astype(np.float32)  # test items score 1, others 0
    table = sampled_vs_full({"oracle": perfect}, split, n_negatives=10, k=1)
    np.testing.assert_allclose(table.loc["oracle"].to_numpy(), 1.0)


def test_ties_are_broken_at_random_so_a_constant_model_is_at_chance(split):
    constant = np.zeros((split.n_users, split.n_items), dtype=np.float32)
    table = sampled_vs_full({"constant": constant}, split, n_negatives=19, k=4)
    discount = (1 / np.log2(np.arange(4) + 2)).sum()
    assert table.loc["constant", "hr@4 sampled"] == pytest.approx(4 / 20)  # was 1.0
    assert table.loc["constant", "ndcg@4 sampled"] == pytest.approx(discount / 20)
    assert table.loc["constant", "hr@4 full"] < 4 / 20


def test_expected_metrics_average_every_place_a_tie_can_put_the_item():
    above, tied, k = np.array([0, 2, 3, 9]), np.array([0, 3, 10, 4]), 4
    places = [np.arange(a, a + t + 1) for a, t in zip(above, tied, strict=True)]
    hr = np.mean([np.mean(r < k) for r in places])
    ndcg = np.mean([np.mean((r < k) / np.log2(r + 2)) for r in places])
    assert expected_hit_and_ndcg(above, tied, k) == pytest.approx((hr, ndcg))


def test_sampled_vs_full_rejects_bad_input(split, x):
    good = {"Pop": Popularity().fit(x).scores(x)}
    nan = np.full((split.n_users, split.n_items), np.nan)
    with pytest.raises(ValueError, match="'diverged' contain NaN"):
        sampled_vs_full({"diverged": nan}, split)  # NaN is never above the test item
    with pytest.raises(ValueError, match="dict"):
        sampled_vs_full([good["Pop"]], split)
    with pytest.raises(ValueError, match="at least k"):
        sampled_vs_full(good, split, n_negatives=3, k=5)
    with pytest.raises(ValueError, match="exceeds"):
        sampled_vs_full(good, split, n_negatives=10_000)
    with pytest.raises(ValueError, match="shape"):
        sampled_vs_full({"bad": np.zeros((3, 3))}, split)
    with pytest.raises(ValueError, match="empty"):
        sampled_vs_full({}, split)


def test_feedback_loop_concentrates_the_training_data(split):
    loop = feedback_loop(split, lambda m: ItemKNN().fit(m), rounds=4, k=10, consume=2)
    assert list(loop["round"]) == [0, 1, 2, 3, 4]
    assert (np.diff(loop["added"]) > 0).all()
    assert loop["added"].iloc[-1] <= 4 * 2 * split.n_users
    assert (np.diff(loop["head_share"]) > 0).all()  # the head's share grows every round
    assert loop["head_share"].iloc[-1] > loop["head_share"].iloc[0] + 0.03


def test_feedback_loop_lowers_coverage_on_movielens(ml100k):
    # On a small synthetic catalogue users soon exhaust the head and coverage can even rise;
    # on ML-100K it falls round after round (0.238 -> 0.212 in 4 rounds with ItemKNN; the
    # fifth ticks back up to 0.215, so the test stops at 3).
    split = random_split(ml100k, 0.2, seed=0)
    loop = feedback_loop(split, lambda m: ItemKNN().fit(m), rounds=3, k=10, consume=1)
    coverage = loop["coverage@10"].to_numpy()
    assert coverage[-1] < coverage[0] - 0.01
    assert (np.diff(coverage) <= 0).all()


def test_feedback_loop_never_consumes_test_items(split):
    seen = []

    def fitter(m):
        seen.append(m.copy())
        return Popularity().fit(m)

    feedback_loop(split, fitter, rounds=2, k=10, consume=10)
    added = seen[-1] - split.train_matrix()
    assert added.nnz > 0
    assert added.multiply(split.test_matrix()).nnz == 0


def test_feedback_loop_rejects_bad_arguments(split):
    with pytest.raises(ValueError, match="consume"):
        feedback_loop(split, lambda m: Popularity().fit(m), k=5, consume=6)
    with pytest.raises(ValueError, match="rounds"):
        feedback_loop(split, lambda m: Popularity().fit(m), rounds=0)


def test_bias_plots_draw_and_reject_bad_frames():
    deciles = pd.DataFrame({"A": np.linspace(0, 1, 10), "B": np.zeros(10)}, index=range(1, 11))
    ax = plots_bias.decile_recall(deciles)
    assert len(ax.lines) == 2
    six = pd.DataFrame(np.zeros((10, 6)), index=range(1, 11), columns=list("ABCDEF"))
    markers = [line.get_marker() for line in plots_bias.decile_recall(six).lines]
    assert len(set(markers)) == 6  # colour-blind readers tell the models apart by marker too
    loop = pd.DataFrame({"round": [0, 1], "head_share": [0.6, 0.7], "coverage@10": [0.3, 0.2]})
    assert len(plots_bias.feedback_loop(loop).lines) == 1
    with pytest.raises(ValueError, match="head_share"):
        plots_bias.feedback_loop(loop.drop(columns="head_share"))
    with pytest.raises(ValueError, match="empty"):
        plots_bias.decile_recall(pd.DataFrame())
    plt.close("all")


# --- edge cases: plausible bugs that would still give believable numbers (found by mutating
# the code by hand); expected values by hand or by an independent route ----------------------


def _pairs_matrix(frame: pd.DataFrame, shape) -> sp.csr_matrix:
    ones = np.ones(len(frame), np.float32)
    return sp.csr_matrix((ones, (frame[USER], frame[ITEM])), shape=shape)


def test_sampled_vs_full_refuses_more_negatives_than_the_busiest_user_has():
    """Bug: the bound read from the LEAST busy user (min instead of max), so n_negatives above
    what the busiest user has unseen passes and already-seen items are drawn as negatives.
    (The default synthetic users all have 20 interactions; here their counts differ.)"""
    data = synthetic_movielens(n_users=100, n_items=120, seed=1, n_interactions=4000)
    split = random_split(data, 0.2, seed=0)
    both = pd.concat([split.train, split.test])
    fewest = split.n_items - both.groupby(USER)[ITEM].nunique().max()
    scores = {"random": np.random.default_rng(0).random((split.n_users, split.n_items))}
    sampled_vs_full(scores, split, n_negatives=int(fewest), k=5)  # the largest allowed
    with pytest.raises(ValueError, match="exceeds"):
        sampled_vs_full(scores, split, n_negatives=int(fewest) + 1, k=5)


def test_sampled_vs_full_gives_every_model_the_same_negatives(split):
    """Bug: a fresh draw of negatives per model, so two copies of one model get different
    sampled metrics (and models are compared on different tests)."""
    same = np.random.default_rng(0).random((split.n_users, split.n_items))
    table = sampled_vs_full({"a": same, "b": same.copy()}, split, n_negatives=20, k=5)
    pd.testing.assert_series_equal(table.loc["a"], table.loc["b"], check_names=False)


def test_protocol_gap_random_row_is_the_seeded_random_split(data):
    """Bugs: the random split ignores `seed` or `test_frac` (only the temporal row, which has
    neither, was checked), so the gap compares against some other random split."""

    def fitter(m):
        return Popularity().fit(m)

    table = protocol_gap(data, fitter, test_frac=0.3, seed=4)
    r = random_split(data, 0.3, seed=4)
    direct = evaluate_dict(fitter(r.train_matrix()).scores(r.train_matrix()), r,
                           metrics=("recall", "ndcg"))  # fmt: skip
    for name, value in direct.items():
        assert table.loc["random", name] == pytest.approx(value, abs=1e-12)


def test_feedback_loop_added_counts_the_new_interactions(split):
    """Bugs: `added` counts consume × n_users even when listed test items are dropped, or the
    lists only exclude the ORIGINAL training items, so consumed items are listed and
    "consumed" again: either way `added` exceeds the interactions really added."""
    seen = []

    def fitter(m):
        seen.append(m.copy())
        return Popularity().fit(m)

    loop = feedback_loop(split, fitter, rounds=3, k=10, consume=10)
    base = split.train_matrix().nnz
    assert list(loop["added"]) == [m.nnz - base for m in seen]
    assert all(m.max() == 1 for m in seen)  # still binary


def test_feedback_loop_is_fixed_by_its_seed(split):
    """Bug: the consumption draw ignores `seed`, so re-running a notebook cell changes the
    loop's numbers (and the seed argument does nothing)."""

    def final_matrix(seed):
        seen = []
        feedback_loop(split, lambda m: seen.append(m.copy()) or Popularity().fit(m), rounds=2,
                      k=10, consume=2, seed=seed)  # fmt: skip
        return seen[-1]

    first, again, other = final_matrix(3), final_matrix(3), final_matrix(4)
    assert abs(first - again).sum() == 0
    assert abs(first - other).sum() > 0


def test_scores_for_reads_the_revealed_query_of_cold_users(data):
    """Bug: baselines scored from the training matrix alone, so held-out users (whose history
    is only their revealed query) get all-zero scores and rank items by id."""
    split = cold_start_users(data, 0.2, seed=0)
    model = ItemKNN().fit(split.train_matrix())
    history = split.train_matrix() + _pairs_matrix(split.query, split.train_matrix().shape)
    np.testing.assert_allclose(scores_for(model, split), model.scores(history), rtol=1e-6)


def test_feedback_loop_consumes_items_drawn_from_the_whole_list(split):
    """Bug: consuming the top of each list instead of a random pick (only the slow real-data
    test caught it). With a fixed score order, the consumed items must sit at many ranks."""
    seen = []

    def fitter(m):
        seen.append(m.copy())
        return Popularity().fit(m)

    feedback_loop(split, fitter, rounds=1, k=10, consume=1, seed=0)
    consumed = (seen[1] - seen[0]).tocoo()
    scores = Popularity().fit(seen[0]).scores(seen[0])
    lists = top_k(scores, 10, exclude=seen[0])
    ranks = [
        int(np.flatnonzero(lists[u] == i)[0])
        for u, i in zip(consumed.row, consumed.col, strict=True)
    ]
    assert len(set(ranks)) >= 8  # a uniform pick over 10 slots, for about 150 users


@pytest.mark.parametrize(
    "make_split",
    [
        pytest.param(lambda d: random_split(d, 0.2, valid_frac=0.1, seed=0), id="random+valid"),
        pytest.param(lambda d: cold_start_users(d, 0.2, seed=0), id="cold_users"),
    ],
)
def test_feedback_loop_round_zero_is_what_evaluate_measures(data, make_split):
    """Bug: the loop read and excluded the training matrix only, so validation items took
    list slots (and were "consumed") and held-out users were scored from an empty history
    instead of their revealed query. Round 0 must be the lists `evaluate` ranks."""
    split = make_split(data)
    fits = []

    def fitter(m):
        fits.append(m.copy())
        return ItemKNN().fit(m)

    loop = feedback_loop(split, fitter, rounds=2, k=10, consume=2, seed=0)
    model = ItemKNN().fit(split.train_matrix())
    expected = evaluate_dict(scores_for(model, split), split, k=10, metrics=LOOP_METRICS)
    for name, value in expected.items():
        assert loop.loc[0, name] == pytest.approx(value, abs=1e-12), name
    # Nothing known at test time beyond train (validation, query) is consumed or trained on.
    known = split.seen_matrix() - split.train_matrix()
    assert known.nnz > 0
    assert all(m.multiply(known).nnz == 0 for m in fits)


def test_feedback_loop_and_sampled_vs_full_refuse_a_cold_items_split(data):
    """Bug: both ranked the whole catalogue on a split whose test ranks only its candidate
    items, so their numbers answered another question than `evaluate` on the same split."""
    split = cold_start_items(data, 0.2, seed=0)
    x = split.train_matrix()
    with pytest.raises(ValueError, match=r"only its \d+ candidate items"):
        feedback_loop(split, lambda m: Popularity().fit(m), rounds=1)
    scores = {"Pop": Popularity().fit(x).scores(x)}
    with pytest.raises(ValueError, match=r"only its \d+ candidate items.*lessons.metrics.evaluate"):
        sampled_vs_full(scores, split, n_negatives=20, k=5)


def test_sample_negatives_refuses_more_than_a_test_user_has_unblocked(data):
    """Bug: asked for more negatives than a user has unblocked items, argpartition handed out
    blocked items (the user's own positives) as negatives without a word. Blocked = train,
    validation and test (here every user has all three)."""
    split = random_split(data, 0.2, valid_frac=0.2, seed=0)
    known = pd.concat([split.train, split.valid, split.test])
    fewest = int(split.n_items - known.groupby(USER)[ITEM].nunique().max())
    users, _, _, negatives = sample_negatives(split, fewest, np.random.default_rng(0))
    positives = _pairs_matrix(known, (split.n_users, split.n_items)).toarray()
    assert positives[users[:, None], negatives].sum() == 0  # the largest allowed draw is clean
    with pytest.raises(ValueError, match=f"exceeds the {fewest} unblocked items"):
        sample_negatives(split, fewest + 1, np.random.default_rng(0))
