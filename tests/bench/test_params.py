"""Typed grid parameters against their specification: what each kind accepts, the words `show` and the
error use for it, and the value the experiment then gets (its type included)."""

import math

import pytest

from bench.errors import UserError
from bench.params import BATCH, LR, N_TEST, WIDTHS, Bool, Choice, Float, Int, Param


@pytest.mark.parametrize("param, words", [
    (Int("h", 1), "an integer >= 1"),
    (Int("h", high=7), "an integer <= 7"),
    (LR, "a number > 0"),
    (BATCH, "an integer >= 1 and <= 1,000,000"),
    (Float("h", 0, 1, high_open=True), "a number >= 0 and < 1"),
    (Float("h", 2.5e-7, 0.5), "a number >= 2.5e-07 and <= 0.5"),
    (Float("h", -3, 0.001, low_open=True), "a number > -3 and <= 0.001"),
    (Float("h"), "a number"),
    (Bool("h"), "true or false"),
    (Param("str", "h"), "text"),
    (WIDTHS, "a list of integers >= 1 and <= 65,536 (at least 1 and at most 100)"),
    (Param("floats", "h", 0, min_len=2), "a list of numbers >= 0 (at least 2)"),
    (Choice("h", "relu", "tanh"), "one of relu, tanh"),
    (Choice("h", 1, 2.5, nullable=True), "one of 1, 2.5, or null"),
    (Float("h", 0, low_open=True, choices=("xavier", "he")), "a number > 0, or one of xavier, he"),
    (N_TEST, "an integer >= 1 and <= 10,000,000, or null"),
])
def test_describe_says_what_the_parameter_accepts(param, words):
    assert param.describe() == words


def test_choice_keeps_its_options():
    """Built in the test, not in a parametrize list: mutation testing collects the list before it
    switches a mutant on."""
    choice = Choice("h", "a", "b", nullable=True)
    assert choice.check("x", None) is None and choice.describe() == "one of a, b, or null"


@pytest.mark.parametrize("param, given, expected", [
    (Int("h", 1), 3, 3),
    (Int("h", 1), 3.0, 3),                # an int written as 3.0 reaches the experiment as 3
    (Int("h", 1), 1, 1),                  # inclusive bound
    (Float("h", 0, 1), 1, 1.0),           # an int given to a float parameter is a float
    (LR, 1e-300, 1e-300),
    (Float("h", 0, 1, high_open=True), 0.999, 0.999),
    (Bool("h"), True, True),
    (Bool("h"), False, False),
    (Param("str", "h"), "a", "a"),
    (N_TEST, None, None),
    (Choice("h", "relu", "tanh"), "tanh", "tanh"),
    (Choice("h", 1, 2), 2.0, 2),          # the choice as declared, not as given
    (Float("h", 0, low_open=True, choices=("xavier",)), "xavier", "xavier"),
    (Float("h", 0, low_open=True, choices=("xavier",)), 0.5, 0.5),
    (WIDTHS, [1, 2.0], [1, 2]),
    (Param("floats", "h", 0), [1, 2], [1.0, 2.0]),
    (Param("ints", "h"), list(range(500)), list(range(500))),  # no max_len: any length
])
def test_check_returns_the_value_the_experiment_gets(param, given, expected):
    got = param.check("p", given)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(got, list):
        assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize("param, given", [
    (Int("h", 1), None),
    (Int("h", 1), 0),
    (Int("h", 1), 3.5),
    (Int("h", 1), True),                  # true is not 1
    (Int("h", 1), "3"),
    (Int("h", high=5), 6),
    (Float("h"), math.nan),
    (Float("h"), math.inf),
    (Float("h"), -math.inf),
    (LR, 0),                              # open bound
    (LR, -1),
    (Float("h", 0, 1), 1.0000001),
    (Float("h", 0, 1, high_open=True), 1),
    (Bool("h"), 1),
    (Bool("h"), "true"),
    (Param("str", "h"), ""),
    (Param("str", "h"), 3),
    (Choice("h", "relu", "tanh"), "sigmoid"),
    (Choice("h", 1, 2), True),            # true is not 1 ...
    (Choice("h", True, False), 1),        # ... nor 1 true
    (Choice("h", 1, 2), "1"),             # "1" is not 1
    (Choice("h", "1"), 1),
    (Float("h", 0, low_open=True, choices=("xavier",)), "he"),
    (Float("h", 0, low_open=True, choices=("xavier",)), -1),
    (WIDTHS, []),                         # fewer than min_len
    (WIDTHS, [1] * 101),                  # more than max_len
    (WIDTHS, (1, 2)),                     # a tuple is not a list
    (WIDTHS, 3),
    (WIDTHS, [1, 1.5]),
    (WIDTHS, [1, 0]),
    (WIDTHS, [True]),
    (Param("floats", "h", 0, min_len=2), [1.0]),
    (Param("floats", "h", 0), [1.0, math.nan]),
])
def test_check_refuses_what_the_parameter_does_not_accept(param, given):
    with pytest.raises(UserError, match=r"^bad value for p: .*; p takes "):
        param.check("p", given)


def test_the_error_names_the_parameter_the_value_and_what_is_allowed():
    with pytest.raises(UserError) as caught:
        LR.check("lr", -1)
    assert str(caught.value) == "bad value for lr: -1; lr takes a number > 0"
    with pytest.raises(UserError) as caught:
        WIDTHS.check("widths", [0.5])
    assert str(caught.value) == ("bad value for widths: [0.5]; widths takes a list of integers >= 1 and <= 65,536 "
                                 "(at least 1 and at most 100)")
    with pytest.raises(UserError) as caught:
        Int("h", 1).check("n", None)
    assert str(caught.value) == "bad value for n: null; n takes an integer >= 1"
    with pytest.raises(UserError) as caught:   # what JSON cannot show is shown as Python does
        Int("h", 1).check("n", {1})
    assert str(caught.value) == "bad value for n: {1}; n takes an integer >= 1"


def test_the_shortcuts_build_the_kinds_they_name():
    assert Int("h", 1, 5) == Param("int", "h", 1, 5)
    assert Float("h", 0, 1, low_open=True) == Param("float", "h", 0, 1, low_open=True)
    assert Choice("h", "a", "b") == Param("choice", "h", choices=("a", "b"))
    assert Bool("h") == Param("bool", "h")
