"""Typed grid parameters: what each accepts, checked before any cell runs.

Plain dataclasses rather than a schema library: the checks are one comparison each, and the
messages are the harness's own ("lr must be a number > 0, got -1"). Every parameter of an experiment's
grid declares one of these; `--set` values, Python overrides and the grid's own defaults all go
through `Param.check`.
"""

import math
from dataclasses import dataclass

from bench.errors import UserError


@dataclass(frozen=True)
class Param:
    """kind: "int", "float", "bool", "str", "ints" (a list of ints), "floats" (a list of numbers) or
    "choice" (one of `choices` only). low/high bound numbers (and list elements), inclusive unless
    low_open/high_open; choices are values allowed besides the kind's own (init: a number > 0, or
    "xavier"); nullable admits null (the experiment's own default, said in help);
    min_len/max_len bound a list's length."""

    kind: str
    help: str
    low: float = None
    high: float = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = None
    nullable: bool = False
    min_len: int = 1
    max_len: int = None

    def describe(self):
        """What the parameter accepts, in words: "an integer >= 1", "one of relu, tanh", "a list of ..."."""
        parts = []
        if self.kind != "choice":
            base = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text",
                    "ints": "a list of integers", "floats": "a list of numbers"}[self.kind]
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
            text = base + (" " + " and ".join(bounds) if bounds else "")
            if self.kind in ("ints", "floats"):
                most = f" and at most {self.max_len}" if self.max_len else ""
                text += f" (at least {self.min_len}{most})"
            parts.append(text)
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.nullable:
            parts.append("null")
        return ", or ".join(parts)

    def check(self, name, value):
        """The value as the experiment gets it (an int given as 3.0 becomes 3), or a UserError saying
        which parameter, what was given and what is allowed."""
        def bad():
            return UserError(f"bad value for {name}: {_show(value)}; {name} takes {self.describe()}")

        if value is None:
            if self.nullable:
                return None
            raise bad()
        if self.choices is not None:
            for choice in self.choices:
                if _same(value, choice):
                    return choice
            if self.kind == "choice":
                raise bad()
        if self.kind in ("ints", "floats"):
            if not isinstance(value, list) or len(value) < self.min_len or (self.max_len and len(value) > self.max_len):
                raise bad()
            scalar = "int" if self.kind == "ints" else "float"
            try:
                return [self._scalar(scalar, v) for v in value]
            except ValueError:
                raise bad() from None
        try:
            return self._scalar(self.kind, value)
        except ValueError:
            raise bad() from None

    def _scalar(self, kind, value):
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if kind == "str":
            if isinstance(value, str) and value:
                return value
            raise ValueError
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError
        if kind == "int":
            if value != int(value):
                raise ValueError
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise ValueError
        return value


def _same(value, choice):
    """Equal and of one kind: true is not 1, and "1" is not 1."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    if isinstance(choice, (int, float)):
        return isinstance(value, (int, float)) and value == choice
    return type(value) is type(choice) and value == choice


def _number(v):
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def _show(value):
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def Int(help, low=None, high=None, **kw):
    return Param("int", help, low, high, **kw)


def Float(help, low=None, high=None, **kw):
    return Param("float", help, low, high, **kw)


def Choice(help, *choices, **kw):
    return Param("choice", help, choices=tuple(choices), **kw)


def Bool(help):
    return Param("bool", help)


# Parameters many experiments share, declared once. Bounds are what the engine can run, generous
# enough for any real question, tight enough to catch a typo (hidden=1e9, batch=0).
MAX_WIDTH = 65_536
MAX_STEPS = 100_000_000
LR = Float("learning rate", 0, low_open=True)
BATCH = Int("mini-batch size", 1, 1_000_000)
EPOCHS = Int("training epochs", 1, 1_000_000)
ITERATIONS = Int("training iterations (one mini-batch each)", 1, MAX_STEPS)
STEPS = Int("training steps", 1, MAX_STEPS)
EVAL_EVERY = Int("evaluate every this many iterations (and after the last)", 1, MAX_STEPS)
N_TRAIN = Int("use the first N training samples", 1, 10_000_000)
N_TEST = Int("use the first N test samples (null: all)", 1, 10_000_000, nullable=True)
WIDTHS = Param("ints", "hidden layer widths, input side first", 1, MAX_WIDTH, max_len=100)
WIDTH = Int("hidden layer width", 1, MAX_WIDTH)
DTYPE = Choice("float type of data, parameters and arithmetic", "float64", "float32")
