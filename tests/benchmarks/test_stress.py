import json
import subprocess
import sys

import numpy as np
import pytest

from amrs_gym import defaults
from benchmarks.stress import SCENARIOS, Args, scenario_logs, violations


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
    assert 0 <= report["summary"]["verdict_agreement"] <= 1
    assert (tmp_path / "stress.md").read_text().count("| random | sleep |") == 1
    assert (tmp_path / "stress.png").stat().st_size > 0
