"""Tests of the two-tower model and its item tower (lessons.models.two_tower, towers)."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import ItemFeatures, QueryBatch, make_batch
from lessons.models import ItemTower, QueryTower, TwoTower
from lessons.models.towers import input_mask
from tests.helpers import train_steps

N_USERS, N_ITEMS = 6, 40


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


def fake_item_features(n_items=N_ITEMS, seed=0) -> ItemFeatures:
    """Random genres (4), year buckets (5) and title bags over 10 words; item 3 has no title."""
    rng = np.random.default_rng(seed)
    genres = (rng.random((n_items, 4)) < 0.4).astype(np.float32)
    lengths = rng.integers(1, 4, n_items)
    lengths[3] = 0
    bag = rng.integers(0, 10, lengths.sum())
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return ItemFeatures(
        genres=torch.from_numpy(genres),
        year_bucket=torch.from_numpy(rng.integers(0, 5, n_items)),
        title_bag=torch.from_numpy(bag),
        title_offsets=torch.from_numpy(offsets),
        vocabulary=tuple(f"w{i}" for i in range(10)),
        n_year_buckets=5,
    )


def histories(n_target=3, seed=0):
    """Disjoint inputs (5 items) and targets (n_target items) for N_USERS users."""
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((N_USERS, N_ITEMS)), axis=1)
    n_input = 5
    rows = np.repeat(np.arange(N_USERS), n_input + n_target)
    cols = perm[:, : n_input + n_target].ravel()
    is_target = np.tile(np.arange(n_input + n_target) >= n_input, N_USERS)

    def csr(mask):
        data = np.ones(mask.sum(), np.float32)
        return sp.csr_matrix((data, (rows[mask], cols[mask])), shape=(N_USERS, N_ITEMS))

    return make_batch(np.arange(N_USERS), csr(~is_target), None, csr(is_target))


def test_shapes_and_surface():
    batch = histories()
    for loss in ("full", "in_batch"):
        model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss=loss)
        assert model.uses_history is True
        assert model.query_embedding(batch).shape == (N_USERS, 8)
        assert model.item_embeddings().shape == (N_ITEMS, 8)
        assert model(batch).shape == (N_USERS, N_ITEMS)
        assert model.loss(batch).shape == ()
        expected = model.query_embedding(batch) @ model.item_embeddings().T
        assert torch.allclose(model(batch), expected)


def test_full_softmax_overfits_a_tiny_batch():
    batch = histories()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=16, query_hidden=(32,), item_hidden=(32,))
    first, last = train_steps(model, batch)
    floor = float(np.log(3))  # entropy of a uniform target over 3 items
    assert last - floor < 0.1 * (first - floor)
    with torch.no_grad():
        top = torch.topk(model(batch), 3, dim=1).indices
    assert torch.gather(batch.target, 1, top).gt(0).all()


@pytest.mark.parametrize("normalize, temperature", [(False, 1.0), (True, 0.1)])
def test_in_batch_softmax_overfits_a_tiny_batch(normalize, temperature):
    batch = histories(n_target=1)  # one positive per row, so one example per row
    torch.manual_seed(0)
    log_q = torch.log(torch.full((N_ITEMS,), 1.0 / N_ITEMS))
    model = TwoTower(N_ITEMS, fake_item_features(), dim=16, loss="in_batch", log_q=log_q,
                     normalize=normalize, temperature=temperature)  # fmt: skip
    first, last = train_steps(model, batch)
    assert last < 0.1 * first
    positives = batch.target.argmax(1)
    with torch.no_grad():
        in_batch = model(batch)[:, positives]  # (B, B): each row's own positive on the diagonal
    # A column whose item is in the row's input is a known positive, not a negative: the
    # loss leaves it out (here user 2's input holds user 3's positive), so skip it too.
    known = input_mask(batch, N_ITEMS)[:, positives]
    assert known.sum() == 3  # the check below is not vacuous: most pairs are contrasted
    assert torch.equal(in_batch.masked_fill(known, -torch.inf).argmax(1), torch.arange(N_USERS))


def hand_batch() -> QueryBatch:
    """3 users. Inputs: u0 {1}, u1 {3}, u2 {5, 9}; targets: u0 {2}, u1 {2, 5}, u2 {7}."""
    inputs = sp.csr_matrix(([1.0] * 4, ([0, 1, 2, 2], [1, 3, 5, 9])), shape=(3, N_ITEMS))
    targets = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [2, 2, 5, 7])), shape=(3, N_ITEMS))
    return make_batch(np.arange(3), inputs, None, targets)


def test_input_mask_marks_each_rows_bag_items():
    mask = input_mask(hand_batch(), N_ITEMS)
    expected = torch.zeros(3, N_ITEMS, dtype=torch.bool)
    expected[0, 1] = expected[1, 3] = expected[2, 5] = expected[2, 9] = True
    assert torch.equal(mask, expected)
    empty_bag = QueryBatch(torch.tensor([4]), torch.tensor([0, 1]))  # row 1 has no items
    assert input_mask(empty_bag, 6).tolist() == [[False] * 4 + [True, False], [False] * 6]
    with pytest.raises(ValueError, match="bag item ids"):
        input_mask(hand_batch(), 5)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_in_batch_loss_masks_known_positives_and_scales_log_q_by_hand(alpha):
    batch = hand_batch()
    log_q = torch.log(torch.linspace(0.1, 1.0, N_ITEMS) / 10)
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q,
                     temperature=0.5, log_q_weight=alpha)  # fmt: skip
    got = model.loss(batch)
    # Examples (user, item): (0,2), (1,2), (1,5), (2,7). Column c is left out of row r when
    # c's item is a known positive (input or target) of r's user: item 2 for u0; items 2, 5
    # for u1; item 5 (an input) for u2. The diagonal always stays.
    users, items = [0, 1, 1, 2], [2, 2, 5, 7]
    excluded = [[0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 0]]
    with torch.no_grad():
        psi, phi = model.query_embedding(batch), model.item_embeddings()
    losses = []
    for r in range(4):
        s = [float(psi[users[r]] @ phi[items[c]]) / 0.5 - alpha * float(log_q[items[c]])
             for c in range(4)]  # fmt: skip
        kept = [c for c in range(4) if not excluded[r][c]]
        losses.append(-(s[r] - np.log(sum(np.exp(s[c]) for c in kept))))
    assert got.item() == pytest.approx(np.mean(losses), rel=1e-5)


def test_in_batch_refuses_batches_with_too_many_pairs(monkeypatch):
    import lessons.models.towers as towers

    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch")
    monkeypatch.setattr(towers, "MAX_IN_BATCH", 3)  # hand_batch has 4 (user, target) pairs
    with pytest.raises(ValueError, match="4 \\(user, target\\) pairs.*lower batch_size"):
        model.loss(hand_batch())
    monkeypatch.setattr(towers, "MAX_IN_BATCH", 4)
    assert torch.isfinite(model.loss(hand_batch()))


def test_in_batch_log_q_weight_zero_equals_no_correction():
    batch = hand_batch()
    torch.manual_seed(0)
    plain = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch")
    log_q = torch.log(torch.linspace(0.1, 1.0, N_ITEMS) / 10)
    zero = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q,
                    log_q_weight=0.0)  # fmt: skip
    zero.query_tower.load_state_dict(plain.query_tower.state_dict())
    zero.item_tower.load_state_dict(plain.item_tower.state_dict())
    assert torch.equal(plain.loss(batch), zero.loss(batch))
    zero.log_q_weight = 1.0
    assert zero.loss(batch).item() != pytest.approx(plain.loss(batch).item(), abs=1e-3)


def test_full_loss_leaves_inputs_and_excluded_items_out_of_the_softmax_by_hand():
    batch = hand_batch()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="full", temperature=2.0)
    cold = torch.zeros(N_ITEMS, dtype=torch.bool)
    cold[[30, 31, 32]] = True
    got = model.loss(replace(batch, exclude_items=cold))
    with torch.no_grad():
        s = (model(batch) / 2.0).double()
    inputs = [{1}, {3}, {5, 9}]
    targets = [{2: 1.0}, {2: 0.5, 5: 0.5}, {7: 1.0}]
    losses = []
    for u in range(3):
        kept = [j for j in range(N_ITEMS) if j not in inputs[u] and j not in (30, 31, 32)]
        log_z = torch.logsumexp(s[u, kept], 0)
        losses.append(-sum(p * (s[u, j] - log_z) for j, p in targets[u].items()))
    assert got.item() == pytest.approx(float(sum(losses) / 3), rel=1e-5)
    # an excluded item that is a target is an error, not a silent drop
    cold[7] = True
    with pytest.raises(ValueError, match="target mass on excluded items"):
        model.loss(replace(batch, exclude_items=cold))


def test_an_input_item_that_is_also_a_target_stays_in_the_softmax():
    inputs = sp.csr_matrix(([1.0, 1.0], ([0, 0], [1, 2])), shape=(1, N_ITEMS))
    batch = make_batch(np.arange(1), inputs, None, inputs)  # target == input
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8)
    with torch.no_grad():
        s = model(batch)[0].double()
    expected = -0.5 * (s[1] + s[2] - 2 * torch.logsumexp(s, 0))
    assert model.loss(batch).item() == pytest.approx(float(expected), rel=1e-5)


def test_normalized_towers_have_unit_norm_and_temperature_leaves_scores_alone():
    batch = histories()
    torch.manual_seed(0)
    a = TwoTower(N_ITEMS, fake_item_features(), dim=8, normalize=True, temperature=1.0)
    b = TwoTower(N_ITEMS, fake_item_features(), dim=8, normalize=True, temperature=0.05)
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a.item_embeddings().norm(dim=1), torch.ones(N_ITEMS))
    assert torch.allclose(a.query_embedding(batch).norm(dim=1), torch.ones(N_USERS))
    assert torch.equal(a(batch), b(batch))
    assert a.loss(batch).item() != pytest.approx(b.loss(batch).item(), rel=1e-3)


# --- cold start: the item tower reads features only ---------------------------------------


def with_item_copied(features: ItemFeatures, source: int, dest: int) -> ItemFeatures:
    """Features where item `dest` has exactly the genres, year and title words of `source`."""
    genres, year = features.genres.clone(), features.year_bucket.clone()
    genres[dest], year[dest] = genres[source], year[source]
    ends = torch.cat([features.title_offsets[1:], torch.tensor([features.title_bag.numel()])])
    bags = [features.title_bag[s:e] for s, e in zip(features.title_offsets, ends, strict=True)]
    bags[dest] = bags[source].flip(0)  # word order does not matter in a bag
    lengths = torch.tensor([len(b) for b in bags])
    offsets = torch.cumsum(lengths, 0) - lengths
    return ItemFeatures(genres, year, torch.cat(bags), offsets, features.vocabulary, 5)


def test_without_item_ids_identical_features_give_identical_embeddings():
    feats = with_item_copied(fake_item_features(), source=0, dest=7)
    torch.manual_seed(0)
    tower = ItemTower(feats, dim=8, hidden=(16,), use_item_id=False).eval()
    with torch.no_grad():
        phi = tower()
    assert torch.equal(phi[0], phi[7])
    assert (phi[1:7] - phi[0]).abs().sum(1).min() > 1e-4  # other items differ
    # with item ids the two items are told apart
    torch.manual_seed(0)
    with_ids = ItemTower(feats, dim=8, hidden=(16,), use_item_id=True)
    with torch.no_grad():
        assert not torch.allclose(with_ids()[0], with_ids()[7])


def test_title_words_are_read_only_when_asked_for():
    feats = fake_item_features()
    other_titles = ItemFeatures(feats.genres, feats.year_bucket, feats.title_bag.flip(0),
                                feats.title_offsets, feats.vocabulary, 5)  # fmt: skip
    outputs = {}
    for use_title in (False, True):
        for name, f in (("a", feats), ("b", other_titles)):
            torch.manual_seed(0)
            tower = ItemTower(f, dim=8, hidden=(16,), use_item_id=False, use_title=use_title)
            with torch.no_grad():
                outputs[use_title, name] = tower()
    assert torch.equal(outputs[False, "a"], outputs[False, "b"])  # titles ignored
    assert not torch.allclose(outputs[True, "a"], outputs[True, "b"])


def test_query_tower_input_dropout_acts_in_training_mode_only():
    batch = histories()
    torch.manual_seed(0)
    # hidden=() and e = d: the MLP is the identity, so ψ is the dropped-out input x itself
    tower = QueryTower(N_ITEMS, dim=16, hidden=(), input_dropout=0.5)
    plain = QueryTower(N_ITEMS, dim=16, hidden=())
    plain.load_state_dict(tower.state_dict())
    with torch.no_grad():
        x = plain(batch)  # mean bag embedding
        tower.train()
        dropped = tower(batch)
        zeroed = dropped == 0
        assert 0.3 < zeroed.float().mean() < 0.7  # about half of x's entries dropped
        torch.testing.assert_close(dropped[~zeroed], 2 * x[~zeroed])  # the rest scaled 1/(1-p)
        tower.eval()
        assert torch.equal(tower(batch), x)
    with pytest.raises(ValueError, match="input_dropout"):
        QueryTower(N_ITEMS, input_dropout=1.0)


def test_an_items_embedding_depends_only_on_its_own_features():
    feats = fake_item_features()
    torch.manual_seed(0)
    tower = ItemTower(feats, dim=8, use_item_id=False)
    changed = ItemFeatures(feats.genres.clone(), feats.year_bucket, feats.title_bag,
                           feats.title_offsets, feats.vocabulary, 5)  # fmt: skip
    changed.genres[5] = 1 - changed.genres[5]
    torch.manual_seed(0)
    other = ItemTower(changed, dim=8, use_item_id=False)
    with torch.no_grad():
        delta = (tower() - other()).abs().sum(1)
    assert delta[5] > 1e-4 and torch.all(delta[torch.arange(N_ITEMS) != 5] == 0)


def test_embedding_a_subset_of_items_equals_the_full_table():
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, item_hidden=(16,), use_title=True)
    ids = torch.tensor([3, 0, 39, 3, 17])  # item 3 has an empty title, and appears twice
    with torch.no_grad():
        assert torch.allclose(model.item_embeddings(ids), model.item_embeddings()[ids], atol=1e-6)


# --- determinism and configuration errors ------------------------------------------------


def test_same_seed_same_parameters_and_outputs():
    batch = histories()
    states = []
    for seed in (2, 2, 3):
        torch.manual_seed(seed)
        model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", dropout=0.2)
        train_steps(model, batch, steps=3)
        states.append((model.state_dict(), model.eval()(batch)))
    (a, out_a), (b, out_b), (c, _) = states
    assert all(torch.equal(a[k], b[k]) for k in a) and torch.equal(out_a, out_b)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "sampled"}, "unknown loss 'sampled'"),
        ({"temperature": 0.0}, "temperature"),
        ({"log_q": torch.zeros(N_ITEMS)}, "only applies to loss='in_batch'"),
        ({"loss": "in_batch", "log_q": torch.zeros(3)}, "log_q"),
        ({"loss": "in_batch", "log_q": torch.full((N_ITEMS,), -float("inf"))}, "finite"),
        ({"query_hidden": (-4,)}, "hidden"),
        ({"item_hidden": (8, 0)}, "hidden"),
        ({"activation": "gelu"}, "unknown activation"),
        ({"dim": 0}, "dim"),
        ({"log_q_weight": -1.0}, "log_q_weight"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"feature_dim": 0}, "feature_dim"),
    ],
)
def test_two_tower_rejects_bad_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoTower(N_ITEMS, fake_item_features(), **kwargs)


def test_item_features_must_match_the_catalogue():
    with pytest.raises(ValueError, match="describe 40 items but n_items=41"):
        TwoTower(N_ITEMS + 1, fake_item_features())
    tower = ItemTower(fake_item_features(), dim=8)
    with pytest.raises(ValueError, match="item ids"):
        tower(torch.tensor([N_ITEMS]))


# --- cold start on synthetic data: features alone must carry the ranking ------------------


def test_cold_start_two_tower_beats_content_profile_and_random():
    # Measured (synthetic 300 users × 400 items, data seed 1, 78 held-out items, 40 full-batch
    # epochs, model seeds 0/1): Recall@20 random 0.271, ContentProfile cosine 0.269, dot
    # 0.300; TwoTower 0.403 / 0.413 with the cold items excluded from the training softmax,
    # 0.368 / 0.362 with them kept in. Tolerances: +0.05 over the best baseline, +0.015
    # for the exclusion (half the measured margins).
    from lessons.baselines import ContentProfile
    from lessons.data import cold_start_items, synthetic_movielens
    from lessons.features import item_features
    from lessons.metrics import evaluate_dict
    from lessons.train import fit, score_users

    data = synthetic_movielens(n_users=300, n_items=400, seed=1)
    split = cold_start_items(data, item_frac=0.2, seed=0)
    train = split.train_matrix()

    def recall(scores) -> float:
        return evaluate_dict(scores, split, recall_k=20, metrics=["recall"])["recall@20"]

    rng = np.random.default_rng(0)
    baselines = [recall(rng.random((data.n_users, data.n_items)).astype(np.float32))]
    for scoring in ("cosine", "dot"):
        profile = ContentProfile.from_dataset(data, date_buckets="year", scoring=scoring)
        baselines.append(recall(profile.fit(train).scores(train)))
    features = item_features(data, date_buckets="year")

    def two_tower(seed: int, exclude: bool) -> float:
        torch.manual_seed(seed)
        model = TwoTower(data.n_items, features, dim=16, item_hidden=(), use_item_id=False)
        fit(model, split, epochs=40, lr=1e-2, batch_size=1024, target_share=0.2, seed=seed,
            lr_schedule="constant", eval_every=None, exclude_cold_items=exclude)  # fmt: skip
        return recall(score_users(model, split))

    excluded = np.mean([two_tower(seed, True) for seed in (0, 1)])
    kept = np.mean([two_tower(seed, False) for seed in (0, 1)])
    assert max(baselines) == pytest.approx(0.300, abs=0.02)  # the baselines did not drift
    assert excluded > max(baselines) + 0.05
    assert excluded > kept + 0.015


@pytest.mark.realdata
def test_cold_start_recipe_on_movielens_100k(ml100k):
    # Measured (cold_start_items(item_frac=0.2, seed=0), 336 held-out items; linear towers,
    # d=32, per-year buckets, 40 full-batch epochs): Recall@20 0.286 ± 0.005 over seeds 0-2
    # (seed 0: 0.2875); ContentProfile cosine on the same buckets 0.178. Goal: >= 1.5×.
    from lessons.baselines import ContentProfile
    from lessons.data import cold_start_items
    from lessons.features import item_features
    from lessons.metrics import evaluate_dict
    from lessons.train import fit, score_users

    split = cold_start_items(ml100k, item_frac=0.2, seed=0)
    train = split.train_matrix()
    profile = ContentProfile.from_dataset(ml100k, date_buckets="year").fit(train)
    baseline = evaluate_dict(profile.scores(train), split, recall_k=20)["recall@20"]
    torch.manual_seed(0)
    model = TwoTower(ml100k.n_items, item_features(ml100k, date_buckets="year"), dim=32,
                     query_hidden=(), item_hidden=(), use_item_id=False)  # fmt: skip
    fit(model, split, epochs=40, lr=1e-2, batch_size=1024, target_share=0.2,
        lr_schedule="constant", eval_every=None, seed=0)  # fmt: skip
    recall = evaluate_dict(score_users(model, split), split, recall_k=20)["recall@20"]
    assert baseline == pytest.approx(0.178, abs=0.005)
    assert recall >= 1.5 * baseline and recall == pytest.approx(0.2875, abs=0.015)
