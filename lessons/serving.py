"""Serving a retrieval model: nearest-neighbour search over V.

At serving time a trained model answers a query x with the items of largest score
s_j = ⟨ψ(x), V_j⟩: a maximum-inner-product search (MIPS) over the rows of V.

* Brute force scores all n items, O(n·d) per query, and is exact.
* An inverted-file index (IVF) clusters V once with k-means into C lists; a query scores the
  C centroids c_l, keeps the `nprobe` lists of largest ⟨ψ(x), c_l⟩ and scores only their
  items, about n·nprobe/C of them. Recall against brute force grows with nprobe and is 1 when
  every list is probed (up to ties: items with identical vectors score equal to rounding, and
  the two paths, a matrix product against one vector at a time, may round them differently).
  An IVF never looks beyond its probed lists: when they hold fewer than k items, the list
  comes back short (the `short` share of `ivf_setting`), as a FAISS IVF index does.

Training has the same n-fold cost; `lessons.training_cost` measures it.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.metrics import top_k

_BLOCK_ELEMENTS = 1 << 22  # scores per block of queries: bounds brute force's memory (16 MB)
# Latency is the fastest of this many passes, after an untimed warm-up query (as `timeit`
# advises: the minimum is the pass least disturbed by other processes). Timed once, the same
# setting read 3.8× to 10.2× brute force on a busy machine, and rows swapped order.
TIMING_PASSES = 3


def _matrix(name: str, array, dim: int | None = None) -> np.ndarray:
    """`array` as a non-empty finite float32 (rows, dim) matrix, else ValueError."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    arr = np.asarray(array, dtype=np.float32)
    if arr.ndim == 1 and dim is not None:
        arr = arr[None, :]
    if arr.ndim != 2 or 0 in arr.shape or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty finite 2-D (rows, d) matrix, got {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} has d={arr.shape[1]} but the items have d={dim}: pass ψ(x) "
                         "from the same model as V")  # fmt: skip
    return arr


def _positive(name: str, value, high: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1
    if not ok or (high is not None and value > high):
        bound = "a positive integer" + (f" <= {high}" if high is not None else "")
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return int(value)


def brute_force_top_k(queries, items, k: int) -> np.ndarray:
    """Exact top-k item ids by inner product, shape (n_queries, k), best first.

    s_qj = ⟨ψ_q, V_j⟩ for every item j; ties go to the lower item id (`lessons.metrics.top_k`).
    Queries are scored in blocks so at most ~4M scores are held at once.

    Raises:
        ValueError: On non-matrix inputs, mismatched d, or k not in [1, n_items].
    """
    items = _matrix("items", items)
    queries = _matrix("queries", queries, items.shape[1])
    k = _positive("k", k, items.shape[0])
    step = max(1, _BLOCK_ELEMENTS // items.shape[0])
    blocks = [top_k(queries[s : s + step] @ items.T, k) for s in range(0, len(queries), step)]
    return np.concatenate(blocks)


def recall_against(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of |approx_q ∩ exact_q| / |exact_q| (the approximate top-k's recall)."""
    approx, exact = np.asarray(approx), np.asarray(exact)
    if approx.shape != exact.shape or approx.ndim != 2 or not approx.size:
        raise ValueError(f"approx and exact must be (n_queries, k) id arrays of one shape, got "
                         f"{approx.shape} and {exact.shape}")  # fmt: skip
    hits = [np.intersect1d(a[a >= 0], e).size for a, e in zip(approx, exact, strict=True)]
    return float(np.mean(hits) / exact.shape[1])


@dataclass(frozen=True)
class IVFIndex:
    """Inverted-file index for inner-product search: k-means lists over the item embeddings.

    Attributes:
        items: V, (n_items, d) float32.
        centroids: c_l, (C, d): the k-means centres.
        order: Item ids grouped by list; list l is order[offsets[l]:offsets[l + 1]].
        offsets: (C + 1,) start of each list in `order`.
    """

    items: np.ndarray
    centroids: np.ndarray
    order: np.ndarray
    offsets: np.ndarray

    @classmethod
    def build(cls, items, n_clusters: int, seed: int = DEFAULT_SEED) -> "IVFIndex":
        """Cluster V into `n_clusters` lists with scikit-learn's KMeans (one init, seeded)."""
        items = _matrix("items", items)
        n_clusters = _positive("n_clusters", n_clusters, items.shape[0])
        km = KMeans(n_clusters, n_init=1, max_iter=50, random_state=seed).fit(items)
        order = np.argsort(km.labels_, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(km.labels_, minlength=n_clusters))])
        return cls(items, km.cluster_centers_.astype(np.float32), order, offsets)

    @property
    def n_clusters(self) -> int:
        return len(self.centroids)

    def probe(self, query: np.ndarray, nprobe: int) -> np.ndarray:
        """Candidate item ids of one query: the items of its `nprobe` best lists."""
        lists = np.argpartition(-(self.centroids @ query), nprobe - 1)[:nprobe]
        return np.concatenate([self.order[self.offsets[i] : self.offsets[i + 1]] for i in lists])

    def search(self, queries, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate top-k, one query at a time (as a server answers requests).

        Returns:
            (ids, scanned): ids (n_queries, k), best first, -1 where the probed lists held
            fewer than k items; scanned (n_queries,) the number of items scored per query.
        """
        queries = _matrix("queries", queries, self.items.shape[1])
        k = _positive("k", k, self.items.shape[0])
        c = self.n_clusters
        if isinstance(nprobe, bool) or not isinstance(nprobe, int | np.integer):
            raise ValueError(f"nprobe must be a whole number of lists, got {nprobe!r}")
        if not 1 <= nprobe <= c:
            raise ValueError(f"nprobe={nprobe} but the index has {c} lists: probe between 1 "
                             f"and {c} lists (or build more lists)")  # fmt: skip
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scanned = np.empty(len(queries), dtype=np.int64)
        for row, query in enumerate(queries):  # one request at a time: that is the latency
            cand = self.probe(query, nprobe)
            scanned[row] = cand.size
            if cand.size == 0:  # only empty lists probed (k-means on duplicate vectors)
                continue
            scores = self.items[cand] @ query
            last = min(k, cand.size) - 1
            kth = scores[np.argpartition(-scores, last)[last]]  # the k-th best score
            # Every item at least as good as the k-th, so that a tie at the cut goes to the
            # lower id as in brute_force_top_k (argpartition alone picks one of them at random).
            best = np.flatnonzero(scores >= kth)
            best = best[np.lexsort((cand[best], -scores[best]))][:k]  # by score, ties to lower id
            ids[row, : best.size] = cand[best]
        return ids, scanned


def fastest_ms(search: Callable[[np.ndarray], object], queries: np.ndarray) -> float:
    """Wall time of `search(queries)` in ms per query: the fastest of `TIMING_PASSES` passes,
    after one untimed warm-up query (first-call costs are not latency)."""
    search(queries[:1])
    passes = []
    for _ in range(TIMING_PASSES):
        start = time.perf_counter()
        search(queries)
        passes.append(time.perf_counter() - start)
    return 1e3 * min(passes) / len(queries)


def ms_per_query(search: Callable[[np.ndarray], object], queries: np.ndarray) -> float:
    """Wall time of `search(query)` in ms, answering one query at a time (`fastest_ms`)."""

    def one_at_a_time(batch: np.ndarray) -> None:
        for query in batch:
            search(query[None, :])

    return fastest_ms(one_at_a_time, queries)


def brute_force_ms(queries: np.ndarray, items: np.ndarray, k: int = DEFAULT_K) -> float:
    """Brute force's latency in ms per query, one query at a time on one core (as a server)."""
    with threadpool_limits(1):  # one core per request (see `ivf_tradeoff`)
        return ms_per_query(lambda q: brute_force_top_k(q, items, k), queries)


def ivf_setting(index: IVFIndex, queries: np.ndarray, exact: np.ndarray, nprobe: int) -> dict:
    """One IVF setting measured on `queries`: n_clusters, nprobe, scanned (mean share of the
    catalogue scored per query), short (share of queries whose probed lists held fewer than k
    items, so their list came back incomplete), recall of the top-k against `exact` (the
    brute-force lists, whose width is k) and ms_per_query, timed on one core (`ivf_tradeoff`)
    as the fastest of `TIMING_PASSES` (`fastest_ms`)."""
    approx, scanned = index.search(queries, exact.shape[1], nprobe)
    with threadpool_limits(1):  # search answers one query at a time: that is latency
        ms = fastest_ms(lambda batch: index.search(batch, exact.shape[1], nprobe), queries)
    return {"n_clusters": index.n_clusters, "nprobe": int(nprobe),
            "scanned": float(scanned.mean() / len(index.items)),
            "short": float((scanned < exact.shape[1]).mean()),
            "recall": recall_against(approx, exact), "ms_per_query": ms}  # fmt: skip


def ivf_tradeoff(
    queries,
    items,
    k: int = DEFAULT_K,
    n_clusters: Sequence[int] = (32,),
    nprobes: Sequence[int] = (1, 2, 4, 8),
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Recall@k against brute force and latency, for brute force and each IVF setting.

    Latency is measured on one core (BLAS limited to one thread), as a server answering one
    request per core would run; on a busy machine a multi-threaded tiny matmul mostly waits
    for its second thread to be scheduled, which would swamp the cost being measured.

    Returns:
        One row per setting (an nprobe above C is skipped for that C): method, n_clusters,
        nprobe, scanned (mean share of the catalogue scored per query), short (share of
        queries given fewer than k items), recall (of the top-k against brute force),
        ms_per_query, and speedup = brute force's ms_per_query / this row's (1 for brute
        force). It varies less between machines than the milliseconds, which follow the CPU
        and its load.

    Raises:
        ValueError: On bad matrices or k, empty settings, or a C below every nprobe.
    """
    items = _matrix("items", items)
    queries = _matrix("queries", queries, items.shape[1])
    if not len(n_clusters) or not len(nprobes):
        raise ValueError("n_clusters and nprobes must be non-empty, e.g. (32,) and (1, 4, 16)")
    nprobes = [_positive("nprobe", p) for p in nprobes]
    for c in n_clusters:
        if not any(p <= c for p in nprobes):
            raise ValueError(f"no nprobe in {tuple(nprobes)} fits an index of {c} lists: "
                             f"probe at most {c} lists")  # fmt: skip
    exact = brute_force_top_k(queries, items, k)
    rows = [{"method": "brute force", "n_clusters": 0, "nprobe": 0, "scanned": 1.0, "short": 0.0,
             "recall": 1.0, "ms_per_query": brute_force_ms(queries, items, k)}]  # fmt: skip
    for c in n_clusters:
        index = IVFIndex.build(items, c, seed)
        rows += [{"method": "IVF", **ivf_setting(index, queries, exact, p)}
                 for p in nprobes if p <= c]  # fmt: skip
    table = pd.DataFrame(rows)
    return table.assign(speedup=table["ms_per_query"].iloc[0] / table["ms_per_query"])


def clustered_catalogue(
    n_items: int, dim: int, n_topics: int = 100, n_queries: int = 200, *, spread: float = 1.0,
    seed: int = DEFAULT_SEED
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Synthetic (items, queries): points around `n_topics` random topic directions.

    V_j = t_{z_j} + spread · ε_j with t, ε ~ N(0, I/d): items share directions as trained
    embeddings do (isotropic noise would leave no structure for an index to exploit); a larger
    spread blurs the topics and makes approximate search harder. Queries are drawn the same way.
    """
    for name, value in zip(("n_items", "dim", "n_topics", "n_queries"),
                           (n_items, dim, n_topics, n_queries), strict=True):  # fmt: skip
        _positive(name, value)
    if not spread >= 0:
        raise ValueError(f"spread must be a number >= 0 (e.g. 1.0), got {spread!r}")
    rng = np.random.default_rng(seed)
    topics = rng.normal(0, dim**-0.5, (n_topics, dim))

    def draw(n: int) -> np.ndarray:
        return topics[rng.integers(n_topics, size=n)] + rng.normal(0, spread * dim**-0.5, (n, dim))

    return draw(n_items).astype(np.float32), draw(n_queries).astype(np.float32)


__all__ = [
    "IVFIndex",
    "brute_force_ms",
    "brute_force_top_k",
    "clustered_catalogue",
    "fastest_ms",
    "ivf_setting",
    "ivf_tradeoff",
    "ms_per_query",
    "recall_against",
]
