"""Exercise machinery: placeholders, comparisons, slips, wrong options, results."""

import numpy as np
import pandas as pd
import pytest
import torch

from lessons.exercises import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    Exercise,
    Result,
    choice,
    close_to,
    same_sequence,
)


def test_placeholders_are_not_attempted():
    ex = Exercise("demo", "2 + 2?", lambda: 4, close_to(), ["add"], "answer = 4")
    for placeholder in (..., None):
        result = ex.check(placeholder)
        assert result.status == NOT_ATTEMPTED and not result


def test_close_to_reports_direction_and_shape():
    compare = close_to(rtol=0.01)
    assert compare(4.03, 4.0)[0] is True
    assert compare(4.1, 4.0) == (False, "4.1 is too large")
    assert compare(3.0, 4.0) == (False, "3 is too small")
    ok, message = compare(float("nan"), 4.0)  # was "nan is too small"
    assert not ok and message.startswith("your answer is NaN (")
    ok, message = compare([1.0, np.nan, np.nan], [1.0, 2.0, 3.0])
    assert not ok and message.startswith("2 entries are NaN")
    assert compare([1, 2], [1, 2, 3])[0] is False
    assert compare([1, 2, 9], [1, 2, 3]) == (False, "1 entries differ")
    assert compare([4.0, 5.0], 4.0) == (False, "expected one number, got an array of shape (2,)")


def test_close_to_takes_a_number_in_the_forms_a_learner_computes_it():
    compare = close_to(rtol=1e-6)
    for answer in (np.array([4.0]), [4.0], pd.Series([4.0]), torch.tensor([4.0])):
        assert compare(answer, 4.0)[0], type(answer)
    assert compare(torch.ones(3, requires_grad=True) * 2, [2, 2, 2])[0]  # detached, not an error
    assert compare(np.float32(0.1884661), 0.18846611177170036)[0]  # float32 rounding
    # Six digits would print the same number twice: the message shows all of them.
    assert close_to(rtol=1e-9)(0.1884662, 0.18846611) == (False, "0.1884662 is too large")


def test_close_to_recognises_a_figure_copied_from_a_rounded_table():
    ok, message = close_to(rtol=1e-6)(0.782, 0.78166)  # as printed by `table.round(3)`
    assert not ok and message.startswith("0.782 is the answer rounded to 3 decimals: compute")
    assert close_to(rtol=1e-6)(0.8, 0.78166) == (False, "0.8 is too large")  # a guess, not a copy
    assert close_to(rtol=1e-6)(0, 0.0042) == (False, "0 is too small")  # 0.0042 rounds to 0.00
    assert close_to(rtol=1e-6)(1, 0.9996) == (False, "1 is too large")


def test_close_to_says_what_a_percentage_or_a_name_is():
    ok, message = close_to(rtol=1e-3)(4.906, 0.04906)
    assert not ok and message == "4.906 looks like a percentage: give the share as a fraction"
    assert close_to()(50.0, 0.3) == (False, "50 is too large")  # not the share × 100
    assert close_to()(234.5, 2.345) == (False, "234.5 is too large")  # not a share at all
    assert close_to()("ItemKNN", 221.0) == (False, "expected a number, got the text 'ItemKNN'")


def test_choice_takes_the_option_as_it_is_printed():
    for answer in ("b", " B ", "(b)", "b)", "b."):
        assert choice(answer, "b")[0], answer
    assert not choice("(a)", "b")[0] and not choice("bc", "b")[0]
    # The right option given by its text is not "wrong": it is the wrong way to answer.
    for answer in ("temporal", "(b) temporal: hold out each user's latest"):
        ok, message = choice(answer, "b")
        assert not ok and message.startswith("answer with the option's letter only, e.g. 'b'")


def test_same_sequence_and_choice_messages():
    assert same_sequence([3, 1, 2], [3, 1, 2])[0]
    assert same_sequence([1, 2, 3], [3, 1, 2]) == (False, "the right items, in the wrong order")
    assert same_sequence([1, 2], [3, 1, 2]) == (False, "expected 3 items, got 2")
    assert same_sequence([3, 3, 2], [3, 1, 2]) == (False, "your list repeats an item")


def test_same_sequence_refuses_what_is_not_a_list_of_ids():
    scores = torch.tensor([0.1, 0.9, 0.5, 0.7])
    for answer in (np.array([[3], [1], [2]]), pd.Series([3, 1, 2]), torch.tensor([3, 1, 2])):
        assert same_sequence(answer, [3, 1, 2])[0], type(answer)
    # int() would have read the score 0.9 as item 0: a score is refused, not truncated.
    assert same_sequence(torch.topk(scores, 1).values, [0]) == (
        False,
        "item ids are whole numbers, got 0.9 (a score, not an id?)",
    )
    ok, message = same_sequence(torch.topk(scores, 3), [1, 3, 2])  # (values, indices)
    assert not ok and "flat list" in message and ".indices" in message
    table = pd.DataFrame({"item": [1, 3, 2], "title": ["A", "B", "C"]})
    assert "'item' column" in same_sequence(table, [1, 3, 2])[1]
    assert not choice("a", "b")[0]
    assert not choice(2, "b")[0]


def test_same_sequence_asks_for_an_order_where_a_set_has_none():
    # np.asarray(set) is one object: it was reported as "ids are whole numbers, got {3, 1, 2}".
    for answer in (
        {3, 1, 2},
        frozenset({3, 1, 2}),
        {3: 0.9, 1: 0.5, 2: 0.1}.keys(),
        iter([3, 1, 2]),
    ):
        ok, message = same_sequence(answer, [3, 1, 2])
        assert not ok and "ordered list" in message, type(answer)
    assert same_sequence([3, 1, 7], [3, 1, 2])[1] == "1 of your 3 items is not in the expected list"
    assert (
        same_sequence([3, 8, 7], [3, 1, 2])[1] == "2 of your 3 items are not in the expected list"
    )


def test_a_known_slip_gets_its_own_message_and_a_right_answer_never_does():
    def pitfalls(x):
        return [(x, "that is x itself"), (2 * x, "doubled")]

    ex = Exercise("demo", "q", lambda x: x + 1, close_to(), [], "", pitfalls=pitfalls)
    assert ex.check(2.0, x=2.0).message.startswith("that is x itself")
    assert ex.check(4.0, x=2.0).message.startswith("doubled")
    assert ex.check(9.0, x=2.0).message.startswith("9 is too large")
    both = Exercise("demo", "q", lambda x: x, close_to(), [], "", pitfalls=pitfalls)
    assert both.check(2.0, x=2.0).correct  # a slip equal to the answer does not shadow it


def test_a_wrong_option_is_told_why_and_a_stray_letter_is_refused():
    options = {"a": "one", "b": "two", "c": "three"}
    ex = Exercise("demo", "q", lambda: "b", choice, [], "", choices=options,
                  why_not={"a": "one is too few"})  # fmt: skip
    assert ex.check("(A)").message.startswith("'(A)' is not the right option: one is too few.")
    assert ex.check("c").message.startswith("'c' is not the right option. Try")  # no reason given
    assert ex.check("b").correct
    with pytest.raises(
        ValueError, match=r"demo: why_not names options that are not choices: \['e'\]"
    ):
        Exercise("demo", "q", lambda: "b", choice, [], "", choices=options, why_not={"e": "?"})


def test_an_option_copied_whole_is_judged_as_its_letter():
    options = {"a": "one", "b": "two  words", "c": "three"}
    ex = Exercise("demo", "q", lambda: "b", choice, [], "right", choices=options,
                  why_not={"a": "one is too few"})  # fmt: skip
    # As question_text() prints it, with or without the "(b) ", in any case and spacing.
    assert ex.check("  (b) two  words\n").correct and ex.check("TWO words").correct
    assert ex.check("(a) one").message.startswith("'a' is not the right option: one is too few.")
    assert ex.check("three").message.startswith("'c' is not the right option. Try")
    for unread in ("two word", "(c) two words", "b two words"):  # a paraphrase or a mismatch
        assert ex.check(unread).message.startswith("answer with the option's letter only"), unread
    upper = Exercise("demo", "q", lambda: "B", choice, [], "", choices={"A": "one", "B": "two"})
    assert upper.check("(b) Two").correct  # `choice` reads letters in any case, so this does too


def test_a_context_edited_in_place_is_reported_before_judging():
    def changed(v):
        return "v was normalized in place" if np.allclose(np.linalg.norm(v, axis=1), 1) else None

    ex = Exercise("demo", "q", lambda v: v.sum(), close_to(), [], "", changed_context=changed)
    v = np.array([[3.0, 4.0], [1.0, 0.0]])
    assert ex.check(v.sum(), v=v).correct
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    result = ex.check(v.sum(), v=v)  # right for the edited v, and still not judged correct
    assert result.status == INCORRECT and result.message == "v was normalized in place"
    assert ex.check(1.0).message.startswith("call check(answer, v=...)")  # context still named


def test_malformed_answer_is_incorrect_not_an_exception():
    ex = Exercise("demo", "q", lambda: [1, 2], same_sequence, [], "answer = [1, 2]")
    result = ex.check("not a list of ids")
    assert result.status == INCORRECT and "whole numbers" in result.message
    ex = Exercise("demo", "q", lambda: 2.0, close_to(), [], "answer = 2.0")
    result = ex.check({"a": "dict"})  # np.asarray(...).astype(float) raises
    assert result.status == INCORRECT and "could not compare" in result.message


def test_result_and_text_render():
    result = Result(CORRECT, "a < b")
    assert str(result).startswith("✔ correct") and "a &lt; b" in result._repr_html_()
    ex = Exercise("demo", "q", lambda: 1, close_to(), ["first", "second"], "answer = 1")
    # A hint with a more explicit one after it says how to ask for it; the last one does not.
    assert str(ex.hint()) == "first\n(a more explicit hint: demo.hint(1))" == str(ex.hint(-2))
    assert str(ex.hint(5)) == str(ex.hint(-1)) == "second" and str(ex.hint(-9)) == str(ex.hint())
    assert "answer = 1" in ex.solution()._repr_html_()
