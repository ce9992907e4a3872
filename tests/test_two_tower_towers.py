"""The towers: the item tower reads features only (cold start), query-tower input dropout."""

from dataclasses import replace

import pytest
import torch

from lessons.features import ItemFeatures
from lessons.models import ItemTower, QueryTower, TwoTower
from tests.helpers import N_ITEMS, fake_item_features, history_batch

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads

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
    batch = history_batch()
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


@pytest.mark.parametrize("part", ["genres", "year_bucket"])
def test_an_items_embedding_depends_only_on_its_own_features(part):
    """φ reads each feature of its own item (a tower that ignored the year bucket passed every
    synthetic test once; only two ML-100K tests caught it)."""
    feats = fake_item_features()
    torch.manual_seed(0)
    tower = ItemTower(feats, dim=8, use_item_id=False)
    changed = replace(feats, genres=feats.genres.clone(), year_bucket=feats.year_bucket.clone())
    if part == "genres":
        changed.genres[5] = 1 - changed.genres[5]
    else:
        changed.year_bucket[5] = (changed.year_bucket[5] + 1) % feats.n_year_buckets
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
