"""Paths of the exercises, the metrics and the data loader that no test exercised.

A mutation run (247 hand-written mutants over lessons/exercises, lessons/metrics and
lessons/data) left these changes alive; each test names the change it catches and what a
learner or teacher would notice. Each was checked to pass on the code and fail under its
mutant. No real data, no network.
"""

import dataclasses
import http.client
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.data import download, registry
from lessons.data.registry import DataError, DataUnavailableError
from lessons.exercises import CORRECT, INCORRECT, Exercise, choice, close_to, nb01, nb02, nb05, nb06
from lessons.metrics import evaluate, popularity_bins, top_k
from lessons.metrics.ranking import hits_matrix

# --- exercises: the checking machinery -------------------------------------------------------


def test_a_figure_copied_with_two_decimals_is_called_rounded():
    """Mutant E05 (`range(2, 7)` -> `range(3, 7)`): notebooks print shares with 2 decimals
    (0.19); a learner who copies one must be told to compute it, not that it is 'too large'."""
    expected = 0.18846611
    ok, message = close_to(rtol=1e-6)(0.19, expected)
    assert not ok and "rounded to 2 decimals" in message


def test_a_share_of_one_given_as_100_is_called_a_percentage():
    """Mutant E07 (`abs(e) <= 1` -> `< 1`): an exact index has recall 1.0 (nb06.recall); the
    learner who answers 100 (percent) must read 'percentage', not '100 is too large'."""
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    result = nb06.recall.check(100, approx=exact.copy(), exact=exact)
    assert result.status == INCORRECT and "looks like a percentage" in result.message


@pytest.mark.parametrize("answer", ["ab", "bc"])
def test_two_letters_are_asked_to_be_one(answer):
    """Mutant E20 (`len(letter) > 1` -> `> 3`): hedging with two options ('ab') was judged as
    'not the right option' instead of asking for one letter."""
    ok, message = choice(answer, "b")
    assert not ok and "letter only" in message


def test_a_correct_answer_shows_the_explanation():
    """Mutant E27 (explanation dropped): the 'why' of every exercise is shown only on a correct
    answer; losing it turns every solved exercise into a bare 'well done'."""
    ex = Exercise("demo", "2 + 2?", lambda: 4, close_to(), ["add"], "answer = 4",
                  explanation="addition of two twos")  # fmt: skip
    assert ex.check(4).message == "addition of two twos"
    plain = dataclasses.replace(ex, explanation="")
    assert plain.check(4).message == "well done"
    assert nb05.sampled.check("c").message == nb05.sampled.explanation  # a real one too


@pytest.mark.parametrize("pitfalls", [lambda: [4.5], lambda: {}["missing"]])
def test_a_pitfall_list_that_breaks_leaves_the_comparisons_message(pitfalls):
    """Mutant E32 (the except around pitfalls narrowed): a malformed or crashing `pitfalls`
    made check() raise, against its 'never raises' contract, and a notebook run stopped."""
    ex = Exercise("demo", "2 + 2?", lambda: 4, close_to(), ["add"], "answer = 4",
                  pitfalls=pitfalls)  # fmt: skip
    result = ex.check(5)
    assert result.status == INCORRECT and result.message.startswith("5 is too large")


# --- exercises of the notebooks --------------------------------------------------------------


def test_nb01_a_trained_v_with_norms_near_one_is_not_called_edited(tiny_split):
    """Mutant N01d (`_v_edited` atol 1e-4 -> 0.5): row norms of a trained V near (not at) 1
    would make a correct list 'V was divided by its norms in place'."""
    from lessons.models import MatrixFactorization

    torch.manual_seed(0)
    model = MatrixFactorization(tiny_split.n_users, tiny_split.n_items, dim=8)
    rng = np.random.default_rng(0)
    with torch.no_grad():  # unit directions scaled to norms in [0.9, 1.1]: never all exactly 1
        v = model.item_embedding
        v /= v.norm(dim=1, keepdim=True)
        v *= torch.as_tensor(rng.uniform(0.9, 1.1, (len(v), 1)), dtype=v.dtype)
    u = model.user_embedding.detach().numpy()[0]
    v = model.item_embedding.detach().numpy()
    scores = (v @ u) / np.linalg.norm(v, axis=1)
    seen = set(tiny_split.train.loc[tiny_split.train["user"] == 0, "item"])
    right = [j for j in np.argsort(-scores) if j not in seen][:5]
    result = nb01.alpha_top.check(right, model=model, split=tiny_split)
    assert result.status == CORRECT, result.message


def test_nb02_smoothing_spreads_epsilon_over_items_not_examples():
    """Mutant N02b (ε / B instead of ε / n): the existing hand case has B = n = 2, so the
    batch size and the catalogue size could not be told apart. Here B = 2, n = 3."""
    p_hat = np.array([[0.5, 0.25, 0.25], [0.2, 0.6, 0.2]])
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    eps, n = nb02.SMOOTHING, 3
    p_eps = (1 - eps) * p + eps / n  # rows sum to 1
    right = -(p_eps * np.log(p_hat)).sum(1).mean()
    ctx = {"logits": torch.tensor(np.log(p_hat)), "target": torch.tensor(p)}
    assert nb02.smoothed_loss.check(right, **ctx).status == CORRECT
    by_rows = -(((1 - eps) * p + eps / 2) * np.log(p_hat)).sum(1).mean()
    assert not math.isclose(by_rows, right, rel_tol=1e-3)
    assert nb02.smoothed_loss.check(by_rows, **ctx).status == INCORRECT


@pytest.mark.parametrize(("side", "dense"), [(True, True), (False, True), (True, False),
                                             (False, False)])  # fmt: skip
def test_nb02_x_width_without_side_or_dense_features(tiny_split, side, dense):
    """Mutant N02g (`3 * side[0].embedding_dim`): textbook_dnn(side=False) is a documented
    option; the expected width must follow the model, checked against the first Linear layer."""
    from lessons.experiments import textbook_dnn

    model = textbook_dnn(tiny_split, (16,), dim=8, side=side, dense=dense)
    first = next(m for m in model.query_tower.modules() if isinstance(m, torch.nn.Linear))
    assert nb02.x_width.check(first.in_features, model=model).status == CORRECT


# --- metrics ---------------------------------------------------------------------------------


def test_hits_are_found_when_users_times_items_exceeds_int32():
    """Mutant M24 (int32 row ids in the user·n_items + item keys): above 2**31 cells the keys
    wrap and a relevant item is missed (a catalogue the size of ML-20M's)."""
    n_users, n_items = 50_000, 50_000  # 2.5e9 cells, sparse: a few KB
    truth = sp.csr_matrix(([1.0], ([n_users - 1], [n_items - 1])), shape=(n_users, n_items))
    topk = np.zeros((n_users, 1), dtype=np.int64)
    topk[-1, 0] = n_items - 1
    hits = hits_matrix(topk, truth, 1)
    assert hits[-1, 0] and hits.sum() == 1


def test_top_k_ranks_bfloat16_scores():
    """Mutant T01 (widen only dtypes under 2 bytes): numpy has no bfloat16, so a model run in
    bf16 made top_k raise a TypeError from torch instead of ranking."""
    values = [[0.5, 2.0, -1.0, 1.5], [3.0, 0.25, 0.75, -2.0]]  # exact in bfloat16
    want = top_k(np.array(values, dtype=np.float32), 2)
    got = top_k(torch.tensor(values, dtype=torch.bfloat16), 2)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(want, [[1, 3], [0, 2]])


def test_top_k_ranks_integer_scores_with_seen_items_excluded():
    """Mutant T24 (block keeps an integer dtype): counts as scores with exclude= wrote -inf
    into an integer array, an OverflowError; the docstring allows integer scores."""
    counts = np.array([[5, 3, 9, 1], [2, 8, 8, 0]])
    seen = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 1, 0, 0]]))
    np.testing.assert_array_equal(top_k(counts, 2, exclude=seen), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(
        top_k(counts, 2, exclude=seen), top_k(counts.astype(float), 2, exclude=seen)
    )


def test_empty_integer_candidates_get_the_clear_message():
    """Mutant T09 (size check dropped): `[]` is a float array and met the dtype check, but an
    empty int64 array (a cold-items split with nothing held out) hit numpy's 'zero-size array
    to reduction operation minimum'."""
    with pytest.raises(ValueError, match="non-empty"):
        top_k(np.ones((2, 4)), 1, candidates=np.array([], dtype=np.int64))


def test_more_popularity_bins_than_items_is_refused_at_the_boundary():
    """Mutant P22 (`n_bins > n` -> `> n + 1`): the existing case (5 bins, 3 items) was two
    past the boundary; 4 bins for 3 items left a bin with no item."""
    with pytest.raises(ValueError, match="n_bins=4 exceeds"):
        popularity_bins(np.array([1, 2, 3]), 4)
    assert sorted(popularity_bins(np.array([1, 2, 3]), 3)) == [1, 2, 3]


def test_an_empty_metric_list_is_named(tiny_split):
    """Mutant V06 (the 'metrics is empty' check dropped): the existing test matched 'empty',
    which Python's own 'max() arg is an empty sequence' also contains."""
    scores = np.random.default_rng(0).random((tiny_split.n_users, tiny_split.n_items))
    with pytest.raises(ValueError, match="metrics is empty"):
        evaluate(scores, tiny_split, metrics=[])


def test_an_empty_slot_is_no_exposure_of_the_last_candidate(tiny_split):
    """Mutant V15 (re-index table one slot short): -1 read position[-1], the position of item
    n_items - 1, so when that item is a candidate every empty slot counted as its exposure."""
    n = tiny_split.n_items
    split = dataclasses.replace(tiny_split, candidates=np.array([n - 3, n - 2, n - 1]))
    lists = np.tile(np.array([n - 3, -1]), (split.n_users, 1))
    table = evaluate(lists, split, k=2, recall_k=2, metrics=["coverage"])
    assert table["value"].iloc[0] == pytest.approx(1 / 3)  # item n - 3 of the 3 candidates


# --- data ------------------------------------------------------------------------------------


def test_the_base_url_argument_beats_the_environment(monkeypatch):
    """Mutant R04 (env or argument): the documented order is argument > $LESSONS_DATA_URL >
    GroupLens; a classroom mirror in the environment must not override an explicit argument."""
    monkeypatch.setenv("LESSONS_DATA_URL", "http://mirror.example/env")
    assert registry.resolve_base_url("http://mirror.example/arg/") == "http://mirror.example/arg"
    assert registry.resolve_base_url() == "http://mirror.example/env"


def test_a_bad_url_in_the_environment_is_a_value_error_too(monkeypatch):
    """Mutant R08 (DataSettingError no longer a ValueError): a bad base URL is a ValueError
    whether it came as an argument or from $LESSONS_DATA_URL."""
    monkeypatch.setenv("LESSONS_DATA_URL", "ftp://mirror.example")
    with pytest.raises(ValueError, match="LESSONS_DATA_URL"):
        registry.resolve_base_url()
    with pytest.raises(DataError):
        registry.resolve_base_url()


class _Response:
    """A fake urlopen response: `chunks` are returned in turn, then `then` is raised or b""."""

    def __init__(self, chunks, headers, then=None):
        self.chunks, self.headers, self.then = list(chunks), headers, then

    def read(self, n):
        if self.chunks:
            return self.chunks.pop(0)
        if self.then is not None:
            raise self.then
        return b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, response):
    monkeypatch.setenv("LESSONS_QUIET", "1")
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda *a, **k: response)


def test_a_download_cut_mid_read_counts_the_partial_bytes(monkeypatch, tmp_path):
    """Mutant D26 (partial bytes of IncompleteRead not counted): the message must report the
    bytes really received (300 streamed + 200 in the partial read)."""
    cut = http.client.IncompleteRead(b"y" * 200, 500)
    _serve(monkeypatch, _Response([b"x" * 300], {"Content-Length": "1000"}, then=cut))
    spec = registry.variant_spec("100k")
    with pytest.raises(DataUnavailableError, match="cut short after 500 of 1000 bytes"):
        download.fetch_archive(spec, tmp_path, "http://mirror.example")
    assert list(tmp_path.iterdir()) == []  # the partial file is gone


def test_an_odd_content_length_is_ignored_not_a_crash(monkeypatch, tmp_path):
    """Mutant D28 (`int(length)` on any non-empty header): a proxy's combined header
    '10, 10' raised a bare ValueError; the archive's own size check must judge instead."""
    _serve(monkeypatch, _Response([b"z" * 10], {"Content-Length": "10, 10"}))
    spec = registry.variant_spec("100k")
    with pytest.raises(DataError, match="size is 10"):
        download.fetch_archive(spec, tmp_path, "http://mirror.example")


def test_an_interrupted_first_download_leaves_no_folder(monkeypatch, tmp_path):
    """Mutant D33 (`except BaseException` -> `except Exception`): a learner who stops the kernel
    (KeyboardInterrupt) during the first download was left with the empty folders it made."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_stream", interrupted)
    root = tmp_path / "new" / "data"
    with pytest.raises(KeyboardInterrupt):
        download.ensure_variant(registry.variant_spec("100k"), root, base_url="http://x.example")
    assert list(tmp_path.iterdir()) == []
