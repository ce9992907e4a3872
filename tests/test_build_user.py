"""The "Build a user" panel of notebook 03, headless: pick movies, read both answers."""

import html
from dataclasses import replace

import pytest
import torch

from lessons.data import random_split
from lessons.experiments import textbook_dnn
from lessons.models import MatrixFactorization
from lessons.scoring import split_features
from lessons.widgets.build_user import (
    BuildAUser,
    age_group,
    build_user_report,
    title_options,
)


@pytest.fixture(scope="module")
def split(tiny_split):
    return tiny_split


@pytest.fixture(scope="module")
def models(split):
    torch.manual_seed(0)
    mf = MatrixFactorization(split.n_users, split.n_items, dim=8)
    return textbook_dnn(split, (16,), dim=8, side=True, dense=False).eval(), mf


def test_title_options_cover_every_item_once(split):
    options = title_options(split)
    assert sorted(i for _, i in options) == list(range(split.n_items))
    assert len({label for label, _ in options}) == split.n_items


def test_report_lists_dnn_items_and_mf_refusal(split, models):
    dnn, mf = models
    table, message = build_user_report(dnn, split, [0, 1], age=30, gender="F",
                                       occupation=split_occupation(split), mf=mf)  # fmt: skip
    assert len(table) == 10 and not set(table["item"]) & {0, 1}
    assert "no embedding row" in message


def split_occupation(split):
    return str(split.dataset.users["occupation"].iloc[0])


def test_panel_recommends_changes_and_survives_empty_selection(split, models):
    dnn, mf = models
    panel = BuildAUser(dnn, split, mf=mf, liked=(0, 1), k=5)
    first = panel.result[0]["item"].tolist()
    assert len(first) == 5 and "Matrix factorization" in panel.output.value
    panel.liked.value = (10, 11, 12)
    assert panel.error is None and panel.result[0]["item"].tolist() != first
    before = panel.result
    panel.age.value = 70  # demographics reach a side-feature DNN: the scores move
    assert not panel.result[0]["score"].equals(before[0]["score"])
    titles = split.dataset.items["title"]
    assert all(
        html.escape(titles[i]) in panel.output.value for i in (10, 11, 12)
    )  # what the list answers
    panel.liked.value = ()
    assert "no movie selected" in panel.error and panel.result is not None
    panel.liked.value = (3,)
    assert panel.error is None and 3 not in panel.result[0]["item"].tolist()
    panel.liked.value = tuple(range(split.n_items))  # Ctrl/Cmd-A: an empty list, unexplained
    assert "every movie is selected" in panel.error and panel.result[0]["item"].tolist()


def test_profile_controls_are_disabled_when_the_dnn_does_not_read_them(split):
    history_only = textbook_dnn(split, (16,), dim=8, side=False, dense=False).eval()
    panel = BuildAUser(history_only, split, liked=(0, 1), k=5)
    assert panel.age.disabled and panel.gender.disabled and panel.occupation.disabled
    assert "trained without side features" in panel.profile_note.value
    assert panel.age_group.value == ""  # no "the model reads 7 groups" beside "Not used"
    assert panel.error is None and len(panel.result[0]) == 5


def test_panel_works_on_data_without_demographics(tiny_data):
    no_demographics = replace(tiny_data, users=None, name="ml-latest-small")
    split = random_split(no_demographics, 0.2, seed=0)
    dnn = textbook_dnn(split, (16,), dim=8, side=False, dense=False).eval()
    panel = BuildAUser(dnn, split, liked=(1, 2), k=5)
    assert panel.error is None and len(panel.result[0]) == 5
    assert panel.age.disabled and panel.age_group.value == ""
    assert "ml-latest-small has no demographics" in panel.profile_note.value


def test_the_age_slider_says_which_of_the_models_groups_it_is_in(split, models):
    """The slider moves by years but the query tower reads one of 7 age groups: 30 → 34 gave
    the same list with no hint why. The label names the group the features compute."""
    from lessons.features import ad_hoc_query

    groups = ["under 18", "under 18", "18–24", "18–24", "25–34", "35–44", "50–55", "56+", "56+"]
    assert [age_group(a) for a in (7, 17, 18, 24, 34, 35, 55, 56, 80)] == groups
    feats = split_features(split)
    bucket = {}  # group label -> the age feature the model reads
    for age in range(7, 81):
        query = ad_hoc_query(split.dataset, [0], features=feats, age=age)
        bucket.setdefault(age_group(age), set()).add(int(query.side[0, 0]))
    assert len(bucket) == 7 and all(len(ids) == 1 for ids in bucket.values())
    dnn, mf = models
    panel = BuildAUser(dnn, split, mf=mf, liked=(0, 1), k=5)
    assert "age group 25–34 (the model reads 7 groups)" in panel.age_group.value
    panel.age.value = 56
    assert "age group 56+" in panel.age_group.value
