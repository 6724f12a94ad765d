"""The popularity-bias check: bins of the tracks' training plays, on a hand-made case and run."""

import json

import numpy as np
import pytest

from benchmarks.popularity_bias import Args, bias_by_plays, main


def test_bias_is_averaged_within_each_bin_of_plays() -> None:
    rows = {
        "plays": np.array([5, 5, 30, 300]),
        "engagement": np.array([0.9, 0.7, 0.5, 0.2]),
        "like": np.array([0.8, 0.8, 0.5, 0.5]),
        "e": np.array([0.5, 0.5, 0.5, 0.6]),
        "r": np.array([0.0, np.nan, 1.0, np.nan]),
    }
    bins = bias_by_plays(rows, [20, 100])
    assert [b["plays"] for b in bins] == ["0-19", "20-99", "100+"]
    assert [b["rows"] for b in bins] == [2, 1, 1] and [b["rated"] for b in bins] == [1, 1, 0]
    assert bins[0]["engagement_bias"] == pytest.approx(0.3)
    assert bins[0]["like_bias"] == pytest.approx(0.8)
    assert bins[1]["like_bias"] == pytest.approx(-0.5)
    assert bins[2]["engagement_bias"] == pytest.approx(-0.4) and np.isnan(bins[2]["like_bias"])


@pytest.mark.slow
def test_the_shipped_bundle_is_checked_on_its_validation_logs(tmp_path) -> None:
    report = main(Args(out_dir=str(tmp_path), edges=[50, 200]))
    assert sum(b["rows"] for b in report["bins"]) > 10_000
    saved = json.loads((tmp_path / "popularity_bias.json").read_text())
    assert [b["plays"] for b in saved["bins"]] == ["0-49", "50-199", "200+"]
    assert "nan" not in (tmp_path / "popularity_bias.md").read_text()
    with pytest.raises(ValueError, match="--edges must be increasing"):
        Args(edges=[50, 20])
