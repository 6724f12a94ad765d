"""Checks at the boundary: a bad config is refused when it is built, with one clear error.

The error names the field, the value and what is allowed.

`check_fields` reads each dataclass field's type (int, float, str, bool, a Literal, or a list or
tuple of those) and its metadata bounds (`metadata={"min": 0}`, `{"max": 1}`, `{"choices": ...}`);
numbers must be finite, an int field takes no bool and no fractional float. NumPy scalars are
accepted as the numbers they are and stored as Python ones (a config stays JSON-ready).
"""

from __future__ import annotations

import math
from dataclasses import fields
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np


def check_fields(config: Any) -> None:
    """Check every field of the dataclass instance `config` (call it from `__post_init__`).

    Raises:
        ValueError: naming the first field that does not fit.
    """
    hints = get_type_hints(type(config))
    for field in fields(config):
        value, kind = getattr(config, field.name), hints[field.name]
        members = [kind]
        if get_origin(kind) in (Union, UnionType):
            members = [a for a in get_args(kind) if a is not type(None)]
            if value is None and len(members) < len(get_args(kind)):
                continue
            if len(members) > 1:
                continue  # several kinds (a path or an object, ...): the owner checks it
        base = members[0]
        if get_origin(base) in (list, tuple):
            element = get_args(base)[0] if get_args(base) else Any
            if not isinstance(value, list | tuple):
                raise ValueError(f"{field.name} must be a sequence, got {value!r}")
            items = [check_value(field.name, item, element, field.metadata) for item in value]
            if any(new is not old for new, old in zip(items, value, strict=True)):
                object.__setattr__(config, field.name, type(value)(items))
        else:
            checked = check_value(field.name, value, base, field.metadata)
            if checked is not value:
                object.__setattr__(config, field.name, checked)


def check_value(name: str, value: Any, kind: Any, bounds: Any = None) -> Any:
    """Check one value against a kind (int, float, str, bool or a Literal) and its bounds.

    `bounds` may hold min, max and choices; any other kind is left to its owner. Returns the
    value, a NumPy scalar as the Python number it is.
    """
    value = _plain(value)
    bounds = dict(bounds or {})
    if get_origin(kind) is Literal:
        bounds.setdefault("choices", get_args(kind))
        kind = type(get_args(kind)[0])
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind is str:
        ok = isinstance(value, str)
    else:
        return value  # nested dataclasses and other kinds check themselves
    if ok and "min" in bounds:
        ok = value >= bounds["min"]
    if ok and "max" in bounds:
        ok = value <= bounds["max"]
    if ok and "choices" in bounds:
        ok = value in bounds["choices"]
    if not ok:
        raise ValueError(f"{name} must be {describe(kind, bounds)}, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it is (numpy.int64(3) -> 3); anything else as is."""
    return value.item() if isinstance(value, np.generic) else value


def describe(kind: Any, bounds: Any) -> str:
    """What a value of `kind` within `bounds` is, in words ("an integer >= 1")."""
    if "choices" in bounds:
        return "one of " + ", ".join(map(repr, bounds["choices"]))
    words = {int: "an integer", float: "a finite number", str: "a string", bool: "True or False"}
    text = words.get(kind, str(kind))
    if "min" in bounds and "max" in bounds:
        return f"{text} in [{bounds['min']}, {bounds['max']}]"
    if "min" in bounds:
        return f"{text} >= {bounds['min']}"
    if "max" in bounds:
        return f"{text} <= {bounds['max']}"
    return text


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """`value` as an int in [minimum, maximum] (a whole float is accepted), or one clear error."""
    value = _plain(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        allowed = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def out_of_memory(error: MemoryError) -> str:
    """The one line a command line prints when a run is sized past the machine's memory."""
    return f"out of memory ({error}): ask for less"


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`, or one clear error naming the parameter."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value
