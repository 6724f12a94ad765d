"""The seeds benchmark's budgets: refused below 1 in one usage line; given ones win over --quick."""

from __future__ import annotations

import pytest

from benchmarks._common import cli
from benchmarks.seeds import FULL_BUDGETS, QUICK_BUDGETS, Args


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--a2c-seeds", "0", "a2c_seeds must be an integer >= 1, got 0"),
        ("--ddpg-seeds", "0", "ddpg_seeds must be an integer >= 1, got 0"),
        ("--a2c-timesteps-2d-grid", "-5", "a2c_timesteps_2d_grid must be an integer >= 1, got -5"),
        ("--ddpg-timesteps", "0", "ddpg_timesteps must be an integer >= 1, got 0"),
        ("--eval-episodes", "0", "eval_episodes must be an integer >= 1, got 0"),
        ("--seed", "-1", "seed must be an integer >= 0, got -1"),
    ],
)
def test_an_empty_or_negative_budget_is_one_usage_line(
    option: str, value: str, message: str, capsys
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(Args, [option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith(message)


def test_explicit_budgets_win_over_quick() -> None:
    args = cli(Args, ["--quick", "--a2c-seeds", "2", "--eval-episodes", "5"])
    assert args.budget("a2c_seeds") == 2 and args.budget("eval_episodes") == 5
    assert args.budget("ddpg_seeds") == QUICK_BUDGETS["ddpg_seeds"]
    assert args.a2c_timesteps("2d_grid") == QUICK_BUDGETS["a2c_timesteps_2d_grid"]
    full = Args(ddpg_timesteps=100)
    assert full.budget("ddpg_timesteps") == 100
    assert full.budget("a2c_seeds") == FULL_BUDGETS["a2c_seeds"] == 3
    assert set(QUICK_BUDGETS) == set(FULL_BUDGETS)
