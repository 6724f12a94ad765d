"""The seeds benchmark end to end (`python -m benchmarks.seeds --quick`)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_seeds_run_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.seeds", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "seeds.json").read_text())
    assert report["quick"] is True
    thesis = report["thesis"]
    for name in ("2d_grid", "2d_board", "3d_grid", "4d_grid", "rule_based_2d"):
        assert {"avg_reward", "std"} <= set(thesis[name])
        assert math.isfinite(thesis[name]["avg_reward"]) and math.isfinite(thesis[name]["std"])
        assert 0 <= thesis[name]["avg_reward"] <= 210 and thesis[name]["std"] >= 0
    assert thesis["published"]["2d_grid"] == {"avg_reward": 188.0, "std": 8.0}
    assert thesis["budgets"]["a2c_timesteps"]["2d_grid"] > 0
    poster = report["poster"]
    for key in ("ddpg_score", "nonskip_baseline", "random_score"):
        assert math.isfinite(poster[key]) and 0 <= poster[key] <= 15
    assert poster["published"]["ddpg_score"] == 5.0
    musicbox = report["musicbox"]
    for key in ("ddpg_diversity", "logged_diversity", "ddpg_skip_rate", "logged_skip_rate"):
        assert math.isfinite(musicbox[key]) and 0 <= musicbox[key] <= 1
    # the skip rate is the poster score seen from the other side
    assert musicbox["ddpg_skip_rate"] == pytest.approx(1 - poster["ddpg_score"] / 15)
    assert set(report["bar"]) == {
        "thesis_2d_grid_a2c_at_least_150",
        "poster_ddpg_above_nonskip_baseline",
        "poster_ddpg_above_random",
    }
    assert "git_commit" in report and "versions" in report
    for name in ("seeds.md", "seeds.png"):
        assert (tmp_path / name).stat().st_size > 0
