"""Paths of features, recommend, baselines, serving, negative sampling and re-ranking that a
mutation run found untested: each mutant named under "Catches:" passed every other test.

Each test says why a learner or teacher would notice. Expected values come from docstrings or
hand computation, never from the output of the code under test.
"""

import warnings
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_info

import lessons.serving as serving
from lessons.baselines import Popularity
from lessons.data import random_split, synthetic_movielens
from lessons.features import ad_hoc_query, query_features
from lessons.features.epochs import EpochSampler
from lessons.negative_sampling import sample_negatives
from lessons.recommend import similar_items
from lessons.rerank import rerank_for_coverage
from lessons.serving import IVFIndex, brute_force_top_k, clustered_catalogue
from tests.helpers import DAY, tiny_dataset

# --- features ------------------------------------------------------------------------------


def test_ad_hoc_query_accepts_the_ages_at_both_ends_of_the_stated_range():
    """Catches: `1 <= age <= 120` narrowed to `1 < age` (batches.py:167), which refused a
    one-year-old while the error message says ages run from 1 to 120; only age 0 was tested."""
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions)
    assert ad_hoc_query(ds, [0], features=f, age=1).side[0, 0].item() == 0  # under 18
    assert ad_hoc_query(ds, [0], features=f, age=120).side[0, 0].item() == 6  # 56 and over
    for age in (0, 0.5, 120.5, 121):
        with pytest.raises(ValueError, match="between 1 and 120"):
            ad_hoc_query(ds, [0], features=f, age=age)


def test_epoch_sampler_dates_items_without_a_known_time_to_the_start_of_the_history():
    """Catches: `np.where(times > 0, times, self.start)` dropped (epochs.py:94), or `start`
    read as 0 instead of the earliest timestamp (epochs.py:92). A training item missing from
    the feature history has no time; the code says it counts as "long ago", the start of the
    history, as `query_features` dates an empty history. Read as time 0 (1 Jan 1970) the
    recency of such a bag becomes decades, log1p(~10^4 days) / 5 ≈ 1.9, far outside the
    [0, 1.5] range the dense features are scaled to."""
    ds = tiny_dataset()  # timestamps 0..10 days; user 1 has items 1 (day 2) and 3 (day 3)
    shifted = ds.interactions.assign(timestamp=ds.interactions["timestamp"] + 1000 * DAY)
    without_user_1 = shifted[shifted["user"] != 1]  # the features never saw user 1's items
    features = query_features(ds, without_user_1)
    now, start = without_user_1["timestamp"].max(), without_user_1["timestamp"].min()
    expected = np.log1p((now - start) / DAY) / 5  # log1p(10 days) / 5
    sampler = EpochSampler(ds.matrix(), 0.5, features)
    for seed in range(3):  # whichever of user 1's two items lands in the bag
        (batch,) = sampler.epoch(np.random.default_rng(seed), 8)
        row = batch.users.tolist().index(1)
        assert batch.dense[row, 1].item() == pytest.approx(expected, rel=1e-5)


def test_query_features_of_an_empty_history_frame():
    """Catches: the `len(history)` guard dropped (query.py:192). An empty frame that has a
    timestamp column then built an empty time matrix and crashed on numpy's "zero-size array
    to reduction operation"; it must give every user count 0 and recency 0 (no time span)."""
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions.iloc[:0])
    assert f.times is None
    np.testing.assert_array_equal(f.dense.numpy(), np.zeros((ds.n_users, 2)))


# --- recommend -----------------------------------------------------------------------------


def test_similar_items_on_a_dataset_with_a_never_rated_last_item(tiny_data, tiny_mf):
    """Catches: `np.bincount(..., minlength=n)` without minlength (recommend.py:242). When the
    catalogue's last items were never rated (as `Dataset.implicit(min_rating=4)` can leave
    them), the popularity array is shorter than the catalogue and listing such an item raised
    an IndexError; it must show popularity 0."""
    last = tiny_data.n_items - 1
    inter = tiny_data.interactions
    data = replace(tiny_data, interactions=inter[inter["item"] != last].reset_index(drop=True))
    table = similar_items(tiny_mf, data, 0, k=data.n_items - 1)  # lists every other item
    counts = {j: int((data.interactions["item"] == j).sum()) for j in table["item"]}
    assert table["popularity"].tolist() == [counts[j] for j in table["item"]]
    assert counts[last] == 0 and last in table["item"].tolist()


# --- baselines -----------------------------------------------------------------------------


def test_popularity_scores_are_an_ordinary_writable_matrix():
    """Catches: the `.copy()` of `np.broadcast_to` dropped (baselines.py:60). The scores are
    then a read-only view whose rows share one buffer: a learner masking seen items in place
    (`s[x.nonzero()] = -np.inf`, as for every other baseline) gets "assignment destination is
    read-only"."""
    x = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=np.float32))
    s = Popularity().fit(x).scores(x)
    assert s.shape == (3, 4) and s.flags.writeable
    s[x.nonzero()] = -np.inf  # mask what each user has seen
    np.testing.assert_array_equal(s[0], [-np.inf, 1, -np.inf, 1])  # counts 1, 1, 3, 1
    np.testing.assert_array_equal(s[1], [1, -np.inf, -np.inf, 1])


# --- serving -------------------------------------------------------------------------------


def test_a_one_dimensional_item_matrix_is_refused_not_read_as_one_item():
    """Catches: a 1-D array promoted to one row whatever its role (serving.py:42, `dim is not
    None` dropped). V passed as a flat vector then became a one-item catalogue: every query
    got item 0 back, or a "k must be <= 1" that points at k instead of V."""
    rng = np.random.default_rng(0)
    flat_items, queries = rng.normal(size=8), rng.normal(size=(3, 8))
    with pytest.raises(ValueError, match="items must be a non-empty finite 2-D"):
        brute_force_top_k(queries, flat_items, 1)
    with pytest.raises(ValueError, match="items must be a non-empty finite 2-D"):
        IVFIndex.build(flat_items, 1)
    one_query = brute_force_top_k(queries[0], rng.normal(size=(5, 8)), 2)  # a query may be 1-D
    assert one_query.shape == (1, 2)


@pytest.mark.parametrize("spread", [0.5, 1.0])
def test_clustered_catalogue_draws_topics_and_noise_of_variance_one_over_d(spread):
    """Catches: the noise drawn with scale `spread` instead of spread·d^-1/2 (serving.py:262).
    The docstring's t, ε ~ N(0, I/d) give E‖V_j‖² = 1 + spread²; with the mutant the noise
    alone has E‖ε‖² = d·spread², so the topics the IVF lessons rely on drown (recall of every
    nprobe collapses in the notebook's table while the test on `spread=0` still passes)."""
    dim = 16
    items, queries = clustered_catalogue(4000, dim, n_topics=400, n_queries=4000,
                                         spread=spread, seed=0)  # fmt: skip
    for points in (items, queries):
        mean_sq_norm = float((points.astype(np.float64) ** 2).sum(1).mean())
        assert mean_sq_norm == pytest.approx(1 + spread**2, rel=0.1)


def test_brute_force_latency_is_measured_on_one_blas_thread(monkeypatch):
    """Catches: `threadpool_limits(1)` in `brute_force_ms` raised to 2 (serving.py:179). The
    lessons time brute force as a server's single core; with two BLAS threads on a busy
    2-core machine the baseline of every speedup in the notebook's table is distorted."""
    seen = []

    def recording_search(queries, items, k):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return np.zeros((len(queries), k), dtype=np.int64)

    monkeypatch.setattr(serving, "brute_force_top_k", recording_search)
    rng = np.random.default_rng(0)
    serving.brute_force_ms(rng.normal(size=(2, 4)), rng.normal(size=(6, 4)), k=2)
    assert seen and set(seen) == {1}


# --- negative sampling ---------------------------------------------------------------------


def test_sampled_negatives_are_the_smallest_unblocked_keys_on_a_large_catalogue():
    """Catches: `np.argpartition(keys, n_negatives - 1)` partitioned at 0 instead
    (negative_sampling.py:60). On catalogues of a hundred items numpy's argpartition happens to
    sort whole rows, so the existing 120-item test passes; on 1,500 items the first
    n_negatives columns then include blocked items (a user's own positives, inf keys) as
    negatives, and repeat none of them only by chance."""
    split = random_split(synthetic_movielens(n_users=40, n_items=1500, seed=0), 0.2, seed=0)
    blocked = (split.seen_matrix() + split.test_matrix()).toarray() > 0
    fewest = int(split.n_items - blocked.sum(1).max())
    users, _, _, negatives = sample_negatives(split, fewest // 2, np.random.default_rng(0))
    assert negatives.shape == (users.size, fewest // 2)
    assert not blocked[users[:, None], negatives].any()  # never a seen or test item
    assert all(len(set(row)) == row.size for row in negatives)  # without replacement


# --- rerank --------------------------------------------------------------------------------


def test_rerank_is_not_pushed_one_swap_past_a_target_by_float_rounding():
    """Catches: the `- 1e-9` dropped from ceil(target · n_items) (rerank.py:79). In floating
    point 0.07 · 100 is 7.000000000000001 (also 0.14, 0.28, 0.55, 0.56 of 100 items), so the
    mutant asks for one item more than the target, makes a needless swap and gives up score
    for coverage nobody asked for. The existing tests use targets whose products are exact."""
    n_users, n_items = 60, 100
    scores = np.random.default_rng(0).random((n_users, n_items))
    scores[:, 0] += 10  # everyone's top-1 is item 0: Coverage@1 starts at 1 / 100
    for t in (7, 14, 28, 55, 56):  # one user per new item: 60 users can add up to 60 items
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # reachable: no "stopped below the target" warning
            lists = rerank_for_coverage(scores, 1, t / 100, depth=n_items)
        assert len(np.unique(lists)) == t, t  # Coverage@1 = t / 100, the target exactly
        assert (lists[:, 0] != 0).sum() == t - 1, t  # one swap per added item
