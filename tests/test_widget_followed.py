"""One user's top 5 after each retrain (the playground and the logQ explorer show it)."""

import dataclasses

import pytest

from lessons.recommend import recommend
from lessons.widgets.followed import TOP_N, FollowedUser
from lessons.widgets.logq import LogQExplorer

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_list_is_the_users_top_n_with_counts_and_test_marks(tiny_split, tiny_mf):
    user = 3
    followed = FollowedUser(tiny_split, user)
    assert followed.html() == ""  # nothing trained yet
    titles = followed.add(tiny_mf)
    top = recommend(tiny_mf, tiny_split, user, k=TOP_N)
    held = set(tiny_split.test.loc[tiny_split.test["user"] == user, "item"])
    popularity = tiny_split.item_popularity()
    expected = [f"{title} [{popularity[item]}]" + (" ✔" if item in held else "")
                for title, item in zip(top["title"], top["item"], strict=True)]  # fmt: skip
    assert titles == expected and followed.lists == [expected]
    html = followed.html()
    assert "this run" in html and "previous run" not in html and expected[0] in html


def test_the_newest_list_stands_right_of_the_one_before(tiny_split, tiny_mf):
    followed = FollowedUser(tiny_split, 0)
    followed.lists = [["a"] * TOP_N, ["b"] * TOP_N, ["c"] * TOP_N]
    html = followed.html()
    assert html.index("previous run") < html.index("this run")
    assert html.index("<td>b</td>") < html.index("<td>c</td>") and "<td>a</td>" not in html


def test_a_user_with_fewer_unseen_items_than_n_gets_blank_slots(tiny_split, tiny_mf, monkeypatch):
    from lessons.widgets import followed as module

    short = recommend(tiny_mf, tiny_split, 0, k=2)
    monkeypatch.setattr(module, "recommend", lambda *args, **kwargs: short)
    titles = FollowedUser(tiny_split, 0).add(tiny_mf)
    assert len(titles) == TOP_N and titles[2:] == [""] * (TOP_N - 2) and all(titles[:2])


def test_an_unknown_user_is_refused(tiny_split):
    with pytest.raises(ValueError, match="unknown user ids"):
        FollowedUser(tiny_split, -1)


def test_the_logq_explorer_lists_its_users_top_n_after_each_run(tiny_split):
    w = LogQExplorer(tiny_split, epochs=1, user=2)
    w.batch_size.value = 8
    w.train_button.click()
    w.beta.value = 0.0
    w.train_button.click()
    assert w.error is None and len(w.followed.lists) == 2 and w.followed.user == 2
    html = w.output.value
    assert html.index("previous run") < html.index(w.followed.lists[-1][0]) < html.index("Runs")


def test_movies_that_share_a_title_are_told_apart_by_id(tiny_split, tiny_mf):
    """Bug: ML-100K has 18 titles held by two movies; a real list read "Hugo Pool (1997) [4]"
    ... "Hugo Pool (1997) [2]", two rows a learner could not tell apart."""
    top = recommend(tiny_mf, tiny_split, 0, k=TOP_N)["item"].tolist()
    items = tiny_split.dataset.items.copy()
    items.loc[top[1], "title"] = items.loc[top[0], "title"]  # two listed movies, one title
    split = dataclasses.replace(tiny_split, dataset=dataclasses.replace(tiny_split.dataset,
                                                                        items=items))  # fmt: skip
    followed = FollowedUser(split, 0)
    titles = followed.add(tiny_mf)
    shared = items.loc[top[0], "title"]
    assert titles[0].startswith(f"{shared} #{top[0]} [") and titles[1].startswith(
        f"{shared} #{top[1]} ["
    )
    assert all("#" not in t for t in titles[2:]) and "where two movies share a title" in (
        followed.html()
    )
    plain = FollowedUser(tiny_split, 0)  # titles all differ: no ids, no note
    assert all("#" not in t for t in plain.add(tiny_mf)) and "share a title" not in plain.html()
