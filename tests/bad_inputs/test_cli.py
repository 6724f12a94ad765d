"""Every benchmark's command line refuses a bad number with one usage line (exit 2).

Never a traceback."""

from __future__ import annotations

import contextlib
import importlib
import io
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks._common import cli

BENCHMARKS = [
    "zoo",
    "leaderboard",
    "stress",
    "dpo_sweep",
    "greedy_spread",
    "greedy_shortlist",
    "throughput",
    "fidelity",
    "uncertainty_on_logs",
]


@pytest.mark.parametrize("name", BENCHMARKS)
@given(data=st.data())
def test_bad_numbers_are_one_usage_line(name: str, data) -> None:
    args_type = importlib.import_module(f"benchmarks.{name}").Args
    numeric = [f for f in fields(args_type) if "int" in str(f.type) or "float" in str(f.type)]
    if not numeric:
        return
    field = data.draw(st.sampled_from(numeric))
    value = data.draw(st.sampled_from(["-1", "0", "-0.5", "nan", "inf", "1e400", "x", "2.5"]))
    flag = "--" + field.name.removesuffix("_dir").replace("_", "-")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = cli(args_type, [flag, value])
    except SystemExit as exit_info:
        assert exit_info.code == 2
        err = stderr.getvalue()
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(
            f"python -m benchmarks.{name}"
        )
        return
    assert getattr(args, field.name) is not None  # an accepted value is kept
