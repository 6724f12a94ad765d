import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmarks._common import MISSING_CELL
from benchmarks.leaderboard import COLUMNS, _markdown, paired_difference, summarise


def _row(
    agent: str,
    evaluator: str,
    utility: float,
    ci: float = 0.01,
    coverage: float = 0.5,
    ild: float = 0.7,
    top10: float = 0.1,
) -> dict:
    return {
        "agent": agent,
        "mode": "calm",
        "evaluator": evaluator,
        "utility_mean": utility,
        "utility_ci95": ci,
        "coverage": coverage,
        "ild": ild,
        "top10_share": top10,
    }


def test_summary_ranks_exploitation_and_bars_on_a_hand_made_table() -> None:
    table = pd.DataFrame(
        [
            _row("logged", "world_model", 1.0),
            _row("logged", "reference", 1.0, coverage=0.9),
            _row("bc", "world_model", 1.0),
            _row("bc", "reference", 0.96),
            _row("dpo", "world_model", 1.2),
            _row("dpo", "reference", 1.1, coverage=0.46, ild=0.6),
            _row("dpo_sharp", "world_model", 1.3),
            _row("dpo_sharp", "reference", 1.15, coverage=0.2),
            _row("greedy", "world_model", 1.5),
            _row("greedy", "reference", 0.8, coverage=0.1, ild=0.5, top10=0.25),
            _row("cql", "world_model", 1.1),
            _row("cql", "reference", 1.2, coverage=0.3),
        ]
    )
    paired = {"calm": {"dpo_minus_logged": {"reference": {"mean": 0.1, "ci95": 0.2}}}}
    summary = summarise(table, paired)["calm"]
    # world model ranks greedy > dpo_sharp > dpo > cql > logged = bc; the truth differs
    assert -1 <= summary["spearman_world_model_vs_reference"] < 0.5
    assert summary["exploitation_gap"]["greedy"] == pytest.approx(0.7)
    bars = summary["bars"]
    assert bars["bc_at_least_95pct_of_production"]  # 0.96 >= 0.95
    assert not bars["dpo_above_production_paired"]  # the interval 0.1 ± 0.2 holds 0
    assert bars["dpo_coverage_at_least_90pct_of_bc"]  # 0.46 >= 0.45
    assert not bars["dpo_ild_at_least_90pct_of_bc"]  # 0.6 < 0.63
    assert not bars["dpo_truth_gain_at_least_80pct_of_world_model_gain"]  # 0.14 < 0.8 * 0.2
    assert bars["greedy_top10_share_at_least_2x_bc"] and bars["greedy_ild_at_most_75pct_of_bc"]
    # cql beats dpo_sharp on both axes but not dpo (more coverage): no agent dominates the family
    frontier = summary["frontier"]
    assert frontier["cql"] == {"matched": False, "dominates": False}
    assert frontier["greedy"]["matched"] and frontier["logged"] == {
        "matched": False,
        "dominates": False,
    }
    assert bars["no_agent_dominates_every_dpo_setting"]
    assert "a_dpo_setting_beats_steer" not in bars  # no steer in this table
    table.loc[(table.agent == "cql") & (table.evaluator == "reference"), "coverage"] = 0.5
    assert summarise(table)["calm"]["frontier"]["cql"]["dominates"]
    # the best DPO setting (dpo_sharp, 1.15) against the heuristic, on the truth's utility
    for steer, beaten in ((1.14, True), (1.16, False)):
        rows = [_row("steer", "world_model", 1.0), _row("steer", "reference", steer)]
        with_steer = pd.concat([table, pd.DataFrame(rows)], ignore_index=True)
        assert summarise(with_steer)["calm"]["bars"]["a_dpo_setting_beats_steer"] is beaten


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
            "dpo_sharp",
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
    assert len(table) == 6 * 2
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
    assert set(calm["exploitation_gap"]) == {"random", "logged", "bc", "dpo", "dpo_sharp", "greedy"}
    assert set(calm["frontier"]) == {"random", "logged", "bc", "greedy"}
    for name in ("leaderboard.md", "utility_vs_diversity.png", "frontier.png", "trajectories.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert list((tmp_path / "agents").glob("dpo-calm-quick-*.npz"))
    assert set(calm["paired"]["dpo_minus_bc"]) == {"world_model", "reference"}
    assert "dpo_above_production_paired" in calm["bars"]


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


def test_markdown_shows_a_missing_snips_as_a_dash_not_nan() -> None:
    extra = {"final_distance": 0.3, "kl_to_logged": 0.1}
    table = pd.DataFrame(
        [
            {**_row(agent, evaluator, utility), **extra, "snips_utility": snips}
            for agent, utility, snips in (
                ("logged", 1.0, float("nan")),
                ("bc", 0.9, 0.95),
                ("greedy", 0.8, float("nan")),
            )
            for evaluator in ("world_model", "reference")
        ]
    )
    report = {"episodes": 2, "skipped": [], "modes": summarise(table), "command": "python -m x"}
    markdown = _markdown(table, report)
    assert not re.search(r"\bnan\b", markdown)
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown.splitlines()}
    assert rows["logged"].endswith(f"| {MISSING_CELL} |") and rows["bc"].endswith("| 0.950 |")
    assert f"SNIPS {MISSING_CELL}: no off-policy estimate" in markdown
