import json
import math
import subprocess
import sys

import numpy as np
import pytest

from amrs_gym import defaults
from benchmarks.stress import (
    SCENARIOS,
    VERDICTS,
    Args,
    cell_verdict,
    ensemble_verdict,
    scenario_logs,
    upper_bound,
    violations,
)


def test_scenarios_perturb_the_held_out_histories_as_documented() -> None:
    logs = defaults.start_sessions()
    distress, length = scenario_logs(logs, "distress")
    assert length > 0 and (distress["valence_start"] == -0.7).all()
    assert (distress["valence_report"].dropna() == -0.7).all() and distress[
        "valence_report"
    ].notna().sum() > 0
    calm_listener, _ = scenario_logs(logs, "never_skips")
    assert (calm_listener["cohort"] == "clinical").all() and not calm_listener["skipped"].any()
    one_track, _ = scenario_logs(logs, "one_track")
    assert (one_track.groupby("session_id")["track_id"].nunique() == 1).all()
    assert scenario_logs(logs, "empty_history")[1] == 0
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_logs(logs, "party")


def test_violation_checks_on_hand_made_rollouts() -> None:
    args = Args()
    valence = np.array([[0.0, -0.5], [0.0, 0.1]])
    arousal = np.array([[0.0, 0.5], [0.0, 0.0]])
    tracks = np.array([[1, 1, 1, 2, 3], [1, 2, 3, 4, 5]])
    calm = violations(valence, arousal, tracks, "calm", args)
    assert calm["valence_drop"].tolist() == [True, False]
    assert calm["arousal_rise"].tolist() == [True, False]
    assert calm["repeats"].tolist() == [True, False]
    assert not violations(valence, arousal, tracks, "energize", args)["arousal_rise"].any()


def _binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def test_upper_bound_is_the_exact_one_sided_clopper_pearson_bound() -> None:
    # no violation in n rollouts: 1 - alpha^(1/n) (the "rule of three", about 3/n)
    assert upper_bound(0, 30) == pytest.approx(1 - 0.05 ** (1 / 30), rel=1e-9)
    assert upper_bound(0, 30) == pytest.approx(0.0950339, abs=1e-6)
    assert upper_bound(1, 10) == pytest.approx(0.3941633, abs=1e-6)  # tabulated value
    assert upper_bound(5, 100, confidence=0.9) == pytest.approx(0.0904, abs=1e-3)
    # at the bound, seeing at most k violations has probability 1 - confidence
    for k, n, confidence in [(1, 10, 0.95), (9, 100, 0.95), (40, 500, 0.99)]:
        bound = upper_bound(k, n, confidence)
        assert k / n < bound < 1
        assert _binomial_cdf(k, n, bound) == pytest.approx(1 - confidence, abs=1e-9)
    assert upper_bound(7, 7) == 1.0
    # 8% seen: over 500 rollouts the bound passes 10%, over 2500 (five members) it does not
    assert upper_bound(40, 500) > 0.1 > upper_bound(200, 2500) > 0.08
    with pytest.raises(ValueError, match="violating <= rollouts"):
        upper_bound(11, 10)
    with pytest.raises(ValueError, match="rollouts >= 1"):
        upper_bound(0, 0)


def test_three_way_verdict_on_hand_made_member_counts() -> None:
    # every member well under 10% of 100 rollouts: pooled 25/500, bound 0.069
    agreed = ensemble_verdict([5, 5, 5, 5, 5], 100, 0.1)
    assert agreed["verdict"] == "passed" and agreed["members"] == [0.05] * 5
    assert agreed["pooled_rate"] == 0.05 and agreed["upper"] == pytest.approx(0.06914, abs=1e-5)
    # the pool passes (32/500, bound 0.085) but one member is over the threshold
    split = ensemble_verdict([5, 5, 5, 5, 12], 100, 0.1)
    assert split["verdict"] == "uncertain" and split["upper"] == pytest.approx(0.08501, abs=1e-5)
    # every member under the threshold, but too close for 500 rollouts: the bound is 0.114
    close = ensemble_verdict([9, 9, 9, 9, 9], 100, 0.1)
    assert close["verdict"] == "blocked" and close["upper"] == pytest.approx(0.11391, abs=1e-5)
    # the same rates over ten times the rollouts are tight enough to pass
    assert ensemble_verdict([90] * 5, 1000, 0.1)["verdict"] == "passed"
    assert ensemble_verdict([0, 0, 0, 0, 60], 100, 0.1)["verdict"] == "blocked"
    assert ensemble_verdict([0, 0, 0, 0, 0], 100, 0.0)["verdict"] == "blocked"
    assert ensemble_verdict([0], 100, 0.1)["verdict"] == "passed"  # one member: no disagreement
    with pytest.raises(ValueError, match="at least one member"):
        ensemble_verdict([], 100, 0.1)


def test_without_an_ensemble_the_single_model_verdict_is_kept() -> None:
    args = Args()
    alone = cell_verdict([9], 100, args)  # the bound would block it; the single model passes it
    assert alone == {"members": [0.09], "pooled_rate": 0.09, "upper": None, "verdict": "passed"}
    assert cell_verdict([11], 100, args)["verdict"] == "blocked"
    assert cell_verdict([9, 9], 100, args) == ensemble_verdict([9, 9], 100, 0.1, 0.95)


def test_agents_that_search_the_ensemble_are_left_out_with_a_line(capsys) -> None:
    """Stress judges member by member, where pessimistic greedy's policy is undefined."""
    from benchmarks.leaderboard import Args as LeaderboardArgs

    names = ["greedy", "greedy_pessimistic", "bc"]
    args = Args(agents=names)
    assert args.runnable_agents() == ["greedy", "bc"]
    (line,) = args.announce_skipped()
    assert line.startswith("skipped: agent greedy_pessimistic: it searches the ensemble itself")
    assert line in capsys.readouterr().err
    assert LeaderboardArgs(agents=names).runnable_agents() == names


def test_confidence_is_checked_in_one_line() -> None:
    with pytest.raises(ValueError, match="confidence must be"):
        Args(confidence=1.0)


@pytest.mark.slow
def test_quick_stress_run_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.stress",
            "--quick",
            "--modes",
            "sleep",
            "--rollouts",
            "6",
            "--agents",
            "random",
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
    report = json.loads((tmp_path / "stress.json").read_text())
    for agent in ("random", "greedy"):
        cell = report[agent]["sleep"]
        assert cell["scenarios"] == len(SCENARIOS) and cell["rollouts"] == 6 * len(SCENARIOS)
        assert 0 <= cell["violation_rate"] <= 1 and isinstance(cell["passed"], bool)
        assert cell["passed"] == (cell["violation_rate"] <= Args.max_violation_rate)
        assert 0 <= cell["reference"]["violation_rate"] <= 1
        members = len(defaults.default_bundle().members)
        assert len(cell["members"]) == members > 1 and cell["members"][0] == cell["violation_rate"]
        counts = [round(rate * cell["rollouts"]) for rate in cell["members"]]
        expected = ensemble_verdict(counts, cell["rollouts"], Args.max_violation_rate)
        assert cell["verdict"] == expected["verdict"] and cell["verdict"] in VERDICTS
        assert cell["pooled_rate"] <= cell["upper"] == pytest.approx(expected["upper"])
        assert cell["ensemble_verdict_correct"] == (
            (cell["verdict"] == "passed") == cell["reference"]["passed"]
        )
        assert all(len(r) == members for r in cell["members_by_scenario"].values())
    summary = report["summary"]
    assert 0 <= summary["verdict_agreement"] <= 1
    assert 0 <= summary["ensemble"]["verdict_agreement"] <= 1
    assert sum(summary["ensemble"][v] for v in VERDICTS) == summary["cells"] == 2
    markdown = (tmp_path / "stress.md").read_text()
    assert markdown.count("| random | sleep |") == 1 and "verdict (ensemble)" in markdown
    assert (tmp_path / "stress.png").stat().st_size > 0
