"""Exercises for the lesson notebooks: `check()`, `hint()` and `solution()`.

An exercise cell in a notebook looks like

    answer = ...  # your code here
    nb00.rare_items.check(answer, data=data)

`check` answers one of three things, as a `Result` that prints with a coloured status:

* "not attempted": the answer is still the scaffold's placeholder (`...` or `None`);
* "correct": it matches the expected value (exactly, within a tolerance, or as a choice);
* "incorrect": anything else, with a message saying what differs (never an exception, so an
  untouched or half-done notebook still runs top to bottom).

The expected value is computed from the context passed to `check` (the notebook's data or
model), never hard-coded, so an exercise stays right on the synthetic fallback data too.
"""

import html
import inspect
from collections.abc import Callable, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lessons import theme

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"
# Only the status is coloured; the message keeps the theme's text colour (lessons.theme).
_COLOURS = {CORRECT: theme.SUCCESS, INCORRECT: theme.ERROR, NOT_ATTEMPTED: theme.MUTED}
_ICONS = {CORRECT: "✔", INCORRECT: "✘", NOT_ATTEMPTED: "…"}


@dataclass(frozen=True)
class Result:
    """Outcome of `Exercise.check`: `status` is "correct", "incorrect" or "not attempted"."""

    status: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return f"{_ICONS[self.status]} {self.status}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = _COLOURS[self.status]
        status = f"<b style='color:{colour}'>{_ICONS[self.status]} {self.status}</b>"
        return f"{status}: {html.escape(self.message)}"


@dataclass(frozen=True)
class Text:
    """A hint or solution: prints as plain text, renders as preformatted HTML in Jupyter."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


def is_placeholder(answer: Any) -> bool:
    """True for the scaffold's placeholders: `...` and `None`."""
    return answer is Ellipsis or answer is None


def close_to(rtol: float = 1e-3, atol: float = 1e-9) -> Callable[[Any, Any], tuple[bool, str]]:
    """Comparison for numbers and arrays: |answer − expected| <= atol + rtol · |expected|."""

    def compare(answer: Any, expected: Any) -> tuple[bool, str]:
        if isinstance(answer, str):  # a name or a label where a figure is asked for
            return False, f"expected a number, got the text {answer!r}"
        a, e = _as_float_array(answer), _as_float_array(expected)
        if e.ndim == 0 and a.size == 1:  # `[x]` or a one-entry Series/tensor is one number too
            a = a.reshape(())
        if a.shape != e.shape:
            wanted = "one number" if e.ndim == 0 else f"shape {e.shape}"
            return False, f"expected {wanted}, got an array of shape {a.shape}"
        if np.allclose(a, e, rtol=rtol, atol=atol):
            return True, "matches"
        if np.isnan(a).any():  # NaN is neither larger nor smaller: say what it is
            n_nan = int(np.isnan(a).sum())
            where = "your answer is NaN" if a.ndim == 0 else f"{n_nan} entries are NaN"
            return False, f"{where} (a mean over nothing, 0/0, or the log of 0 times 0?)"
        if e.ndim == 0:
            # A figure copied from a printed table is right, but not to the tolerance.
            # `a` must have exactly d decimals: 0 or 1 against 0.0042 or 0.9996 is a guess.
            rounded = [d for d in range(2, 7)
                       if float(a) == round(float(e), d) != round(float(a), d - 1)]  # fmt: skip
            if rounded:
                why = "compute it instead of copying a printed figure"
                return False, f"{float(a):g} is the answer rounded to {rounded[0]} decimals: {why}"
            if 0 < abs(float(e)) <= 1 and np.isclose(float(a) / 100, float(e), rtol=rtol):
                return False, f"{float(a):g} looks like a percentage: give the share as a fraction"
            direction = "too large" if a > e else "too small"
            shown = f"{float(a):.6g}"
            if shown == f"{float(e):.6g}":  # 6 digits would hide the difference: show them all
                shown = repr(float(a))
            return False, f"{shown} is {direction}"
        return False, f"{int((~np.isclose(a, e, rtol=rtol, atol=atol)).sum())} entries differ"

    return compare


def _as_array(x: Any) -> np.ndarray:
    """`x` as a NumPy array; a torch tensor is detached first (it may require grad)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _shared_input(answer: Any, context: dict[str, Any]) -> str | None:
    """The name of an array or tensor in `context` that `answer` shares memory with, if any."""
    if not isinstance(answer, np.ndarray) and not hasattr(answer, "detach"):
        return None
    try:
        mine = _as_array(answer)
        for name, value in context.items():
            if isinstance(value, np.ndarray) or hasattr(value, "detach"):
                if np.may_share_memory(mine, _as_array(value)):
                    return name
    except Exception:  # a sparse or odd tensor: no advice is better than a crash in check()
        return None
    return None


def _as_float_array(x: Any) -> np.ndarray:
    return _as_array(x).astype(np.float64)


def same_sequence(answer: Any, expected: Any) -> tuple[bool, str]:
    """Comparison for ordered lists of ids: same items in the same order."""
    if isinstance(answer, (set, frozenset, Mapping, KeysView, ValuesView, Iterator)):
        # np.asarray would make a set one object, reported as "not a whole number"
        kind = type(answer).__name__
        return False, f"give an ordered list of ids, best first (a {kind} has no order)"
    ids = _as_array(answer)
    if sum(n > 1 for n in ids.shape) > 1:
        return False, (
            f"expected a flat list of item ids, got an array of shape {ids.shape} (from "
            "torch.topk take .indices; from a table, its 'item' column)"
        )
    ids = ids.ravel()
    # int() would truncate a score such as 0.93 to the id 0, so anything but whole numbers is
    # refused rather than compared.
    wrong = [x for x in ids if not isinstance(x, (int, float, np.number)) or x != np.round(x)]
    if wrong:
        value = wrong[0].item() if isinstance(wrong[0], np.generic) else wrong[0]
        if isinstance(value, float):
            return False, f"item ids are whole numbers, got {value:.4g} (a score, not an id?)"
        return False, f"item ids are whole numbers, got {value!r}"
    a, e = [int(x) for x in ids], [int(x) for x in np.ravel(expected)]
    if a == e:
        return True, "matches"
    if len(a) != len(e):
        return False, f"expected {len(e)} items, got {len(a)}"
    if len(set(a)) < len(a):
        return False, "your list repeats an item"
    if sorted(a) == sorted(e):
        return False, "the right items, in the wrong order"
    missing = len(set(a) - set(e))
    are = "is" if missing == 1 else "are"
    return False, f"{missing} of your {len(a)} items {are} not in the expected list"


def choice(answer: Any, expected: Any) -> tuple[bool, str]:
    """Comparison for multiple choice: the letter, case, spaces and "(b)"-style brackets ignored."""
    if not isinstance(answer, str):
        return False, f"answer with one letter as a string, e.g. 'a'; got {answer!r}"
    # The options print as "(b) ...", so "(b)", "b)" and "b." name option b as well.
    letter = answer.strip().strip("().").strip().lower()
    if len(letter) > 1:  # the option's text, or "(b) temporal…": right or wrong, say how to answer
        return False, f"answer with the option's letter only, e.g. 'b'; got {answer.strip()!r}"
    ok = letter == str(expected).lower()
    return ok, "matches" if ok else f"{answer.strip()!r} is not the right option"


@dataclass(frozen=True)
class Exercise:
    """One exercise: a question, how to get the expected answer, and how to compare.

    Attributes:
        name: Short identifier, shown in messages.
        question: The task, as shown in the notebook.
        expected: `expected(**context)` returns the right answer from the notebook's objects.
        compare: `compare(answer, expected) -> (ok, message)`.
        hints: Hints, from gentle to explicit; `hint(i)` returns the i-th.
        solution_code: Code that sets `answer`, runnable in the notebook's namespace.
        explanation: Why the answer is what it is, shown when correct.
        choices: For multiple choice, letter -> option text (shown by `question_text`).
        pitfalls: `pitfalls(**context)` returns the answers of likely slips, each with what to
            tell the learner: `[(wrong_answer, message), ...]`, tried when the answer is wrong.
        changed_context: `changed_context(**context)` returns a message when an object passed
            to `check` looks edited in place (a learner's `V /= …` on the model's own tensor),
            or None. Then nothing can be judged: the expected value would be computed from
            the edited object.
    """

    name: str
    question: str
    expected: Callable[..., Any]
    compare: Callable[[Any, Any], tuple[bool, str]]
    hints: Sequence[str]
    solution_code: str
    explanation: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    pitfalls: Callable[..., list[tuple[Any, str]]] | None = None
    changed_context: Callable[..., str | None] | None = None

    def check(self, answer: Any, **context: Any) -> Result:
        """Compare `answer` with the expected value computed from `context`; never raises."""
        if is_placeholder(answer):
            return Result(NOT_ATTEMPTED, f"replace the placeholder with your answer ({self.name})")
        changed = self._changed(context)
        if changed:
            return Result(INCORRECT, changed)
        try:
            expected = _call(self.expected, context)
        except TypeError as exc:  # the notebook passed the wrong context: say which is needed
            needed = ", ".join(f"{name}=..." for name in _needs(self.expected))
            return Result(INCORRECT, f"call check(answer, {needed}): {exc}")
        except Exception as exc:  # e.g. `data` was reassigned in a cell above: feedback, no crash
            names = ", ".join(_needs(self.expected))
            return Result(INCORRECT, f"could not compute the expected value from {names} "
                                     f"({type(exc).__name__}: {exc}); if you reassigned one of "
                                     "them, re-run the cell that defines it")  # fmt: skip
        try:
            ok, detail = self.compare(answer, expected)
        except Exception as exc:  # a malformed answer is feedback, not a crash
            return Result(INCORRECT, f"could not compare your answer: {exc}")
        if ok:
            return Result(CORRECT, self.explanation or "well done")
        shared = _shared_input(answer, context)
        if shared:  # `x -= …; answer = x` changed the input that `expected` was computed from
            detail += (f". Your answer is the `{shared}` passed to check, or shares its memory: "
                       "either it is unchanged, or you changed it in place (then re-run the cell "
                       "that defines it); build a new array instead")  # fmt: skip
        else:  # a slip is judged against the context, which an in-place edit has changed
            detail = self._pitfall(answer, context) or detail
        return Result(INCORRECT, f"{detail}. Try {self.name}.hint() for a nudge")

    def _changed(self, context: dict[str, Any]) -> str | None:
        if self.changed_context is None:
            return None
        try:
            return _call(self.changed_context, context)
        except Exception:  # a missing or odd context is reported by `expected` below
            return None

    def _pitfall(self, answer: Any, context: dict[str, Any]) -> str | None:
        """What to say when `answer` is one of the exercise's known slips, else None."""
        if self.pitfalls is None:
            return None
        try:
            for wrong, message in _call(self.pitfalls, context):
                if self.compare(answer, wrong)[0]:
                    return message
        except Exception:  # advice is optional: the comparison's own message still stands
            return None
        return None

    def hint(self, i: int = 0) -> Text:
        """The i-th hint: 0 the gentlest, −1 the most explicit (list indexing, clamped at ends).

        A hint that has a more explicit one after it says how to ask for it.
        """
        if not self.hints:
            return Text("no hint for this one; see solution()")
        n = len(self.hints)
        at = min(max(int(i), -n), n - 1) % n
        more = f"\n(a more explicit hint: {self.name}.hint({at + 1}))" if at < n - 1 else ""
        return Text(self.hints[at] + more)

    def solution(self) -> Text:
        """Code that computes the answer (it sets `answer`)."""
        return Text(self.solution_code)

    def question_text(self) -> Text:
        """The question, with the options of a multiple-choice exercise."""
        options = "".join(f"\n  ({k}) {v}" for k, v in self.choices.items())
        return Text(self.question + options)


def _needs(fn: Callable[..., Any]) -> list[str]:
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def _call(fn: Callable[..., Any], context: dict[str, Any]) -> Any:
    """`fn` called with the part of `context` it takes (extra objects are fine to pass)."""
    params = inspect.signature(fn).parameters.values()
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        context = {k: v for k, v in context.items() if k in _needs(fn)}
    return fn(**context)


__all__ = [
    "CORRECT",
    "INCORRECT",
    "NOT_ATTEMPTED",
    "Exercise",
    "Result",
    "Text",
    "choice",
    "close_to",
    "is_placeholder",
    "same_sequence",
]
