"""Strategies of the bad-input suite: values of every kind a careless caller might pass.

Each test of this suite asserts, for one public surface, that whatever it is given it either
accepts (and then returns finite values inside its space) or refuses with a `ValueError` (or a
subclass) whose message names what was wrong: never another exception, never a NaN.
Contributors extend it by adding a surface and the strategy of its inputs.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "bad_inputs", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("bad_inputs")

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
"""Values of every common kind, valid ones among them."""
