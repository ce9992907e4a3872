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
model), never hard-coded, so an exercise stays right on the synthetic fallback data too. How an
answer is compared with it (`close_to`, `same_sequence`, `choice`) lives in
`lessons.exercises.compare`; the notebooks' exercises live in `nb00` … `nb06`.
"""

import html
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lessons import theme
from lessons.exercises.compare import as_array, choice, close_to, same_sequence

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


def _shared_input(answer: Any, context: dict[str, Any]) -> str | None:
    """The name of an array or tensor in `context` that `answer` shares memory with, if any."""
    if not isinstance(answer, np.ndarray) and not hasattr(answer, "detach"):
        return None
    try:
        mine = as_array(answer)
        for name, value in context.items():
            if isinstance(value, np.ndarray) or hasattr(value, "detach"):
                if np.may_share_memory(mine, as_array(value)):
                    return name
    except Exception:  # a sparse or odd tensor: no advice is better than a crash in check()
        return None
    return None


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
        why_not: For multiple choice, wrong letter -> why that option is wrong, added to the
            message when a learner picks it ("'a' is not the right option: …").
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
    why_not: dict[str, str] = field(default_factory=dict)
    pitfalls: Callable[..., list[tuple[Any, str]]] | None = None
    changed_context: Callable[..., str | None] | None = None

    def __post_init__(self) -> None:
        stray = sorted(set(self.why_not) - set(self.choices))
        if stray:  # a typo'd letter would silently never be shown
            raise ValueError(f"{self.name}: why_not names options that are not choices: {stray}")

    def check(self, answer: Any, **context: Any) -> Result:
        """Compare `answer` with the expected value computed from `context`; never raises."""
        if is_placeholder(answer):
            return Result(NOT_ATTEMPTED, f"replace the placeholder with your answer ({self.name})")
        answer = self._as_letter(answer)
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
            reason = next((why for letter, why in self.why_not.items()
                           if choice(answer, letter)[0]), None)  # fmt: skip
            if reason:
                detail = f"{detail}: {reason}"
        return Result(INCORRECT, f"{detail}. Try {self.name}.hint() for a nudge")

    def _as_letter(self, answer: Any) -> Any:
        """An option copied from `question_text()`, "(b) learn a row …" or its text alone, as
        its letter (case and runs of spaces ignored); any other answer as it is. A paraphrase
        stays unread: which option it means is a guess, and `choice` asks for the letter."""
        if not self.choices or not isinstance(answer, str):
            return answer
        said = " ".join(answer.split()).casefold()
        for letter, option in self.choices.items():
            text = " ".join(option.split())
            if said in (text.casefold(), f"({letter}) {text}".casefold()):
                return letter
        return answer

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
