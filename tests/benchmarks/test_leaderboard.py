import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmarks.leaderboard import COLUMNS, paired_difference, summarise


def _row(
    agent: str,
    evaluator: str,
    utility: float,
    ci: float = 0.01,
    coverage: float = 0.5,
    ild: float = 0.7,
    distance: float = 0.3,
) -> dict:
    return {
        "agent": agent,
        "mode": "calm",
        "evaluator": evaluator,
        "utility_mean": utility,
        "utility_ci95": ci,
        "coverage": coverage,
        "ild": ild,
        "final_distance": distance,
    }


def test_summary_ranks_exploitation_and_bars_on_a_hand_made_table() -> None:
    table = pd.DataFrame(
        [
            _row("bc", "world_model", 1.0),
            _row("bc", "reference", 0.9),
            _row("dpo", "world_model", 1.2),
            _row("dpo", "reference", 1.0, coverage=0.45, ild=0.6, distance=0.2),
            _row("greedy", "world_model", 1.5),
            _row("greedy", "reference", 0.8, coverage=0.1),
        ]
    )
    summary = summarise(table)["calm"]
    # world model ranks greedy > dpo > bc, the truth dpo > bc > greedy
    assert summary["spearman_world_model_vs_reference"] == pytest.approx(-0.5)
    assert summary["exploitation_gap"]["greedy"] == pytest.approx(0.7)
    bars = summary["bars"]
    assert bars["dpo_utility_above_bc_non_overlapping_ci"] and bars["dpo_closer_to_target_than_bc"]
    assert bars["dpo_coverage_at_least_80pct_of_bc"]
    assert not bars["dpo_ild_at_least_90pct_of_bc"]  # 0.6 < 0.9 * 0.7
    assert bars["greedy_coverage_at_most_30pct_of_bc"]


@pytest.mark.slow
def test_quick_leaderboard_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.leaderboard",
            "--quick",
            "--modes",
            "calm",
            "--episodes",
            "12",
            "--agents",
            "random",
            "logged",
            "bc",
            "dpo",
            "greedy",
            "--workers",
            "1",
            "--cache",
            str(tmp_path / "agents"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(tmp_path / "leaderboard.csv")
    assert len(table) == 5 * 2
    assert set(COLUMNS) <= set(table.columns)
    assert set(table["evaluator"]) == {"world_model", "reference"}
    assert np.isfinite(
        table[["utility_mean", "coverage", "ild", "gini", "kl_to_logged"]].to_numpy()
    ).all()
    # IPS is defined for observation-only stochastic policies, not for the session-aware ones
    ips = table.set_index("agent")["ips_utility"]
    assert np.isfinite(ips["bc"]).all() and np.isnan(ips["greedy"]).all()
    report = json.loads((tmp_path / "leaderboard.json").read_text())
    calm = report["modes"]["calm"]
    assert -1 <= calm["spearman_world_model_vs_reference"] <= 1
    assert set(calm["exploitation_gap"]) == {"random", "logged", "bc", "dpo", "greedy"}
    for name in ("leaderboard.md", "utility_vs_diversity.png", "trajectories.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert list((tmp_path / "agents").glob("dpo-calm-quick-*.npz"))
    assert set(calm["dpo_minus_bc_paired"]) == {"world_model", "reference"}


def test_unknown_agents_are_refused_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.leaderboard", "--agents", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "unknown agent(s) nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_paired_difference_removes_what_both_agents_share() -> None:
    shared = np.random.default_rng(0).normal(0, 1, 400)  # per-episode luck common to both agents
    paired = paired_difference(list(shared + 0.1), list(shared))
    assert paired["mean"] == pytest.approx(0.1) and paired["ci95"] == pytest.approx(0.0, abs=1e-12)
