"""Tests of the two-tower model and its item tower (lessons.models.two_tower, towers)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import ItemFeatures, make_batch
from lessons.losses import in_batch_softmax
from lessons.models import ItemTower, TwoTower
from lessons.models.two_tower import sample_positives

N_USERS, N_ITEMS = 6, 40


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine thread hand-offs dominate."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def adam_steps(model, batch, steps: int, lr: float) -> None:
    """`steps` Adam steps on model.loss(batch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()


def train(model, batch, steps=200, lr=0.05):
    torch.manual_seed(0)
    first = model.loss(batch).item()
    adam_steps(model, batch, steps, lr)
    return first, model.loss(batch).item()


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
    first, last = train(model, batch)
    floor = float(np.log(3))  # entropy of a uniform target over 3 items
    assert last - floor < 0.1 * (first - floor)
    with torch.no_grad():
        top = torch.topk(model(batch), 3, dim=1).indices
    assert torch.gather(batch.target, 1, top).gt(0).all()


@pytest.mark.parametrize("normalize, temperature", [(False, 1.0), (True, 0.1)])
def test_in_batch_softmax_overfits_a_tiny_batch(normalize, temperature):
    batch = histories(n_target=1)  # one positive per row: the sampled positive is fixed
    torch.manual_seed(0)
    log_q = torch.log(torch.full((N_ITEMS,), 1.0 / N_ITEMS))
    model = TwoTower(N_ITEMS, fake_item_features(), dim=16, loss="in_batch", log_q=log_q,
                     normalize=normalize, temperature=temperature)  # fmt: skip
    first, last = train(model, batch)
    assert last < 0.1 * first
    positives = batch.target.argmax(1)
    with torch.no_grad():
        in_batch = model(batch)[:, positives]  # (B, B): each row's own positive on the diagonal
    assert torch.equal(in_batch.argmax(1), torch.arange(N_USERS))


def test_in_batch_loss_subtracts_log_q_of_each_sampled_column():
    batch = histories()
    log_q = torch.log(torch.linspace(0.1, 1.0, N_ITEMS) / 10)
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q,
                     temperature=0.5)  # fmt: skip
    torch.manual_seed(11)
    got = model.loss(batch)
    torch.manual_seed(11)
    positive = sample_positives(batch.target)  # the same draws as inside loss()
    psi, phi = model.query_embedding(batch), model.item_embeddings()[positive]
    logits = psi @ phi.T / 0.5 - log_q[positive][None, :]
    expected = -torch.log_softmax(logits, dim=1).diagonal().mean()
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got, in_batch_softmax(psi, phi, log_q=log_q[positive], temperature=0.5))


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


def test_sample_positives_follows_the_target_distribution():
    p = torch.tensor([[0.0, 0.5, 0.0, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0, 0.0]])
    torch.manual_seed(0)
    draws = sample_positives(p.repeat(4000, 1)).view(4000, 2)
    freq = torch.bincount(draws[:, 0], minlength=5).float() / 4000
    assert torch.all(freq[[0, 2]] == 0) and torch.all(draws[:, 1] == 0)
    assert torch.allclose(freq, p[0], atol=0.03)  # 3 standard errors ≈ 0.024


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
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, item_hidden=(16,))
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
        train(model, batch, steps=3)
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
