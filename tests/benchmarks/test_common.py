"""Tests of benchmarks/_common.py.

The command line derived from an Args dataclass, and the bootstrap.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from benchmarks._common import (
    MISSING_CELL,
    check_fields,
    cli,
    field_docs,
    markdown_table,
    paired_bootstrap,
    run,
    write_outputs,
)
from benchmarks.zoo import map_modes


@dataclass(frozen=True)
class Inner:
    """Nested settings."""

    width: int = 8
    """Hidden width."""


@dataclass
class Example:
    """Settings of an example run."""

    out_dir: str = "results/example"
    """Where outputs go."""
    quick: bool = False
    """Quick run."""
    episodes: int | None = None
    """Episodes (default: depends on quick)."""
    weights: list[float] = field(default_factory=lambda: [0.5, 1.0])
    """Weights tried (keeping 90% of the base)."""
    inner: Inner = field(default_factory=Inner)
    """The nested part."""

    def __post_init__(self) -> None:
        if self.episodes is not None and self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")


def test_every_field_becomes_an_option_with_its_type_and_default() -> None:
    assert cli(Example, []) == Example()
    args = cli(
        Example,
        ["--out", "x", "--quick", "--episodes", "3", "--weights", "1", "2", "--inner-width", "4"],
    )
    assert args == Example(
        out_dir="x", quick=True, episodes=3, weights=[1.0, 2.0], inner=Inner(width=4)
    )


def test_help_shows_the_docstrings_defaults_and_module_usage(capsys) -> None:
    with pytest.raises(SystemExit):
        cli(Example, ["--help"])
    text = capsys.readouterr().out
    assert "python -m tests.benchmarks.test_common" in text
    assert "Where outputs go. (default: results/example)" in text
    assert "Hidden width. (default: 8)" in text
    assert "Weights tried (keeping 90% of the base). (default: 0.5 1.0)" in " ".join(text.split())
    assert field_docs(Example)["weights"] == "Weights tried (keeping 90% of the base)."


def test_a_refused_value_is_one_usage_line_not_a_traceback(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(Example, ["--episodes", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("episodes must be >= 1, got 0") and "Traceback" not in "\n".join(err)
    with pytest.raises(SystemExit):
        cli(Example, ["--episodes", "many"])


@dataclass
class Listed:
    modes: list[str] = field(default_factory=lambda: ["calm"])

    def __post_init__(self) -> None:
        check_fields(self)


def test_a_list_option_that_names_a_value_twice_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"modes names 'calm' twice: \['calm', 'sleep', 'calm'\]"):
        Listed(["calm", "sleep", "calm"])
    with pytest.raises(ValueError, match="modes must name at least one value"):
        Listed([])
    assert Listed(["calm", "sleep"]).modes == ["calm", "sleep"]


def test_paired_bootstrap_brackets_the_mean() -> None:
    difference = np.random.default_rng(0).normal(0.1, 0.2, size=400)
    result = paired_bootstrap(difference, seed=0)
    assert result["ci95_low"] < result["mean"] < result["ci95_high"]
    assert result["mean"] == pytest.approx(difference.mean())


def _refuses(args: Example) -> None:
    raise ValueError(f"--out {args.out_dir}: exists and is not a directory")


def _breaks(args: Example) -> None:
    raise TypeError("a bug")


def _refuses_in_a_worker(args: Example, mode: str) -> None:
    raise ValueError(f"no starting sessions for mode={mode!r}")


def test_run_turns_a_value_error_into_one_error_line_and_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(_refuses, Example, ["--out", "taken"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: --out taken: exists and is not a directory\n"


def _needs_too_much(args: Example) -> None:
    raise MemoryError("Unable to allocate 89.4 GiB")


def test_run_reports_running_out_of_memory_in_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(_needs_too_much, Example, [])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: out of memory (Unable to allocate 89.4 GiB): ask for less\n"


def test_run_keeps_the_traceback_of_a_bug() -> None:
    with pytest.raises(TypeError, match="a bug"):
        run(_breaks, Example, [])


def test_run_reports_a_value_error_of_a_mode_worker_in_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(lambda args: map_modes(_refuses_in_a_worker, args, ["calm"], 1), Example, [])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "error: no starting sessions for mode='calm'"
    assert "Traceback" not in err


def _sleeps_unless_refused(args: Example, mode: str) -> str:
    if mode == "refused":
        raise ValueError("refused at once")
    time.sleep(60)
    return mode


def test_a_failing_mode_stops_the_others_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match="refused at once"):
        map_modes(_sleeps_unless_refused, Example(), ["slow", "refused"], 2)
    assert time.perf_counter() - started < 30  # not the slow mode's 60 s


def test_a_missing_number_is_a_dash_in_a_table_not_nan() -> None:
    table = markdown_table(["agent", "SNIPS"], [["logged", float("nan")], ["bc", 0.5]])
    assert "nan" not in table
    assert f"| logged | {MISSING_CELL} |" in table and "| bc | 0.500 |" in table


def test_outputs_write_a_number_that_is_not_finite_as_null(tmp_path) -> None:
    data = {"spearman": float("nan"), "rows": [1.0, np.float32(np.inf)], "n": 3}
    write_outputs(tmp_path, "x", data, "table")
    saved = json.loads((tmp_path / "x.json").read_text(), parse_constant=pytest.fail)
    assert saved == {"spearman": None, "rows": [1.0, None], "n": 3}
