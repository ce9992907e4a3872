"""Figures that notebook 04 (two-tower models) quotes in its markdown, measured on real data.

CI re-executes the notebook but compares only the outputs of `# NBVAL_CHECK_OUTPUT` cells, so a
code change that makes one of these sentences false would pass it. Each test reruns the
notebook's own calls at its parameters cell (SEED = 0, TEST_FRAC = COLD_FRAC = 0.2, K = 10,
INBATCH_EPOCHS = 3, COLD_EPOCHS = 20, DNN_EPOCHS = 6), or the run the sentence names (the
recipes' full training of `python -m lessons.bench`, another split seed), and checks the
quoted figures with float-noise tolerances and the relation the sentence draws. Every value
below came out the same to four decimals on 1 and 2 torch threads. The splits and the
"TwoTower" recipe's run are conftest's (notebooks 01 and 05 read them too).

Figures other tests already pin are left to them: the DNN's 0.440
(test_lesson_figures_nb02.py), the cosine profile's 0.178 and the 6/6 and 4/6 title-word
counts (test_two_tower_cold_start).

Tolerances: ±0.003 on a metric in [0, 1]; ±1 on an ARP@10 (a mean training count of ~100-250,
quoted to the unit: the same relative band, and one recommended item more or less moves it by
up to 0.05).
"""

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.realdata, pytest.mark.usefixtures("one_thread")]

SEED = 0  # notebook 04's parameters cell
COLD_FRAC = 0.2
K = 10
INBATCH_EPOCHS = 3
COLD_EPOCHS = 20
DNN_EPOCHS = 6
METRICS = ["recall", "ndcg", "coverage"]  # cells 17, 21 and 26
DNN_FULL_NDCG = 0.4395  # SoftmaxDNN recipe, seed 0: pinned ±0.005 by test_lesson_figures_nb02


def _near(value: float, expected: float, tol: float = 0.003) -> bool:
    return value == pytest.approx(expected, abs=tol)


@pytest.fixture(scope="module")
def split(ml100k_split):
    """The notebook's split: random_split(data, TEST_FRAC, seed=SEED)."""
    return ml100k_split


@pytest.fixture(scope="module")
def cold(ml100k_cold_split):
    """Sections 3-4's split: cold_start_items(data, COLD_FRAC, seed=SEED)."""
    return ml100k_cold_split


def _cold_tower(split, seed: int, epochs: int, *, exclude_cold_items=True, **model_kwargs):
    """train("TwoTower-cold", ...) as cells 15 and 21 call it (cell 14: with the held-out items
    kept in the training softmax), and its score matrix."""
    from lessons.recipes import train
    from lessons.scoring import score_users

    model, _ = train("TwoTower-cold", split, seed=seed, epochs=epochs, eval_every=None,
                     progress=False, exclude_cold_items=exclude_cold_items,
                     model_kwargs=model_kwargs)  # fmt: skip
    return model, score_users(model, split).numpy()


def _profile(dataset, split, scoring: str) -> np.ndarray:
    """Cell 15's ContentProfile scores (genres + release year, learns nothing)."""
    from lessons.baselines import ContentProfile

    x = split.train_matrix()
    return ContentProfile.from_dataset(dataset, scoring=scoring).fit(x).scores(x)


def _evaluate(scores, split) -> dict:
    from lessons.metrics import evaluate_dict

    return evaluate_dict(scores, split, k=K, metrics=METRICS)


# --- Section 2: in-batch softmax and the logQ correction ------------------------------------


@pytest.fixture(scope="module")
def short_runs(split, one_thread):
    """Cell 11: logq_run(split, beta=b, epochs=3, seed=0, k=10) for b = 0, 1 (~2 s)."""
    from lessons.widgets.logq import logq_run

    settings = {"epochs": INBATCH_EPOCHS, "seed": SEED, "k": K}
    return {b: logq_run(split, beta=b, **settings) for b in (0.0, 1.0)}


def test_in_batch_examples_per_batch_are_about_540(split):
    """Notebook 04, markdown cell 8: "With 32 users per batch, P is about 540 on MovieLens.
    Each user gives a random 20% of their training movies as targets (the recipe's
    `target_share`). So each example meets hundreds of negatives, not 31."

    Measured with fit's own sampler (EpochSampler, target_share 0.2, batches of 32): 542.8
    (user, target) pairs per batch on average over all users, 542.7 over one epoch's 29 full
    batches (407 to 819). Counts, no float noise: the bounds are the sentence's rounding,
    [535, 545). Guards the per-user target count (round(0.2·n), clipped to [1, n-1]): ceil
    instead of round gives 556, the recipe's share changed moves it by 27 per 0.01."""
    from lessons.features.epochs import EpochSampler
    from lessons.recipes import RECIPES

    fit_kwargs = RECIPES["TwoTower-inbatch-logQ"].fit_kwargs
    assert fit_kwargs["batch_size"] == 32 and fit_kwargs["target_share"] == 0.2
    sampler = EpochSampler(split.train_matrix(), fit_kwargs["target_share"])
    assert 535 <= 32 * sampler.n_target.mean() < 545
    batches = sampler.epoch(np.random.default_rng(SEED), 32)
    sizes = np.array([len(batch.target_items) for batch in batches[:-1]])  # the full batches
    assert 535 <= sizes.mean() < 545
    assert sizes.min() - 1 > 100  # "hundreds of negatives, not 31"


def test_uncorrected_in_batch_softmax_is_popularity_averse(short_runs):
    """Notebook 04, markdown cell 13, on cell 11's two 3-epoch runs: "Uncorrected, the in-batch
    softmax is popularity-averse. ... The lists drift to the tail: high coverage, low ARP, and
    poor accuracy. Subtracting log q_j cancels that over-sampling, and accuracy comes back."

    Measured (cell 11's table): β = 0: Recall@20 0.1294, NDCG@10 0.1738, coverage@10 0.4780,
    ARP@10 85.72; β = 1: 0.2979, 0.3574, 0.1855, 247.95. Each value ±0.003 (ARP ±1), and the
    four directions with margins far inside the measured gaps. Guards the correction (its sign,
    β reaching the loss, q from the training counts) at the widget's own settings."""
    plain, corrected = short_runs[0.0], short_runs[1.0]
    assert _near(plain["recall@20"], 0.1294) and _near(corrected["recall@20"], 0.2979)
    assert _near(plain["ndcg@10"], 0.1738) and _near(corrected["ndcg@10"], 0.3574)
    assert _near(plain["coverage@10"], 0.4780) and _near(corrected["coverage@10"], 0.1855)
    assert _near(plain["arp@10"], 85.72, tol=1) and _near(corrected["arp@10"], 247.95, tol=1)
    assert plain["coverage@10"] > corrected["coverage@10"] + 0.2  # high coverage
    assert plain["arp@10"] < corrected["arp@10"] - 100  # low ARP
    assert plain["recall@20"] < corrected["recall@20"] - 0.1  # poor accuracy
    assert plain["ndcg@10"] < corrected["ndcg@10"] - 0.1


@pytest.fixture(scope="module")
def recipe_runs(split, two_tower_recipe_model, one_thread):
    """The benchmark's logQ section (`lessons.bench.sections.logq`): the four two-tower recipes
    at their full training (10 in-batch epochs, 40 full-softmax ones), default seed 0 (~6 s).
    "TwoTower" is conftest's run (the same call; notebook 05 reads it too)."""
    from lessons.metrics import evaluate_dict
    from lessons.recipes import train
    from lessons.scoring import score_users

    names = ("TwoTower-inbatch", "TwoTower-inbatch-logQ", "TwoTower", "TwoTower-cosine")
    runs = {}
    for name in names:
        if name == "TwoTower":
            model = two_tower_recipe_model
        else:
            model, _ = train(name, split, eval_every=None, progress=False)
        runs[name] = evaluate_dict(score_users(model, split).numpy(), split, k=K)
    return runs


# Markdown cell 13's table: Recall@20, NDCG@10, coverage@10, ARP@10 (measured values).
LOGQ_TABLE = {
    "TwoTower-inbatch": (0.1951, 0.2255, 0.7194, 101.12),  # quoted 0.195 0.226 0.719 101
    "TwoTower-inbatch-logQ": (0.3409, 0.4156, 0.2854, 223.55),  # 0.341 0.416 0.285 224
    "TwoTower": (0.3221, 0.3890, 0.1897, 243.21),  # 0.322 0.389 0.190 243
    "TwoTower-cosine": (0.3414, 0.4122, 0.2658, 226.29),  # 0.341 0.412 0.266 226
}


def test_logq_table_of_the_recipes_full_training(recipe_runs):
    """Notebook 04, markdown cell 13: the table "the recipes' full training (`python -m
    lessons.bench`, same split)" and its reading: "Scored the same way, the corrected in-batch
    model and the full softmax nearly agree: ARP@10 224 against 226, and Recall@20 0.341 for
    both. ... The dot-product full softmax is less accurate and leans more on popular items."
    Cell 28: "With the recipes' full training the DNN is ahead: NDCG@10 0.440 against 0.416".
    The summary (cell 31) repeats "ARP@10 224 against 226".

    Measured: the 16 values of LOGQ_TABLE, each quoted figure its rounding. test_recipes checks
    only relations between these runs (|ΔRecall| <= 0.015, |ΔARP| <= 10); here every value is
    pinned (±0.003, ARP ±1), "0.341 for both" within 0.003 of each other, "224 against 226"
    as the corrected model lower by 0 to 5 (measured 2.7), and the DNN's 0.4395 (pinned
    elsewhere) ahead of the in-batch two-tower by more than 0.015 (measured 0.024)."""
    for name, expected in LOGQ_TABLE.items():
        got = recipe_runs[name]
        measured = (got["recall@20"], got["ndcg@10"], got["coverage@10"], got["arp@10"])
        tolerances = (0.003, 0.003, 0.003, 1.0)
        for value, want, tol in zip(measured, expected, tolerances, strict=True):
            assert _near(value, want, tol=tol), (name, measured)
    logq, cosine = recipe_runs["TwoTower-inbatch-logQ"], recipe_runs["TwoTower-cosine"]
    dot = recipe_runs["TwoTower"]
    assert abs(logq["recall@20"] - cosine["recall@20"]) <= 0.003  # "0.341 for both"
    assert 0 < cosine["arp@10"] - logq["arp@10"] < 5  # "224 against 226"
    assert dot["recall@20"] < cosine["recall@20"] - 0.01  # "less accurate"
    assert dot["ndcg@10"] < cosine["ndcg@10"] - 0.01
    assert dot["arp@10"] > cosine["arp@10"] + 10  # "leans more on popular items"
    assert dot["coverage@10"] < cosine["coverage@10"] - 0.05
    assert logq["ndcg@10"] < DNN_FULL_NDCG - 0.015  # cell 28: "the DNN is ahead"


@pytest.fixture(scope="module")
def ten_epoch_runs(split, one_thread):
    """Markdown cell 13's two 10-epoch runs, as the "Try it" panel trains them (~3 s):
    logq_run(split, beta=0, temperature=0.2, epochs=10) and (beta=1, temperature=1.0)."""
    from lessons.widgets.logq import logq_run

    return {
        "uncorrected, tau 0.2": logq_run(split, beta=0.0, temperature=0.2, epochs=10, seed=SEED),
        "corrected, tau 1": logq_run(split, beta=1.0, temperature=1.0, epochs=10, seed=SEED),
    }


def test_the_popularity_gap_is_not_a_side_effect_of_accuracy(ten_epoch_runs, recipe_runs):
    """Notebook 04, markdown cell 13: "Nor is the popularity gap a side effect of accuracy.
    Compare two runs at the same 10 epochs: Uncorrected, the best of τ = 0.1, 0.15, 0.2, 0.25
    and 0.5 is τ = 0.2. It reaches Recall@20 0.205, with ARP 104 and coverage 0.72. The
    corrected model, made *less* accurate with τ = 1 (Recall@20 0.224), still has ARP 194 and
    coverage 0.18."

    Measured: τ = 0.2, β = 0: Recall@20 0.2047, ARP@10 103.88, coverage@10 0.7176; τ = 1,
    β = 1: 0.2242, 194.18, 0.1807. Values ±0.003 (ARP ±1). Relations: τ = 0.2 beats the
    recipe's τ = 0.1 uncorrected (0.1951; the other temperatures: the next test); τ = 1 is
    below the corrected recipe (0.3409); the two runs' recalls within 0.03 of each other, yet
    the corrected run's ARP more than 60 higher and its coverage more than 0.4 lower: it leans
    to the popular items."""
    plain, corrected = ten_epoch_runs["uncorrected, tau 0.2"], ten_epoch_runs["corrected, tau 1"]
    assert _near(plain["recall@20"], 0.2047) and _near(corrected["recall@20"], 0.2242)
    assert _near(plain["arp@10"], 103.88, tol=1) and _near(corrected["arp@10"], 194.18, tol=1)
    assert _near(plain["coverage@10"], 0.7176) and _near(corrected["coverage@10"], 0.1807)
    assert plain["recall@20"] > recipe_runs["TwoTower-inbatch"]["recall@20"] + 0.005  # "best"
    assert corrected["recall@20"] < recipe_runs["TwoTower-inbatch-logQ"]["recall@20"] - 0.1
    assert abs(corrected["recall@20"] - plain["recall@20"]) < 0.03  # comparable accuracy
    assert corrected["arp@10"] > plain["arp@10"] + 60
    assert corrected["coverage@10"] < plain["coverage@10"] - 0.4


@pytest.fixture(scope="module")
def uncorrected_recall_by_tau(split, ten_epoch_runs, recipe_runs, one_thread):
    """Recall@20 of logq_run(split, beta=0, temperature=τ, epochs=10) at each τ that markdown
    cell 13 names. τ = 0.2 is `ten_epoch_runs`' run and τ = 0.1 the "TwoTower-inbatch" recipe's
    (the same training); 3 more runs, about 4 s each."""
    from lessons.widgets.logq import logq_run

    def recall(tau):
        return logq_run(split, beta=0.0, temperature=tau, epochs=10, seed=SEED)["recall@20"]

    recalls = {tau: recall(tau) for tau in (0.15, 0.25, 0.5)}
    recalls[0.1] = recipe_runs["TwoTower-inbatch"]["recall@20"]
    recalls[0.2] = ten_epoch_runs["uncorrected, tau 0.2"]["recall@20"]
    return recalls


def test_tau_02_is_the_best_uncorrected_temperature_named(uncorrected_recall_by_tau):
    """Notebook 04, markdown cell 13: "Uncorrected, the best of τ = 0.1, 0.15, 0.2, 0.25 and 0.5
    is τ = 0.2."

    Measured Recall@20: 0.1951, 0.2014, 0.2047, 0.2003, 0.1756 (τ = 0.3, not named: 0.1979).
    The nearest, τ = 0.15, is 0.0033 behind. Bound: τ = 0.2 ahead of every other by 0.001,
    far above the 1e-6 by which these figures moved across threads and CPUs."""
    recalls = uncorrected_recall_by_tau
    others = [value for tau, value in recalls.items() if tau != 0.2]
    assert recalls[0.2] > max(others) + 0.001, recalls


# --- Section 3: cold-start items ------------------------------------------------------------


@pytest.fixture(scope="module")
def cold_runs(ml100k, cold, one_thread):
    """Cell 15's scores on the cold split: TwoTower-cold at COLD_EPOCHS = 20 and the two
    content profiles; cell 21's tower with title words (~2 s)."""
    _, tower = _cold_tower(cold, SEED, COLD_EPOCHS)
    _, titled = _cold_tower(cold, SEED, COLD_EPOCHS, use_title=True)
    return {
        "TwoTower-cold": tower,
        "ContentProfile cosine": _profile(ml100k, cold, "cosine"),
        "ContentProfile dot": _profile(ml100k, cold, "dot"),
        "TwoTower-cold + title words": titled,
    }


@pytest.fixture(scope="module")
def exclusion_runs(cold, cold_runs, one_thread):
    """Section 3 (markdown cell 14): the "TwoTower-cold" recipe on cold_start_items(data, 0.2,
    seed=0) at COLD_EPOCHS = 20, with the held-out items left out of the training softmax (the
    default: `cold_runs`' tower) and kept in, evaluated on METRICS. About 0.5 s per fit."""
    _, kept_in = _cold_tower(cold, SEED, COLD_EPOCHS, exclude_cold_items=False)
    return {True: _evaluate(cold_runs["TwoTower-cold"], cold), False: _evaluate(kept_in, cold)}


def test_keeping_cold_items_in_the_training_softmax_costs_only_a_little(exclusion_runs):
    """Notebook 04, cell 14: "Turning the exclusion off moved Recall@20 only from 0.255 to
    0.250, and NDCG@10 from 0.316 to 0.309. These figures were measured while building the
    lesson, at 20 epochs."

    Measured: Recall@20 0.2548 → 0.2505, NDCG@10 0.3160 → 0.3094 (coverage@10 0.226 →
    0.194), the sentence's figures. Bounds: ±0.003 around each value (the gaps are 0.004 and
    0.007, so an exclusion that does nothing fails), and gaps under 0.015 ("only"). Over
    split seeds 1 and 2 the sign of the gaps varies; the sentence is about seed 0."""
    on, off = exclusion_runs[True], exclusion_runs[False]
    assert on["recall@20"] == pytest.approx(0.2548, abs=0.003)
    assert off["recall@20"] == pytest.approx(0.2505, abs=0.003)
    assert on[f"ndcg@{K}"] == pytest.approx(0.3160, abs=0.003)
    assert off[f"ndcg@{K}"] == pytest.approx(0.3094, abs=0.003)
    assert 0 < on["recall@20"] - off["recall@20"] < 0.015
    assert 0 < on[f"ndcg@{K}"] - off[f"ndcg@{K}"] < 0.015


def test_dot_profile_ties_the_20_epoch_tower_on_recall_but_not_on_ndcg(cold, cold_runs):
    """Notebook 04, markdown cell 16: coverage@10 here is "the share of the 336 held-out
    movies recommended to anyone". Summary (cell 31): "After this notebook's 20 epochs it
    ties [with the dot-product profile] on Recall@20. Its lead on NDCG@10 here is not there at
    every seed" (cell 17's table).

    Measured (cell 17): ContentProfile dot Recall@20 0.2501, NDCG@10 0.2170, coverage@10
    0.3810; the tower 0.2548 and 0.3160 (pinned by the cell-14 test above). ±0.003 each.
    "Ties": within 0.01 (measured 0.005); the NDCG lead "here": over 0.05 (measured 0.099)."""
    assert len(cold.candidates) == 336
    dot = _evaluate(cold_runs["ContentProfile dot"], cold)
    tower = _evaluate(cold_runs["TwoTower-cold"], cold)
    assert _near(dot["recall@20"], 0.2501)
    assert _near(dot["ndcg@10"], 0.2170)
    assert _near(dot["coverage@10"], 0.3810)
    assert abs(tower["recall@20"] - dot["recall@20"]) < 0.01
    assert tower["ndcg@10"] > dot["ndcg@10"] + 0.05


def test_at_split_seed_2_the_dot_profile_leads_on_ndcg_after_20_epochs(ml100k):
    """Notebook 04, summary (cell 31): after 20 epochs the tower's "lead on NDCG@10 here is not
    there at every seed: at seed 2 the profile is ahead."

    Measured (cold_start_items(data, 0.2, seed=2), TwoTower-cold seed 2, 20 epochs): tower
    NDCG@10 0.2837, ContentProfile dot 0.2971 (Recall@20 0.2663 against 0.2611). Values ±0.003;
    the profile ahead by more than 0.005 (measured 0.013)."""
    from lessons.data import cold_start_items

    split2 = cold_start_items(ml100k, COLD_FRAC, seed=2)
    _, tower_scores = _cold_tower(split2, 2, COLD_EPOCHS)
    tower = _evaluate(tower_scores, split2)
    dot = _evaluate(_profile(ml100k, split2, "dot"), split2)
    assert _near(tower["ndcg@10"], 0.2837) and _near(dot["ndcg@10"], 0.2971)
    assert dot["ndcg@10"] > tower["ndcg@10"] + 0.005


def test_at_the_recipes_40_epochs_the_tower_beats_the_dot_profile_0_284_to_0_250(cold, cold_runs):
    """Notebook 04, summary (cell 31): "Against the dot-product profile it needs the recipe's
    full 40 epochs. ... At seed 0, Recall@20 is 0.284 against 0.250 (`python -m
    lessons.bench`)". test_two_tower_cold_start checks a margin over 0.02 at seeds 0-2, not
    the values.

    Measured: TwoTower-cold (recipe, 40 epochs, seed 0) Recall@20 0.2839, NDCG@10 0.3586;
    the dot profile 0.2501. ±0.003 each, and the tower ahead on both metrics."""
    from lessons.recipes import RECIPES

    assert RECIPES["TwoTower-cold"].fit_kwargs["epochs"] == 40
    _, scores = _cold_tower(cold, SEED, 40)
    tower = _evaluate(scores, cold)
    dot = _evaluate(cold_runs["ContentProfile dot"], cold)
    assert _near(tower["recall@20"], 0.2839) and _near(dot["recall@20"], 0.2501)
    assert tower["recall@20"] > dot["recall@20"] + 0.02
    assert tower["ndcg@10"] > dot["ndcg@10"] + 0.02


def test_title_words_raise_recall_and_lower_ndcg_on_this_split(cold, cold_runs):
    """Notebook 04, markdown cell 22: "On this split, Recall@20 rises (0.255 → 0.278) and
    NDCG@10 falls (0.316 → 0.281). More held-out movies reach the top 20, but lower in the
    list." (cell 21's table).

    Measured: with title words Recall@20 0.2780, NDCG@10 0.2810 (without: 0.2548, 0.3160,
    pinned by the cell-14 test above). ±0.003 each; the rise over 0.01 (measured 0.023) and
    the fall over 0.02 (measured 0.035). test_two_tower_cold_start counts the drops over
    seeds, but pins neither value."""
    base = _evaluate(cold_runs["TwoTower-cold"], cold)
    titled = _evaluate(cold_runs["TwoTower-cold + title words"], cold)
    assert _near(titled["recall@20"], 0.2780)
    assert _near(titled["ndcg@10"], 0.2810)
    assert titled["recall@20"] > base["recall@20"] + 0.01
    assert titled["ndcg@10"] < base["ndcg@10"] - 0.02


def _lists_of_the_user_with_most_held_out_movies(split, scores: dict) -> tuple[int, set, dict]:
    """Cell 19: that user, their held-out movies, and each model's top K among held-out ones."""
    from lessons.metrics import top_k

    user = int(np.argmax(np.diff(split.test_matrix().indptr)))
    liked = set(split.test[split.test["user"] == user]["item"])
    lists = {n: top_k(s[[user]], K, candidates=split.candidates)[0] for n, s in scores.items()}
    return user, liked, lists


def test_one_users_lists_older_films_from_the_tower_1994_95_from_the_profile(
    ml100k, cold, cold_runs
):
    """Notebook 04, markdown cell 18: "a random top 10 would already hold about 4 ✔ (printed
    below). So do not read this user's counts, which with the default parameters are 7 ✔ for
    the cosine profile and 4 for the two-tower. Read instead *what* each model picks: older,
    widely known films from the two-tower model, recent releases from the profile." And: "That
    is why its list here is all 1994–95 titles. This holds at the default `SEED`; other splits
    mix in a few older films."

    Measured (user 404, 146 of the 336 held-out movies): 10 · 146 / 336 = 4.35 ✔ at random;
    ✔ counts 7 and 4; the tower's titles from 1932-1987, with 130 ratings each on average
    against 70 for the profile's (all 1994-95) and 58 for a held-out movie. At split seeds 1
    and 2 the profile's list for that split's user (404 again) holds 3 and 2 films before
    1994 (1954, 1958, 1993; 1960, 1988): "a few" is 1 to 3 here. Exact
    counts: lists can only change with the scores, which tie often (cell 18)."""
    from lessons.data import cold_start_items

    user, liked, lists = _lists_of_the_user_with_most_held_out_movies(cold, cold_runs)
    assert user == 404 and len(liked) == 146
    assert 3.5 <= K * len(liked) / len(cold.candidates) < 4.5  # "about 4 ✔"
    tower, profile = lists["TwoTower-cold"], lists["ContentProfile cosine"]
    assert sum(j in liked for j in profile) == 7
    assert sum(j in liked for j in tower) == 4
    years = ml100k.items["year"].to_numpy()
    assert set(years[profile]) == {1994, 1995}  # "all 1994-95 titles"
    assert years[tower].max() < 1990  # "older"
    ratings = np.diff(cold.test_matrix().tocsc().indptr)  # a held-out movie's are all in test
    assert ratings[tower].mean() > 1.5 * ratings[cold.candidates].mean()  # "widely known"
    assert ratings[tower].mean() > 1.5 * ratings[profile].mean()
    for seed in (1, 2):  # "other splits mix in a few older films"
        other = cold_start_items(ml100k, COLD_FRAC, seed=seed)
        scores = {"profile": _profile(ml100k, other, "cosine")}
        _, _, other_lists = _lists_of_the_user_with_most_held_out_movies(other, scores)
        older = (years[other_lists["profile"]] < 1994).sum()
        assert 1 <= older <= 3, (seed, older)


# --- Section 4: two-tower against the softmax DNN, warm and cold -----------------------------


@pytest.fixture(scope="module")
def dnn_cold(cold, one_thread):
    """Cell 24: train("SoftmaxDNN", cold, seed=0, epochs=6) and the model it started from."""
    from lessons.recipes import RECIPES, train

    model, _ = train("SoftmaxDNN", cold, seed=SEED, epochs=DNN_EPOCHS, eval_every=None,
                     progress=False)  # fmt: skip
    with torch.random.fork_rng():  # `train` initializes under manual_seed(seed)
        torch.manual_seed(SEED)
        start = RECIPES["SoftmaxDNN"].build(cold)
    return model, start


def test_dnn_leaves_the_held_out_item_vectors_where_they_started(cold, dnn_cold):
    """Notebook 04, markdown cell 25 on cell 24: "The held-out rows of V are exactly where they
    started, since they were left out of every softmax. So the DNN ranks cold items at random."

    Measured: largest change of a V_j during 6 epochs 0.405 over warm items, exactly 0 over
    the 336 held-out ones. Exact for the cold rows (no float noise in "not updated"); the warm
    rows must have moved (over 0.1), so a rebuilt start that differs from training's is
    caught too. test_train_models checks the mask on synthetic data only."""
    model, start = dnn_cold
    moved = (model.item_embeddings() - start.item_embeddings()).detach().abs().amax(dim=1)
    is_cold = np.isin(np.arange(cold.n_items), cold.candidates)
    assert float(moved[torch.from_numpy(is_cold)].max()) == 0.0
    assert float(moved[torch.from_numpy(~is_cold)].max()) > 0.1


def test_dnn_is_at_chance_on_cold_items_and_the_two_tower_several_times_above(
    cold, dnn_cold, cold_runs
):
    """Notebook 04, markdown cell 28 on cell 26: "On cold items the DNN is at chance: it has no
    way to place a movie it never saw. The two-tower scores the same movies from their
    features. It reaches several times the DNN's Recall@20, above the whole chance range."
    Cell 26 prints the range: chance Recall@20 ≈ 0.060 (0.022 to 0.111 for 90% of random
    orders shared by all users).

    Measured: chance_recall(cold, seed=0) 5% and 95% quantiles 0.0223 and 0.1107 (numpy
    only: ±0.001, the printed rounding); the DNN's cold Recall@20 0.0527 (±0.003), inside
    that range; the two-tower's 0.2548, 4.8 × the DNN's (over 3 ×: "several") and above
    0.111 by more than 0.1."""
    from lessons.metrics import chance_recall
    from lessons.scoring import score_users

    chance = np.quantile(chance_recall(cold, seed=SEED), [0.05, 0.95])
    assert _near(chance[0], 0.0223, tol=0.001) and _near(chance[1], 0.1107, tol=0.001)
    assert 20 / len(cold.candidates) == pytest.approx(0.060, abs=0.0005)
    dnn = _evaluate(score_users(dnn_cold[0], cold).numpy(), cold)["recall@20"]
    tower = _evaluate(cold_runs["TwoTower-cold"], cold)["recall@20"]
    assert _near(dnn, 0.0527)
    assert chance[0] < dnn < chance[1]  # "at chance"
    assert tower > 3 * dnn  # "several times the DNN's Recall@20"
    assert tower > chance[1] + 0.1  # "above the whole chance range"


def test_on_warm_items_the_dnn_and_two_tower_are_level_after_short_training(split, short_runs):
    """Notebook 04, markdown cell 28 on cell 26's table: "On warm items the two are level with
    this short training." The warm two-tower is cell 11's logQ run (3 epochs), the DNN
    train("SoftmaxDNN", split, seed=0, epochs=6).

    Measured: DNN Recall@20 0.3031, NDCG@10 0.3541; two-tower 0.2979 and 0.3574 (pinned in
    test_uncorrected_in_batch_softmax_is_popularity_averse). ±0.003 each; "level": within
    0.01 on both (measured 0.005 and 0.003, in opposite directions). At full training the
    DNN leads by 0.024 NDCG@10 (test_logq_table_of_the_recipes_full_training)."""
    from lessons.recipes import train
    from lessons.scoring import score_users

    model, _ = train("SoftmaxDNN", split, seed=SEED, epochs=DNN_EPOCHS, eval_every=None,
                     progress=False)  # fmt: skip
    dnn = _evaluate(score_users(model, split).numpy(), split)
    tower = short_runs[1.0]
    assert _near(dnn["recall@20"], 0.3031) and _near(dnn["ndcg@10"], 0.3541)
    assert abs(dnn["recall@20"] - tower["recall@20"]) < 0.01
    assert abs(dnn["ndcg@10"] - tower["ndcg@10"]) < 0.01
