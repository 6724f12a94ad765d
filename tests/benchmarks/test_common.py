"""Tests of benchmarks/_common.py.

The command line derived from an Args dataclass, and the bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from benchmarks._common import cli, field_docs, paired_bootstrap


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
    """Weights tried."""
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
    assert field_docs(Example)["weights"] == "Weights tried."


def test_a_refused_value_is_one_usage_line_not_a_traceback(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(Example, ["--episodes", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("episodes must be >= 1, got 0") and "Traceback" not in "\n".join(err)
    with pytest.raises(SystemExit):
        cli(Example, ["--episodes", "many"])


def test_paired_bootstrap_brackets_the_mean() -> None:
    difference = np.random.default_rng(0).normal(0.1, 0.2, size=400)
    result = paired_bootstrap(difference, seed=0)
    assert result["ci95_low"] < result["mean"] < result["ci95_high"]
    assert result["mean"] == pytest.approx(difference.mean())
