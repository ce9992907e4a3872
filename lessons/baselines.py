"""Non-neural baselines every later model is compared with: Popularity, ItemKNN, EASE, and
ContentProfile, the content-based baseline for cold-start items.

Each baseline follows the same two-step interface as scikit-learn estimators:
`fit(train)` with the binary user×item training matrix X (CSR, shape (n_users, n_items)),
then `scores(X)` returning a dense (n_users, n_items) float32 score matrix for the
histories in X. Ranking, masking of seen items and metrics live in `lessons.metrics`.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.data.dataset import Dataset
from lessons.features import item_content
from lessons.metrics import ndcg_at_k, top_k
from lessons.scoring import EPS, SCORINGS, check_int


def _check_matrix(x: sp.spmatrix, name: str = "train", allow_empty: bool = False) -> sp.csr_matrix:
    if not sp.issparse(x) or x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D scipy.sparse user×item matrix, got {type(x)!r}")
    if x.shape[0] == 0 or x.shape[1] == 0 or (x.nnz == 0 and not allow_empty):
        raise ValueError(f"{name} is empty (shape {x.shape}, {x.nnz} interactions)")
    return sp.csr_matrix(x, dtype=np.float32)


class _Baseline:
    n_items: int | None = None
    uses_history = True  # scores a user from their history (`lessons.recommend` checks it)

    def _check_fitted(self, x: sp.spmatrix, allow_empty: bool = False) -> sp.csr_matrix:
        if self.n_items is None:
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(train) first")
        x = _check_matrix(x, "histories", allow_empty)
        if x.shape[1] != self.n_items:
            raise ValueError(
                f"histories have {x.shape[1]} item columns, the model was fitted on {self.n_items}"
            )
        return x


class Popularity(_Baseline):
    """Recommend the most-interacted training items to everyone.

    score(u, j) = |{v : X_vj = 1}|, the same for every user u: the floor any
    personalised model must beat, and the extreme of popularity bias.
    """

    uses_history = False  # the same list for everyone, a user without history included

    def fit(self, train: sp.spmatrix) -> "Popularity":
        x = _check_matrix(train)
        self.n_items = x.shape[1]
        self.counts_ = np.asarray(x.sum(axis=0)).ravel().astype(np.float32)
        return self

    def scores(self, x: sp.spmatrix) -> np.ndarray:
        x = self._check_fitted(x, allow_empty=True)  # only the number of rows is read
        return np.broadcast_to(self.counts_, x.shape).copy()


class ItemKNN(_Baseline):
    """Item-based nearest neighbours with cosine similarity.

    S_ij = (x_iᵀ x_j) / (‖x_i‖ ‖x_j‖) between item columns of X, with S_ii = 0 and only
    each item's `neighbors` most similar items kept; score(u, j) = Σ_i X_ui S_ij. Equal
    similarities at that cut keep the lower item ids.

    Args:
        neighbors: Similar items kept per item (sparsifies S; None keeps all).
    """

    def __init__(self, neighbors: int | None = 100):
        if neighbors is not None:
            check_int("neighbors", neighbors, 1, hint="; or None to keep all")
        self.neighbors = neighbors

    def fit(self, train: sp.spmatrix) -> "ItemKNN":
        x = _check_matrix(train)
        self.n_items = x.shape[1]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        sim = (x.T @ x).toarray() * inv[:, None] * inv[None, :]
        np.fill_diagonal(sim, 0.0)
        if self.neighbors is not None and self.neighbors < self.n_items - 1:
            # Keep the top `neighbors` entries of each column j (the items that vote for j).
            # Cosines of small counts tie often (636 of ML-100K's 1682 columns tie at the cut
            # of 100). A stable sort keeps the lower ids on every machine; argpartition's pick
            # among ties follows the CPU's SIMD sort, which moved NDCG@10 in the 3rd decimal.
            drop = np.argsort(-sim, axis=0, kind="stable")[self.neighbors :]
            np.put_along_axis(sim, drop, 0.0, axis=0)
        self.similarity_ = sim.astype(np.float32)
        return self

    def scores(self, x: sp.spmatrix) -> np.ndarray:
        x = self._check_fitted(x)
        return np.asarray(x @ self.similarity_, dtype=np.float32)


def ridge_inverse(gram: np.ndarray, lam: float) -> np.ndarray:
    """P = (G + λI)⁻¹ for a Gram matrix G = XᵀX and λ > 0.

    G + λI is symmetric positive definite, so P comes from its Cholesky factor (LAPACK potrf,
    potri): about twice as fast as `np.linalg.inv`'s LU on ML-100K's 1682 items, and the same
    P to float64 rounding.

    Raises:
        ValueError: When G has NaN or infinite entries, or G + λI is not positive definite
            (G is not a Gram matrix).
    """
    if not np.isfinite(gram).all():  # LAPACK would return NaNs without an error
        raise ValueError("the Gram matrix XᵀX has NaN or infinite entries; X must be finite")
    a = np.array(gram, dtype=np.float64)  # a copy: LAPACK overwrites it
    a.flat[:: len(a) + 1] += lam  # + λI
    factor, info = lapack.dpotrf(a, lower=False, clean=True, overwrite_a=True)
    if info == 0:
        p, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"G + λI (λ = {lam}) is not positive definite; is G really XᵀX?")
    # potri writes the upper triangle; the factor's strict lower triangle is zero (clean).
    full = p + p.T
    np.fill_diagonal(full, np.diag(p))  # p + pᵀ counted the diagonal twice
    return full


def _ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """Closed-form EASE item-item weights B for one λ (Steck 2019, eq. 8)."""
    p = ridge_inverse(gram, lam)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


class EASE(_Baseline):
    """Embarrassingly Shallow Autoencoder (Steck 2019), a strong linear item-item model.

    B = argmin ‖X − XB‖²_F + λ‖B‖²_F  subject to diag(B) = 0, which has the closed form
    P = (XᵀX + λI)⁻¹,  B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0;  score(u, ·) = X_u B.

    Args:
        lam: The L2 weight λ. `None` picks it from `lams` by NDCG@10 on a validation
            split carved from the training matrix (a random `valid_frac` of each
            user's interactions, fixed by `seed`).
        lams: Candidate λ values for the search.
        valid_frac: Share of training interactions held out for the λ search.
        seed: Seed of that validation carve-out.
    """

    def __init__(
        self,
        lam: float | None = None,
        lams: tuple[float, ...] = (100.0, 200.0, 350.0, 500.0, 750.0, 1000.0),
        valid_frac: float = 0.1,
        seed: int = DEFAULT_SEED,
    ):
        if lam is not None and not 0 < lam < np.inf:  # `not <` refuses NaN too
            raise ValueError(f"lam must be a finite number > 0, got {lam}")
        if not lams or min(lams) <= 0:
            raise ValueError(f"lams must be a non-empty tuple of positive values, got {lams}")
        if not 0 < valid_frac < 1:
            raise ValueError(f"valid_frac must be in (0, 1), got {valid_frac}")
        self.lam, self.lams, self.valid_frac, self.seed = lam, tuple(lams), valid_frac, seed

    def fit(self, train: sp.spmatrix) -> "EASE":
        x = _check_matrix(train)
        self.n_items = x.shape[1]
        self.lam_ = self.lam if self.lam is not None else self.select_lambda(x)
        gram = (x.T @ x).toarray().astype(np.float64)
        self.weights_ = _ease_weights(gram, self.lam_).astype(np.float32)
        return self

    def select_lambda(self, x: sp.csr_matrix) -> float:
        """Pick λ from `lams` by NDCG@10 on a random holdout of `x`'s interactions.

        A catalogue of fewer than 10 items is ranked whole (NDCG@n_items).

        Raises:
            ValueError: When the holdout draws none of `x`'s interactions (a tiny matrix):
                pass `lam` to skip the search.
        """
        rng = np.random.default_rng(self.seed)
        held = rng.random(x.nnz) < self.valid_frac
        if not held.any():  # NDCG would have no relevant item to average over
            raise ValueError(
                f"EASE's λ search held out none of the {x.nnz} training interactions "
                f"(valid_frac={self.valid_frac}); pass lam to skip the search, e.g. "
                "EASE(lam=500.0), or raise valid_frac"
            )
        coo = x.tocoo()
        fit_part = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), x.shape)
        valid = sp.csr_matrix((coo.data[held], (coo.row[held], coo.col[held])), x.shape)
        gram = (fit_part.T @ fit_part).toarray().astype(np.float64)
        # EASE itself has no cut-off: a catalogue smaller than DEFAULT_K is ranked whole.
        k = min(DEFAULT_K, x.shape[1])
        self.search_ = {}
        for lam in self.lams:
            s = np.asarray(fit_part @ _ease_weights(gram, lam), dtype=np.float32)
            ranked = top_k(s, k, exclude=fit_part)
            self.search_[lam] = ndcg_at_k(ranked, valid, k)
        return max(self.search_, key=self.search_.get)

    def scores(self, x: sp.spmatrix) -> np.ndarray:
        x = self._check_fitted(x)
        return np.asarray(x @ self.weights_, dtype=np.float32)


class ContentProfile(_Baseline):
    """Content-based recommender: match each user's average content to every item's content.

    c_j = content vector of item j (by default genre multi-hot ‖ release-date-bucket one-hot,
    `lessons.features.item_content`); profile P_u = (1/|x_u|) Σ_i X_ui c_i, the mean content of
    u's history; score(u, j) = cos(P_u, c_j) (scoring="cosine") or ⟨P_u, c_j⟩ ("dot").
    It reads no interaction of item j, so it scores items never seen in training: the
    reference a cold-start two-tower model must beat. The dot product does not divide by
    ‖c_j‖, so it favours items with many genres that match the profile (the profile's own norm
    is one number per user and cannot change that user's order).

    Args:
        item_content: (n_items, n_features) content vectors c_j.
        scoring: "cosine" or "dot".
    """

    def __init__(self, item_content: np.ndarray, scoring: str = "cosine"):
        content = np.asarray(item_content, dtype=np.float32)
        if content.ndim != 2 or 0 in content.shape or not np.isfinite(content).all():
            raise ValueError(
                "item_content must be a finite 2-D (n_items, n_features) array, got shape "
                f"{content.shape}; build it with lessons.features.item_content(dataset)"
            )
        if scoring not in SCORINGS:
            raise ValueError(f"unknown scoring {scoring!r}; expected one of {SCORINGS}")
        self.content, self.scoring = content, scoring

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        *,
        date_buckets: str = "year",
        date_weight: float = 1.0,
        scoring: str = "cosine",
    ) -> "ContentProfile":
        """Content = genre multi-hot ‖ date_weight · one-hot of the `date_buckets` bucket
        (the buckets the item tower reads with the same scheme)."""
        content = item_content(dataset, date_buckets=date_buckets, date_weight=date_weight)
        return cls(content, scoring)

    def fit(self, train: sp.spmatrix) -> "ContentProfile":
        x = _check_matrix(train)
        if x.shape[1] != len(self.content):
            raise ValueError(
                f"train has {x.shape[1]} item columns but item_content describes "
                f"{len(self.content)} items"
            )
        self.n_items = x.shape[1]  # nothing is learned: the profiles are read from histories
        return self

    def scores(self, x: sp.spmatrix) -> np.ndarray:
        x = self._check_fitted(x)
        count = np.asarray(x.sum(axis=1), dtype=np.float32)  # (n_users, 1)
        profile = np.asarray(x @ self.content) / np.maximum(count, 1.0)  # P (n_users, f)
        content = self.content
        if self.scoring == "cosine":  # an all-zero vector scores 0 everywhere
            profile = profile / np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), EPS)
            norms = np.linalg.norm(content, axis=1, keepdims=True)
            content = content / np.maximum(norms, EPS)
        return (profile @ content.T).astype(np.float32)
