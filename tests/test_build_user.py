"""The "Build a user" panel of notebook 03, headless: pick movies, read both answers."""

import pytest
import torch

from lessons.experiments import textbook_dnn
from lessons.models import MatrixFactorization
from lessons.widgets.build_user import BuildAUser, build_user_report, title_options


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
    panel.liked.value = ()
    assert "no movie selected" in panel.error and panel.result is not None
    panel.liked.value = (3,)
    assert panel.error is None and 3 not in panel.result[0]["item"].tolist()
