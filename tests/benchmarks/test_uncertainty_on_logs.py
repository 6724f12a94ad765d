"""The held-out-logs check of the ensemble's uncertainty (`benchmarks.uncertainty_on_logs`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.uncertainty_on_logs import Args, main, spread_and_error


def test_spread_that_grows_with_the_error_ranks_perfectly_and_gaps_are_skipped() -> None:
    # three members; row i: predictions centred on 0.5 with spread i, observed 0.5 + 2 i
    spread = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    members = 0.5 + np.stack([-spread, np.zeros(5), spread])
    observed = 0.5 + 2 * spread
    observed_with_gap = np.append(observed, np.nan)
    members_with_gap = np.concatenate([members, np.full((3, 1), 9.0)], axis=1)
    result = spread_and_error(members_with_gap, observed_with_gap, None, quantiles=2)
    assert result["rows"] == 5
    assert result["spearman"] == pytest.approx(1.0)
    assert result["mean_error"] == pytest.approx(np.mean(2 * spread))
    assert result["mean_bias"] == pytest.approx(-np.mean(2 * spread))  # the mixture predicts 0.5
    assert result["mean_spread"] == pytest.approx(np.mean(spread * np.sqrt(2 / 3)))
    assert "by_propensity" not in result


def test_propensity_bins_run_from_the_least_likely_track() -> None:
    members = np.stack([np.zeros(6), np.zeros(6)])
    observed = np.array([0.6, 0.5, 0.4, 0.3, 0.2, 0.1])  # the error falls as propensity rises
    propensity = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    result = spread_and_error(members, observed, propensity, quantiles=3)
    assert np.isnan(result["spearman"])  # members that always agree: no correlation to report
    bins = result["by_propensity"]
    assert [b["mean_error"] for b in bins] == pytest.approx([0.55, 0.35, 0.15])
    assert [b["mean_bias"] for b in bins] == pytest.approx([-0.55, -0.35, -0.15])
    assert result["mean_bias"] == pytest.approx(-0.35)
    assert [b["median_propensity"] for b in bins] == pytest.approx([0.015, 0.035, 0.055])


def test_the_shipped_ensemble_on_a_few_validation_sessions(tmp_path) -> None:
    report = main(Args(out_dir=str(tmp_path), sessions=60, quantiles=2))
    assert report["members"] == 5 and report["listeners"] == "validation"
    for outputs in report["modes"].values():
        engagement = outputs["engagement"]
        assert engagement["rows"] > 0 and -1 <= engagement["spearman"] <= 1
        assert 0 < engagement["mean_spread"] < engagement["mean_error"] < 1
        assert len(engagement["by_propensity"]) == 2
    saved = json.loads((tmp_path / "uncertainty_on_logs.json").read_text())
    assert saved["modes"].keys() == report["modes"].keys()
    for name in ("uncertainty_on_logs.md", "uncertainty_on_logs.png"):
        assert (tmp_path / name).stat().st_size > 0
