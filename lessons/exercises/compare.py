"""How an answer is compared with the expected value: numbers, ordered id lists, choices.

Each comparison is `compare(answer, expected) -> (ok, message)`; the message says what differs
in words a learner can act on (a rounded figure, a percentage, a score where an id was asked).
"""

from collections.abc import Callable, Iterator, KeysView, Mapping, ValuesView
from typing import Any

import numpy as np


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


def as_array(x: Any) -> np.ndarray:
    """`x` as a NumPy array; a torch tensor is detached first (it may require grad)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_float_array(x: Any) -> np.ndarray:
    return as_array(x).astype(np.float64)


def same_sequence(answer: Any, expected: Any) -> tuple[bool, str]:
    """Comparison for ordered lists of ids: same items in the same order."""
    if isinstance(answer, (set, frozenset, Mapping, KeysView, ValuesView, Iterator)):
        # np.asarray would make a set one object, reported as "not a whole number"
        kind = type(answer).__name__
        return False, f"give an ordered list of ids, best first (a {kind} has no order)"
    ids = as_array(answer)
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
    # More than a letter: a paraphrase (`Exercise.check` reads an option copied whole as its
    # letter first). Right or wrong, say how to answer.
    if len(letter) > 1:
        return False, f"answer with the option's letter only, e.g. 'b'; got {answer.strip()!r}"
    ok = letter == str(expected).lower()
    return ok, "matches" if ok else f"{answer.strip()!r} is not the right option"
