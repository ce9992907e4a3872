"""Edge cases of the baselines: EASE's λ search and ContentProfile's date buckets.

Each test guards a plausible bug that would still give believable numbers (found by mutating
the code by hand); the expected values come from the docstrings, not from the code's output.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import lessons.baselines as baselines
import lessons.metrics as metrics
from lessons.baselines import EASE, ContentProfile
from lessons.data import synthetic_movielens


@pytest.fixture
def x():
    rng = np.random.default_rng(2)
    return sp.csr_matrix((rng.random((200, 50)) < 0.2).astype(np.float32))


def _search_inputs(monkeypatch, model, x):
    """(exclude, truth) pairs that select_lambda ranks and scores with, one per λ."""
    excludes, truths = [], []
    real_top_k, real_ndcg = metrics.top_k, metrics.ndcg_at_k

    def top_k(scores, k, exclude=None, *args, **kwargs):
        excludes.append(exclude)
        return real_top_k(scores, k, exclude, *args, **kwargs)

    def ndcg_at_k(ranked, truth, k):
        truths.append(truth)
        return real_ndcg(ranked, truth, k)

    # select_lambda calls the names lessons.baselines imported from lessons.metrics
    monkeypatch.setattr(baselines, "top_k", top_k)
    monkeypatch.setattr(baselines, "ndcg_at_k", ndcg_at_k)
    model.fit(x)
    return list(zip(excludes, truths, strict=True))


@pytest.mark.parametrize("valid_frac", [0.1, 0.3])
def test_lambda_search_holds_out_valid_frac_and_ranks_only_the_rest(monkeypatch, x, valid_frac):
    """Bugs: the holdout keeps 1 − valid_frac instead of valid_frac (`>` for `<`), or the
    ranking forgets to exclude the interactions the λ candidates were fitted on (which then
    crowd the top 10, and λ is chosen on a meaningless NDCG)."""
    lams = (1.0, 10.0, 100.0)
    pairs = _search_inputs(monkeypatch, EASE(lams=lams, valid_frac=valid_frac), x)
    assert len(pairs) == len(lams)
    for exclude, truth in pairs:
        assert exclude is not None, "the fitted part must be excluded from the ranking"
        fit_part, valid = sp.csr_matrix(exclude), sp.csr_matrix(truth)
        assert fit_part.multiply(valid).nnz == 0  # disjoint
        assert abs(fit_part + valid - x).sum() == 0  # together exactly the training matrix
        assert valid.nnz / x.nnz == pytest.approx(valid_frac, abs=0.03)  # ~2000 interactions


def test_lambda_search_fits_and_scores_on_the_fitted_part_only(monkeypatch, x):
    """Bugs: a candidate's Gram matrix or its scores read the whole training matrix, so the
    held-out interactions are model input too and λ is chosen on an optimistic NDCG. Each
    search_ value is NDCG@10 of EASE fitted and scored on the fitted part alone (Steck's
    closed form, B = −P / diag(P) with a zero diagonal, P = (XᵀX + λI)⁻¹)."""
    lams = (1.0, 10.0, 100.0)
    model = EASE(lams=lams)
    (fit_part, valid), *_ = _search_inputs(monkeypatch, model, x)
    monkeypatch.undo()
    fit_part, valid = sp.csr_matrix(fit_part), sp.csr_matrix(valid)
    gram = (fit_part.T @ fit_part).toarray().astype(np.float64)
    for lam in lams:
        p = np.linalg.inv(gram + lam * np.eye(len(gram)))
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        scores = np.asarray(fit_part @ b, dtype=np.float32)
        ranked = metrics.top_k(scores, 10, exclude=fit_part)
        assert model.search_[lam] == pytest.approx(metrics.ndcg_at_k(ranked, valid, 10)), lam


def test_lambda_search_is_fixed_by_its_seed(monkeypatch, x):
    """Bug: the validation carve-out ignores `seed` (an unseeded generator), so the chosen λ
    and the search table change from run to run."""
    first = EASE(lams=(1.0, 10.0, 100.0), seed=5).fit(x).search_
    again = EASE(lams=(1.0, 10.0, 100.0), seed=5).fit(x).search_
    assert first == again
    held = [_search_inputs(monkeypatch, EASE(lams=(10.0,), seed=s), x)[0][1] for s in (5, 6)]
    assert abs(held[0] - held[1]).sum() > 0  # another seed carves out other interactions


def test_lambda_search_ranks_a_catalogue_smaller_than_k_whole(monkeypatch):
    """Bug: the search ranked a top-10 on any catalogue, so EASE (which has no k) failed on
    5 items with "k=10 exceeds the 5 items". Fewer than 10 items are ranked whole."""
    x = sp.csr_matrix(
        np.array([[1, 1, 0, 0, 1], [0, 1, 1, 0, 0], [1, 0, 0, 1, 0], [0, 0, 1, 1, 1]], np.float32)
    )
    cutoffs = []
    real_top_k = metrics.top_k

    def top_k(scores, k, *args, **kwargs):
        cutoffs.append(k)
        return real_top_k(scores, k, *args, **kwargs)

    monkeypatch.setattr(baselines, "top_k", top_k)
    model = EASE(lams=(1.0, 100.0), valid_frac=0.3).fit(x)
    assert cutoffs == [5, 5]  # one whole-catalogue ranking per λ
    assert model.lam_ in (1.0, 100.0)
    assert all(0 < ndcg <= 1 for ndcg in model.search_.values())


def test_lambda_search_with_nothing_held_out_asks_for_lam():
    """Bug: a holdout that drew no interaction failed inside NDCG ("truth has no relevant
    item"), which does not say that passing lam avoids the search."""
    x = sp.csr_matrix(np.eye(20, dtype=np.float32))
    with pytest.raises(ValueError, match=r"held out none of the 20 .*pass lam"):
        EASE(valid_frac=1e-9).fit(x)  # P(any of 20 draws < 1e-9) is about 2e-8
    assert EASE(lam=10.0, valid_frac=1e-9).fit(x).lam_ == 10.0  # the advice works


@pytest.mark.parametrize("lam", [0.5, 500.0])
def test_ridge_inverse_is_the_whole_symmetric_inverse(x, lam):
    """Bugs: the Cholesky route returns potri's upper triangle alone, or counts the diagonal
    twice when mirroring it, or adds λ off the diagonal."""
    gram = (x.T @ x).toarray().astype(np.float64)
    expected = np.linalg.inv(gram + lam * np.eye(len(gram)))
    p = baselines.ridge_inverse(gram, lam)
    np.testing.assert_allclose(p, expected, rtol=1e-9, atol=1e-12)
    assert (gram == (x.T @ x).toarray()).all(), "the Gram matrix is the caller's; left as it was"
    counts = (x.T @ x).toarray().astype(np.int64)  # an integer Gram: λ must not be truncated
    np.testing.assert_allclose(baselines.ridge_inverse(counts, lam), expected, rtol=1e-9)


def test_ridge_inverse_refuses_what_has_no_inverse_by_name():
    """Bug: LAPACK's Cholesky returns NaNs for a NaN entry without an error code."""
    gram = np.eye(3)
    gram[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite entries; X must be finite"):
        baselines.ridge_inverse(gram, 1.0)
    with pytest.raises(ValueError, match=r"λ = 1.0\) is not positive definite; is G really XᵀX"):
        baselines.ridge_inverse(-2 * np.eye(3), 1.0)


def test_content_profile_from_dataset_uses_the_requested_date_buckets():
    """Bug: `date_buckets` not passed on, so every scheme silently gives the default yearly
    buckets. With decades, two 1990s items share their date column; with years they do not."""
    data = synthetic_movielens(n_users=50, n_items=60, seed=0)
    years = data.items["year"].to_numpy()
    a, b = (int(np.flatnonzero(years == y)[0]) for y in sorted(set(years[years >= 1990]))[:2])
    n_genres = len(data.genres)
    for scheme, same in (("decade", True), ("year", False)):
        date = ContentProfile.from_dataset(data, date_buckets=scheme).content[:, n_genres:]
        assert (date[[a, b]] != 0).sum(axis=1).tolist() == [1, 1]  # one bucket each
        assert np.array_equal(date[a], date[b]) == same, scheme
