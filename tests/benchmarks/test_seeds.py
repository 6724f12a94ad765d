import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from amrs_gym.envs.feature_target import FeatureTargetEnv
from benchmarks.seeds import (
    ScaledObservation,
    all_targets,
    ceiling_returns,
    distinct_share,
    evaluate_all_targets,
    logged_continuations,
    matched_diversity,
    rule_based_returns,
    skip_rate,
    start_session,
)


def test_all_targets_enumerates_every_cell_once() -> None:
    assert all_targets(1, 3) == [(0,), (1,), (2,)]
    cells = all_targets(2)
    assert len(cells) == 25 and len(set(cells)) == 25 and cells[:2] == [(0, 0), (0, 1)]
    assert len(all_targets(4)) == 625


def test_ceiling_on_the_2d_grid() -> None:
    env = FeatureTargetEnv(dims=2, levels=5, percentiles="wider")  # rating 4 within distance 1
    ceiling = ceiling_returns(env)
    by_target = dict(zip(all_targets(2), ceiling, strict=True))
    assert by_target[(2, 2)] == 210 and by_target[(2, 3)] == 210  # start already rates 4
    assert by_target[(2, 4)] == 210  # distance 2: the first move already lands on rating 4
    assert by_target[(0, 0)] == 10 * (21 - 2)  # distance 4: 3 moves, the first 2 unpaid
    assert ceiling.mean() == pytest.approx(203.6)


def test_rule_based_never_beats_the_ceiling() -> None:
    returns = rule_based_returns(2, seed=0)
    ceiling = ceiling_returns(FeatureTargetEnv(dims=2, levels=5, percentiles="wider"))
    assert returns.shape == (25,) and np.all(returns <= ceiling) and np.all(returns > 0)


def test_evaluate_all_targets_with_a_stay_policy() -> None:
    def make() -> FeatureTargetEnv:
        return FeatureTargetEnv(dims=2, levels=5)

    returns = evaluate_all_targets(make, lambda obs: np.full(len(obs), 4), dims=2, seed=0)
    # staying at the centre pays 210 exactly on the 5 targets within distance 1, 0 elsewhere
    assert sorted(returns.tolist()) == [0.0] * 20 + [210.0] * 5


def test_scaled_observation_maps_bounds_to_unit_box() -> None:
    env = ScaledObservation(FeatureTargetEnv(dims=2, levels=5))
    obs, _ = env.reset(seed=0, options={"target": (4, 4)})
    assert obs.tolist() == [0.0, 0.0, 0.0, -1.0]  # centre, closer 0, rating 0
    assert env.observation_space.contains(obs)


def test_diversity_and_skip_rate_on_hand_made_sessions() -> None:
    assert distinct_share([[1, 2, 3], [1, 2, 4]]) == pytest.approx(4 / 6)
    assert math.isnan(distinct_share([]))
    # session 2 of the logged side is shorter: both sides keep 2 tracks of it
    policy, logged = matched_diversity([[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [7, 9]])
    assert policy == pytest.approx(5 / 5) and logged == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        matched_diversity([[1]], [])
    assert skip_rate([[True, False], [False, False]]) == pytest.approx(0.25)


def test_logged_continuations_skip_the_starting_history() -> None:
    logs = pd.DataFrame({
        "session_id": [5, 5, 5, 5, 9, 9, 9],
        "position": [3, 0, 1, 2, 0, 1, 2],
        "track_id": [13, 10, 11, 12, 20, 21, 22],
        "skipped": [True, False, False, False, False, True, False],
    })  # fmt: skip
    tracks, skipped = logged_continuations(logs, [9, 5, 9], skip_first=2, length=1)
    assert [t.tolist() for t in tracks] == [[22], [12], [22]]
    assert [s.tolist() for s in skipped] == [[False], [False], [False]]


def test_start_session_replicates_the_env_draw() -> None:
    import gymnasium as gym

    rng, _ = gym.utils.seeding.np_random(3)
    assert start_session(3, 100) == int(rng.integers(100))


@pytest.mark.slow
def test_quick_seeds_run_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.seeds", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
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
        "thesis_2d_grid_a2c_at_least_150", "poster_ddpg_above_nonskip_baseline", "poster_ddpg_above_random",
    }
    assert "git_commit" in report and "versions" in report
    for name in ("seeds.md", "seeds.png"):
        assert (tmp_path / name).stat().st_size > 0
