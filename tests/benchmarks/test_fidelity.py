import json
import subprocess
import sys

import pytest

from amrs_gym.world_model.evaluation import METRICS, expected_calibration_error, gap_closed


def test_gap_closed_and_calibration_on_hand_made_cases() -> None:
    assert gap_closed(model=0.8, baseline=0.6, ceiling=1.0) == pytest.approx(0.5)
    assert gap_closed(model=0.1, baseline=0.2, ceiling=0.0) == pytest.approx(
        0.5
    )  # MAE: lower is better
    import numpy as np

    probability = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(probability, np.array([0, 0, 1, 1.0])) == pytest.approx(0.1)
    assert expected_calibration_error(np.array([0.5, 0.5]), np.array([0, 1.0])) == pytest.approx(
        0.0
    )


@pytest.mark.slow
def test_quick_fidelity_run_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fidelity", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "fidelity.json").read_text())
    for protocol in ("listener_cold", "track_cold"):
        assert set(report[protocol]) == {"world_model", "history_free", "gru", "oracle"}
        for metrics in report[protocol].values():
            assert set(metrics) == set(METRICS)
    assert {"no_history", "no_content", "no_affect"} <= set(report["ablations"])
    assert report["train_seconds"] > 0
    # the oracle knows the latent state: no observer model can beat it on skip AUC
    oracle = report["listener_cold"]["oracle"]["engagement_auc"]
    assert all(m["engagement_auc"] <= oracle + 0.02 for m in report["listener_cold"].values())
    for name in ("fidelity.md", "calibration.png", "affect.png"):
        assert (tmp_path / name).stat().st_size > 0
