"""Edge cases of lessons.runtime and lessons.recipes. Each test guards a plausible bug that would
still look right (found by mutating the code by hand); expected values come from the
docstrings, the recipes' notes and the lesson texts, never from the code's own output.
"""

import pytest
import torch

from lessons import recipes, runtime, seed_everything, set_threads
from lessons.losses import item_log_q
from lessons.runtime import show_progress

# conftest's one_thread puts torch's thread count back after this module's tests change it.
pytestmark = pytest.mark.usefixtures("one_thread")


# --- runtime ----------------------------------------------------------------------------------


def test_the_documented_variable_name_sets_the_threads(monkeypatch):
    """Bug: the constant renamed (say LESSONS_THREADS) while the docs and teachers' setups still
    use LESSONS_NUM_THREADS; the tests that read the constant would not notice."""
    monkeypatch.setenv("LESSONS_NUM_THREADS", "1")
    assert set_threads() == 1 and torch.get_num_threads() == 1


def test_an_explicit_count_wins_over_the_environment(monkeypatch):
    """Bug: the environment variable read even when a count is passed, overriding it."""
    monkeypatch.setenv("LESSONS_NUM_THREADS", "2")
    assert set_threads(1) == 1 and torch.get_num_threads() == 1


@pytest.mark.parametrize("raw", ["1.5", "2.0"])
def test_a_fractional_thread_count_in_the_environment_is_refused(monkeypatch, raw):
    """Bug: int(float(raw)) would silently truncate LESSONS_NUM_THREADS=1.5 to one thread."""
    monkeypatch.setenv("LESSONS_NUM_THREADS", raw)
    with pytest.raises(ValueError, match="not an integer"):
        set_threads()


def test_a_blank_thread_variable_counts_as_unset(monkeypatch):
    """Bug: without strip(), LESSONS_NUM_THREADS=" " is an error instead of the default."""
    monkeypatch.setattr(runtime, "available_cores", lambda: 1)
    monkeypatch.setenv("LESSONS_NUM_THREADS", "  ")
    assert set_threads() == 1


def test_the_default_thread_count_respects_affinity_and_quota(monkeypatch):
    """Bugs: set_threads() sizing to os.cpu_count() (every core of the node) instead of the
    cores this process may use, and a quota larger than the affinity replacing it."""
    monkeypatch.delenv("LESSONS_NUM_THREADS", raising=False)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: None)
    assert set_threads() == 1  # one core allowed, on a 64-core node
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: 8)  # quota above the affinity
    assert runtime.available_cores() == 2


@pytest.mark.parametrize("value", ["yes", "Yes", "YES "])
def test_lessons_quiet_yes_silences_the_bars(monkeypatch, value):
    """Bug: one of the documented spellings ("1", "true", "yes", "on") dropped from the list."""
    monkeypatch.setenv("LESSONS_QUIET", value)
    assert show_progress() is False


# --- recipes ----------------------------------------------------------------------------------


@pytest.fixture
def built(monkeypatch, tiny_split):
    """`built(name, **kwargs)` runs recipes.train with `fit` replaced by a recorder and returns
    (model, the keyword arguments fit was given): the recipe as built, without training."""
    calls = []
    monkeypatch.setattr(recipes, "fit", lambda model, split, **kwargs: calls.append(kwargs))

    def build(name, **kwargs):
        model, _ = recipes.train(name, tiny_split, **kwargs)
        return model, calls[-1]

    return build


def _linear_layers(module: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.Linear) for m in module.modules())


def test_mf_and_softmax_dnn_are_built_as_their_notes_say(built):
    """Bugs: a recipe's dimension, L2 or label smoothing changed while the note shown in the
    lessons ("d=64, L2 0.1", "d=128, ... label smoothing 0.8") still quotes the old value."""
    mf, fit_mf = built("MF")
    assert mf.item_embedding.shape[1] == 64 and mf.user_embedding.shape[1] == 64
    assert mf.l2 == pytest.approx(0.1)
    # "one full batch of users per step, 50 steps": ML-100K's 943 users fit in one batch.
    assert fit_mf["epochs"] == 50 and fit_mf["batch_size"] >= 943
    dnn, fit_dnn = built("SoftmaxDNN")
    assert dnn.item_embedding.shape[1] == 128 and dnn.label_smoothing == pytest.approx(0.8)
    # "each epoch 60% of a user's training items become targets"; README: 256 users, 20 epochs.
    assert fit_dnn["target_share"] == pytest.approx(0.6)
    assert (fit_dnn["batch_size"], fit_dnn["epochs"]) == (256, 20)


@pytest.mark.parametrize(
    ("name", "loss", "item_id", "corrected"),
    [
        ("TwoTower", "full", True, False),
        ("TwoTower-cold", "full", False, False),  # features only
        ("TwoTower-inbatch", "in_batch", True, False),  # without correction
        ("TwoTower-inbatch-logQ", "in_batch", True, True),
    ],
)
def test_two_tower_recipes_are_built_as_documented(built, name, loss, item_id, corrected):
    """Bugs: the logQ recipe built without its correction (or the plain one with it), the cold
    recipe keeping its item-id table, hidden layers slipped into the "linear towers", a
    dimension other than the notes' d=32, or targets other than "20% of each user's items"."""
    model, fit_kwargs = built(name)
    assert model.loss_kind == loss
    assert (model.item_tower.item_id is not None) is item_id
    assert (model.log_q is not None) is corrected
    assert model.item_embeddings().shape[1] == 32
    assert _linear_layers(model.query_tower.mlp) <= 1 and _linear_layers(model.item_tower.mlp) <= 1
    assert fit_kwargs["target_share"] == pytest.approx(0.2)


@pytest.mark.parametrize("name", ["TwoTower-inbatch", "TwoTower-inbatch-logQ"])
def test_in_batch_recipes_use_the_lessons_cosine_and_temperature(built, name):
    """Bug: τ or the normalisation changed; notebook 04 states "cosine scores, τ = 0.1, 32 users
    per batch" for these recipes."""
    model, fit_kwargs = built(name)
    assert model.normalize is True and model.temperature == pytest.approx(0.1)
    assert fit_kwargs["batch_size"] == 32


def test_overrides_and_the_seed_reach_the_model_and_fit(built):
    """Bugs: the recipe's own arguments applied after the caller's overrides (so model_kwargs
    are ignored), and `seed` not passed on to fit."""
    model, fit_kwargs = built("MF", model_kwargs={"dim": 8}, lr=0.5, seed=3)
    assert model.item_embedding.shape[1] == 8
    assert fit_kwargs["lr"] == 0.5 and fit_kwargs["seed"] == 3


def test_the_seed_fixes_the_initialization(built):
    """Bug: the initialization seeded with the default seed whatever `seed` says, so runs over
    several seeds (the README's seeds 0-1) all start from the same weights."""
    first = built("MF", seed=1)[0].item_embedding.detach().clone()
    again = built("MF", seed=1)[0].item_embedding.detach()
    other = built("MF", seed=0)[0].item_embedding.detach()
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_logq_recipe_counts_training_interactions_only(monkeypatch, tiny_split):
    """Bug: q_j from all interactions, test included (a leak into the correction).
    `item_log_q` documents c_j = training count, `split.item_popularity()`."""
    monkeypatch.setattr(recipes, "fit", lambda model, split, **kwargs: None)
    model, _ = recipes.train("TwoTower-inbatch-logQ", tiny_split)
    expected = item_log_q(tiny_split.item_popularity())
    torch.testing.assert_close(model.log_q, expected.float())


def test_seed_everything_takes_the_largest_documented_seed():
    """Bug: seeds in [2**31, 2**32 - 1] are documented as valid."""
    assert seed_everything(2**32 - 1) == 2**32 - 1
