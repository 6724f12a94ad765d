"""Tests of benchmarks/seeds/thesis.py: every target, the ceiling and the rule-based returns."""

from __future__ import annotations

import numpy as np
import pytest

from amrs_gym.envs.feature_target import FeatureTargetEnv
from benchmarks.seeds.thesis import (
    all_targets,
    ceiling_returns,
    evaluate_all_targets,
    rule_based_returns,
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
