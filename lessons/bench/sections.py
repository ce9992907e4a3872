"""The benchmark's two extra sections: cold-start items and the logQ correction."""

from lessons.bench.runners import _recipe, measure
from lessons.config import DEFAULT_SEED

KEYS = ("recall@20", "ndcg@10", "coverage@10", "arp@10", "fit_s")

COLD_ITEM_FRAC = 0.2  # share of the movies held out whole on the cold-start split


def _content_profile(scoring: str):
    def runner(split):
        from lessons.baselines import ContentProfile
        from lessons.bench.measure import timed

        train = split.train_matrix()
        make = ContentProfile.from_dataset
        model, fit_s = timed(lambda: make(split.dataset, scoring=scoring).fit(train))
        return model.scores(train), {"fit_s": fit_s}

    return runner


def cold_start(data) -> dict:
    """Recall@20 among held-out items (`COLD_ITEM_FRAC`, seed 0): TwoTower and content profiles.

    Both read the same item content (genres and release year); ranking is restricted to the
    held-out items, which never appeared in training.
    """
    from lessons.data.splits import cold_start_items

    split = cold_start_items(data, item_frac=COLD_ITEM_FRAC, seed=DEFAULT_SEED)
    runs = {
        "TwoTower-cold": _recipe("TwoTower-cold"),
        "ContentProfile (cosine)": _content_profile("cosine"),
        "ContentProfile (dot)": _content_profile("dot"),
    }
    rows = {name: measure(runner, split) for name, runner in runs.items()}
    rows = {name: {k: row[k] for k in KEYS} for name, row in rows.items()}
    tower = rows["TwoTower-cold"]["recall@20"]
    ratios = {
        name: tower / row["recall@20"] for name, row in rows.items() if name != "TwoTower-cold"
    }
    return {
        "item_frac": COLD_ITEM_FRAC,
        "held_out_items": len(split.candidates),
        "models": rows,
        "ratio": ratios,
    }


def logq(split) -> dict:
    """In-batch sampled softmax with and without logQ correction, and the full softmax scored
    both ways: the dot product of the TwoTower recipe, and the in-batch recipes' cosine at
    τ = 0.1 (the control for the correction: same scoring, exact loss)."""
    runs = ("TwoTower-inbatch", "TwoTower-inbatch-logQ", "TwoTower", "TwoTower-cosine")
    rows = {name: measure(_recipe(name), split) for name in runs}
    return {name: {k: row[k] for k in KEYS} for name, row in rows.items()}
