"""Cold-start quality of the two-tower model: features alone must carry the ranking."""

import numpy as np
import pytest
import torch

from lessons.models import TwoTower

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


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


def test_cold_recipe_counts_title_words_of_training_items_only():
    from lessons.data import cold_start_items, synthetic_movielens
    from lessons.recipes import RECIPES

    data = synthetic_movielens(n_users=60, n_items=80, seed=0)
    split = cold_start_items(data, item_frac=0.25, seed=0)
    held = np.isin(np.arange(data.n_items), split.candidates)
    data.items["title"] = np.where(held, "Held Word (1990)", "Seen Word (1990)")
    recipe = RECIPES["TwoTower-cold"]
    model = recipe.build(split, **recipe.model_kwargs, use_title=True)
    tower = model.item_tower
    assert tower.title.num_embeddings == 2  # "seen" and "word"; "held" is in no training title
    assert len(tower.title_bag) == 2 * (~held).sum() + held.sum()  # a held-out bag: "word"


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


@pytest.mark.realdata
@pytest.mark.slow
def test_title_words_cost_the_cold_tower_ndcg_on_every_split(ml100k):
    """Notebook 04's claim, which is why no recipe reads titles.

    Measured (TwoTower-cold ± use_title, split and model seed s): NDCG@10 base → titles at
    20 epochs 0.316 → 0.281, 0.396 → 0.375, 0.284 → 0.230; at 40 epochs 0.359 → 0.328,
    0.404 → 0.356, 0.330 → 0.253. Recall@20 rose only on split 0 (0.255 → 0.278, 0.284 → 0.301).
    """
    from lessons.data import cold_start_items
    from lessons.metrics import evaluate_dict
    from lessons.recipes import train
    from lessons.scoring import score_users

    def metrics(split, seed: int, epochs: int, title: bool) -> dict:
        model, _ = train("TwoTower-cold", split, seed=seed, epochs=epochs, eval_every=None,
                         progress=False, model_kwargs={"use_title": title})  # fmt: skip
        return evaluate_dict(score_users(model, split).numpy(), split, k=10)

    ndcg_drops, recall_drops = [], []
    for seed in (0, 1, 2):
        split = cold_start_items(ml100k, item_frac=0.2, seed=seed)
        for epochs in (20, 40):
            base, titled = (metrics(split, seed, epochs, title) for title in (False, True))
            ndcg_drops.append(base["ndcg@10"] - titled["ndcg@10"])
            recall_drops.append(base["recall@20"] - titled["recall@20"])
    assert min(ndcg_drops) > 0.01  # all six fell (the smallest fall measured: 0.021)
    assert sum(drop > 0 for drop in recall_drops) == 4


@pytest.mark.realdata
def test_cold_recipe_beats_the_dot_product_profile_on_every_split(ml100k):
    """nb04's summary: with the recipe's 40 epochs the cold two-tower beats the dot-product
    content profile on Recall@20 and NDCG@10 at split seeds 0-2 (at 20 epochs it does not at
    every seed). Measured: Recall@20 0.284/0.319/0.291 against 0.250/0.254/0.261, NDCG@10
    0.359/0.404/0.330 against 0.217/0.254/0.297."""
    from lessons.baselines import ContentProfile
    from lessons.data import cold_start_items
    from lessons.metrics import evaluate_dict
    from lessons.recipes import train
    from lessons.scoring import score_users

    for seed in (0, 1, 2):
        split = cold_start_items(ml100k, item_frac=0.2, seed=seed)
        x = split.train_matrix()
        profile = ContentProfile.from_dataset(ml100k, scoring="dot").fit(x).scores(x)
        model, _ = train("TwoTower-cold", split, seed=seed, eval_every=None, progress=False)
        tower = evaluate_dict(score_users(model, split).numpy(), split, metrics=["recall", "ndcg"])
        base = evaluate_dict(profile, split, metrics=["recall", "ndcg"])
        assert tower["recall@20"] > base["recall@20"] + 0.02, (seed, tower, base)
        assert tower["ndcg@10"] > base["ndcg@10"] + 0.02, (seed, tower, base)
