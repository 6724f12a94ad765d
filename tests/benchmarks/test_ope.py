import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmarks.ope import dope_metrics, probe_summary, score


def test_dope_metrics_on_hand_made_cases() -> None:
    truth = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0])
    perfect = dope_metrics(truth + 7.0, truth)  # a constant offset ranks perfectly
    assert perfect["spearman"] == pytest.approx(1.0)
    assert perfect["regret_at_1"] == 0.0 and perfect["regret_at_5"] == 0.0
    assert perfect["normalised_abs_error"] == pytest.approx(0.7)
    reversed_ = dope_metrics(-truth, truth)
    assert reversed_["spearman"] == pytest.approx(-1.0)
    assert reversed_["regret_at_1"] == pytest.approx(1.0)  # picks the worst policy
    assert reversed_["regret_at_5"] == pytest.approx(0.6)  # best of the worst five: 4, span 10
    swapped = truth.copy()
    swapped[[5, 6]] = swapped[[6, 5]]
    assert dope_metrics(swapped, truth)["regret_at_1"] == pytest.approx(0.5)


def test_the_probe_tells_errors_that_cancel_along_an_episode_from_those_that_add_up() -> None:
    # two agents, 2 episodes of 4 steps: progress errors alternate in sign, engagement's persist
    uncertainty = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]])
    progress = np.array([[1.0, -1.0, 1.0, -1.0], [2.0, -2.0, 2.0, -2.0]])
    engagement = np.array([[0.1, 0.1, 0.1, 0.1], [0.3, 0.3, 0.3, 0.3]])
    none = np.zeros((2, 4))
    probe = (uncertainty, {"progress": progress, "engagement": engagement, "repeat": none})
    summary = probe_summary([probe, probe])
    assert summary["pairs"].shape == (16, 2)
    np.testing.assert_allclose(summary["pairs"][:4, 1], [1.1, 0.9, 1.1, 0.9])
    assert summary["terms"]["progress"] == {"pair": 1.5, "episode": 0.0}
    assert summary["terms"]["engagement"]["episode"] == pytest.approx(0.2)
    assert "repeat" not in summary["terms"]  # a term with no error is left out
    # the episode with more uncertainty has the larger error of its mean
    assert summary["episodes"]["spearman"] == pytest.approx(1.0)
    assert summary["episodes"]["pairs"] == 4


def test_score_gives_intervals_that_hold_the_point_estimate() -> None:
    rng = np.random.default_rng(0)
    values = {}
    for index, name in enumerate(["a", "b", "c", "d"]):
        values[(name, "truth")] = list(index + rng.normal(0, 0.1, 50))
        values[(name, "world_model")] = list(index + 0.5 + rng.normal(0, 0.1, 50))
    metrics = score(values, resamples=50, seed=0)
    assert set(metrics) == {"world_model"}
    spearman = metrics["world_model"]["spearman"]
    assert spearman["value"] == 1.0 and spearman["ci95"][0] <= 1.0 <= spearman["ci95"][1]
    error = metrics["world_model"]["normalised_abs_error"]
    assert error["ci95"][0] <= error["value"] <= error["ci95"][1]


@pytest.mark.slow
def test_quick_ope_writes_the_contract(tmp_path) -> None:
    options = "--quick --modes sleep --episodes 6 --resamples 20 --workers 1 --fqe-n-steps 50"
    agents = "--agents random popular bc greedy"
    paths = ["--cache", str(tmp_path / "agents"), "--out", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.ope", *options.split(), *agents.split(), *paths],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "ope.csv")
    rollout = {"world_model", "ensemble", "pessimistic"}
    logs = {"ips", "snips", "pdwis", "direct", "dr", "fqe"}
    assert set(table["estimator"]) == rollout | logs
    # the quick zoo: 4 agents, popular and bc mixed at one share, bc tempered at one temperature
    policies = set(table["policy"])
    assert len(policies) == 4 + 2 + 1 and {"bc+random0.5", "bc@T2", "greedy"} <= policies
    greedy = table[table["policy"] == "greedy"]
    assert set(greedy["estimator"]) == rollout  # one policy in every simulator; no propensities
    assert np.isfinite(table[["estimate", "truth"]].to_numpy()).all()
    report = json.loads((tmp_path / "ope.json").read_text())
    metrics = report["modes"]["sleep"]
    assert {"world_model", "fqe", "snips", "world_model_all", "pessimistic_registered"} <= set(
        metrics
    )
    assert "greedy" in metrics["world_model_all"]["policies"]
    assert "greedy" in metrics["pessimistic_all"]["policies"]
    assert "greedy" not in metrics["world_model"]["policies"]
    assert set(metrics["pessimistic_registered"]["policies"]) == {
        "random",
        "popular",
        "bc",
        "greedy",
    }
    assert len(metrics["snips"]["policies"]) == 6  # all but greedy
    assert isinstance(report["bars"]["sleep"]["best_rollout_spearman_at_least_0.9"], bool)
    assert report["logged_sessions"]["sleep"] == 64  # --quick reads 64 logged sessions
    assert set(report["phase_seconds"]["sleep"]) == {"agents", "rollouts", "probe", "replay", "fqe"}
    correlation = report["uncertainty_vs_error"]
    assert correlation["sleep"]["pairs"] == 4 * 6 * 20  # every agent; 6 episodes of 20
    assert -1 <= correlation["all"]["spearman"] <= 1
    assert correlation["sleep"]["episodes"]["pairs"] == 4 * 6
    assert {"engagement", "progress", "falling_arousal"} <= set(correlation["sleep"]["terms"])
    for name in ("ope.md", "scatter.png", "metrics.png", "uncertainty.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_unknown_tempered_agents_are_refused() -> None:
    from benchmarks.ope import Args

    with pytest.raises(ValueError, match="--tempered: unknown agent"):
        Args(tempered=["bc", "nope"])
