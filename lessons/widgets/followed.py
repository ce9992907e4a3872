"""One user's top-N list after each retrain, this run beside the previous one.

The DNN playground (notebook 02) and the logQ explorer (notebook 04) retrain a model on every
click. Their run tables say how the lists changed on average; this shows one user's list
itself: which titles came and went, how popular each is ([n] = its training count), and
which are the user's held-out test movies (✔).
"""

import pandas as pd

from lessons.config import ITEM, USER
from lessons.data import Split
from lessons.recommend import recommend
from lessons.scoring import check_users
from lessons.widgets.base import distinct_titles, frame_html

TOP_N = 5  # titles per list


class FollowedUser:
    """The top-N lists of one user, one per trained model.

    Args:
        split: The split the models are trained on; its test part marks the ✔ titles.
        user: The user to follow.

    Raises:
        ValueError: On an unknown user id.
    """

    def __init__(self, split: Split, user: int) -> None:
        self.split, self.user = split, int(check_users(user, split.n_users)[0])
        self.titles = distinct_titles(split.dataset.items["title"].to_numpy())
        test = split.test
        self.held_out = set(test.loc[test[USER] == self.user, ITEM])
        self.lists: list[list[str]] = []
        self.numbered: list[bool] = []  # per list: whether it shows a shared title with its id

    def add(self, model) -> list[str]:
        """Append and return `model`'s top-N for the user (seen items left out)."""
        top = recommend(model, self.split, self.user, k=TOP_N)
        titles = []
        for row in top.itertuples():
            mark = " ✔" if row.item in self.held_out else ""
            titles.append(f"{self.titles[row.item]} [{row.popularity:.0f}]{mark}")
        shared = (self.titles[i] != t for i, t in zip(top.item, top.title, strict=True))
        self.numbered.append(any(shared))
        titles += [""] * (TOP_N - len(titles))  # a user with fewer unseen items than N
        self.lists.append(titles)
        return titles

    def html(self) -> str:
        """The last list beside the one before it; empty before the first model."""
        if not self.lists:
            return ""
        lists = {"this run": self.lists[-1]}
        if len(self.lists) > 1:
            lists = {"previous run": self.lists[-2], **lists}
        top = pd.DataFrame({"rank": range(1, TOP_N + 1), **lists})
        shown = self.numbered[-2:]  # the legend of the two lists on screen
        ids = "; #id = the movie's id, where two movies share a title" if any(shown) else ""
        return (f"<b>User {self.user}'s top {TOP_N}</b> <small>([n] = the movie's training "
                f"count; ✔ = one of the user's held-out test movies{ids})</small>"
                + frame_html(top))  # fmt: skip


__all__ = ["TOP_N", "FollowedUser"]
