"""Notebook 03's "Try it": build a user, get recommendations at once, without retraining.

A thin wrapper over `lessons.recommend.recommend_for_query`: the learner picks liked movies
and a demographic profile; the softmax DNN embeds that query with ψ(x) and ranks the
catalogue, while matrix factorization (if given) is asked the same and its ValueError — no
row U_u for an unseen user — is shown next to it. An empty selection shows a clear message
in the panel, which keeps working.
"""

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch

from lessons import theme
from lessons.config import DEFAULT_K
from lessons.data import Split
from lessons.features import AGE_BUCKETS, GENDERS, age_bucket
from lessons.recommend import recommend_for_query
from lessons.scoring import split_features
from lessons.widgets.base import Panel, distinct_titles, frame_html

NOTE_STYLE = f"color:{theme.MUTED};border-left:3px solid {theme.ERROR};padding-left:6px"


def age_group(age: int) -> str:
    """The age bucket the query tower reads ("25–34"); ages inside one give the same list."""
    edges, i = AGE_BUCKETS, int(age_bucket(age))
    if i == 0:
        return f"under {edges[0]}"
    return f"{edges[-1]}+" if i == len(edges) else f"{edges[i - 1]}–{edges[i] - 1}"


def title_options(split: Split) -> list[tuple[str, int]]:
    """(label, item id) for every item, alphabetical; repeated titles get their id appended."""
    labels = distinct_titles(split.dataset.items["title"].to_numpy())
    return sorted(zip(labels, range(len(labels)), strict=True))


def reads_profile(model: torch.nn.Module, split: Split) -> bool:
    """Whether the model's query tower reads age, gender and occupation from this data."""
    tower = getattr(model, "query_tower", None)
    return split.dataset.has_demographics and len(getattr(tower, "side", ())) > 0


def build_user_report(dnn: torch.nn.Module, split: Split, liked: Sequence[int], *,
                      age: float | None = None, gender: str | None = None,
                      occupation: str | None = None, k: int = DEFAULT_K,
                      mf: torch.nn.Module | None = None,
                      ) -> tuple[pd.DataFrame, str | None]:  # fmt: skip
    """(the DNN's top-k for this visitor, MF's error message or None when no MF is given).

    Raises:
        ValueError: On an empty selection or unknown demographics (the DNN's own errors).
    """
    table = recommend_for_query(dnn, split, np.asarray(list(liked), dtype=np.int64), age=age,
                                gender=gender, occupation=occupation, k=k)  # fmt: skip
    message = None
    if mf is not None:
        try:
            recommend_for_query(mf, split, np.asarray(list(liked), dtype=np.int64), k=k)
            message = "MF answered (unexpected: it has no row for a new user)"
        except ValueError as exc:
            message = str(exc)
    return table, message


class BuildAUser(Panel):
    """Liked movies + age, gender, occupation → the DNN's list now, next to MF's refusal.

    The profile controls are disabled, with a note, when the DNN does not read them (trained
    without side features, or data without demographics).

    Headless use: `w = BuildAUser(dnn, split, mf=mf); w.liked.value = (49, 180)`; `w.result`
    is `(table, mf_message)`; `w.liked.value = ()` leaves its message in `w.error`.
    """

    def __init__(self, dnn: torch.nn.Module, split: Split, *, mf: torch.nn.Module | None = None,
                 liked: Sequence[int] = (), k: int = DEFAULT_K) -> None:  # fmt: skip
        self.dnn, self.split, self.mf, self.k = dnn, split, mf, k
        occupations = split_features(split).occupations or ("other",)
        self.liked = widgets.SelectMultiple(options=title_options(split), value=tuple(liked),
                                            rows=10, description="liked movies",
                                            tooltip="Ctrl/Cmd-click to select several",
                                            style={"description_width": "initial"},
                                            layout={"width": "560px"})  # fmt: skip
        self.age = widgets.IntSlider(value=30, min=7, max=80, description="age",
                                     continuous_update=False)  # fmt: skip
        self.gender = widgets.Dropdown(options=sorted(GENDERS), value="F", description="gender")
        self.occupation = widgets.Dropdown(options=list(occupations), description="occupation",
                                           value="student" if "student" in occupations else
                                           occupations[0])  # fmt: skip
        self.profile_note = widgets.HTML()
        self.uses_profile = reads_profile(dnn, split)
        # The slider moves by years, the model reads one of len(AGE_BUCKETS) + 1 groups: say
        # which, or a learner sees 30 → 34 change nothing and concludes age is ignored.
        self.age_group = widgets.HTML()
        self.age.observe(self._show_age_group, names="value")
        self._show_age_group()
        profile = widgets.VBox(
            [self.age, self.age_group, self.gender, self.occupation, self.profile_note]
        )
        if not self.uses_profile:  # controls that change nothing would mislead
            for control in (self.age, self.gender, self.occupation):
                control.disabled = True
            why = (f"{split.dataset.name} has no demographics"
                   if not split.dataset.has_demographics
                   else "this DNN was trained without side features")  # fmt: skip
            self.profile_note.value = f"<small><i>Not used: {why}.</i></small>"
        super().__init__([self.liked, profile], auto=False)
        for control in (self.liked, self.age, self.gender, self.occupation):
            control.observe(self._on_change, names="value")
        self.refresh()

    def _show_age_group(self, change=None) -> None:
        if not self.uses_profile:  # the note below the controls says why age is not read
            self.age_group.value = ""
            return
        self.age_group.value = (f"<small>age group {age_group(self.age.value)} (the model reads "
                                f"{len(AGE_BUCKETS) + 1} groups)</small>")  # fmt: skip

    def compute(self) -> tuple[pd.DataFrame, str | None]:
        if not self.liked.value:
            raise ValueError("no movie selected: pick at least one liked movie (Ctrl/Cmd-click "
                             "to select several)")  # fmt: skip
        profile = {"age": self.age.value, "gender": self.gender.value,
                   "occupation": self.occupation.value} if self.uses_profile else {}  # fmt: skip
        table, message = build_user_report(self.dnn, self.split, self.liked.value, k=self.k,
                                           mf=self.mf, **profile)  # fmt: skip
        if table.empty:  # Ctrl/Cmd-A in the list box: an empty table would explain nothing
            raise ValueError("every movie is selected, so none is left to recommend: click one "
                             "movie, then Ctrl/Cmd-click a few more")  # fmt: skip
        return table, message

    def render(self, result: tuple[pd.DataFrame, str | None]) -> str:
        table, message = result
        # The selection can be scrolled out of the list box: say what the list answers.
        liked = list(self.liked.label)
        shown = ", ".join(liked[:5]) + (f" and {len(liked) - 5} more" if len(liked) > 5 else "")
        out = (
            f"<b>Softmax DNN, no retraining</b>, for a visitor who liked {html.escape(shown)}"
            + frame_html(table[["rank", "title", "score", "popularity"]])
        )
        if message is not None:
            note = html.escape(message)
            out += f"<b>Matrix factorization</b><p style='{NOTE_STYLE}'>{note}</p>"
        return out


__all__ = ["BuildAUser", "age_group", "build_user_report", "reads_profile", "title_options"]
