import dataclasses

import numpy as np
import pytest

from amrs_gym.modes import MODES
from amrs_gym.reward import Utility, UtilityInputs, default_utility


def _step(
    valence_after: float,
    arousal_after: float,
    valence_before: float = 0.0,
    arousal_before: float = 0.0,
    engagement: float = 0.5,
    like: float = 0.5,
    repeats: int = 0,
) -> UtilityInputs:
    def a(x: float) -> np.ndarray:
        return np.array([x], dtype=float)

    return UtilityInputs(
        a(engagement),
        a(like),
        a(valence_before),
        a(arousal_before),
        a(valence_after),
        a(arousal_after),
        a(repeats),
    )


@pytest.mark.parametrize("mode", MODES)
def test_moving_towards_the_target_scores_higher(mode: str) -> None:
    utility = default_utility(mode)
    target = np.array([utility.target_valence, utility.target_arousal])
    start = np.array([0.0, 0.0]) if np.linalg.norm(target) > 0.3 else np.array([-0.6, 0.6])
    toward = start + 0.2 * (target - start)
    away = start - 0.2 * (target - start)
    u_toward = utility(_step(*toward, *start))[0]
    u_away = utility(_step(*away, *start))[0]
    u_stay = utility(_step(*start, *start))[0]
    assert u_toward > u_stay > u_away


@pytest.mark.parametrize("mode", MODES)
def test_engagement_and_likes_raise_and_repeats_lower_the_utility(mode: str) -> None:
    utility = default_utility(mode)
    base = utility(_step(0.1, 0.1))[0]
    assert utility(_step(0.1, 0.1, engagement=0.9))[0] > base
    assert utility(_step(0.1, 0.1, like=0.9))[0] > base
    assert utility(_step(0.1, 0.1, repeats=2))[0] < base


def test_mode_specific_terms() -> None:
    sleep, calm = default_utility("sleep"), default_utility("calm")
    falling = _step(0.1, -0.6, 0.1, -0.5)
    assert sleep.components(falling)["falling_arousal"][0] > 0
    assert calm.components(falling)["falling_arousal"][0] == 0
    focus = default_utility("focus")
    assert (
        focus(_step(0.2, 0.2, 0.2, 0.2))[0] > focus(_step(0.5, 0.5, -0.1, -0.1))[0] - 10
    )  # defined
    jumpy = focus.components(_step(0.6, -0.2, 0.2, 0.2))["steadiness"][0]
    assert jumpy < 0


def test_components_sum_to_the_utility_and_config_round_trips() -> None:
    utility = dataclasses.replace(default_utility("energize"), like_weight=2.0)
    step = _step(0.3, 0.4, 0.1, 0.0, engagement=0.7, like=0.2, repeats=1)
    assert sum(v[0] for v in utility.components(step).values()) == pytest.approx(utility(step)[0])
    assert Utility(**dataclasses.asdict(utility)) == utility


def test_bad_utility_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        default_utility("party")
    with pytest.raises(
        ValueError, match=r"target_valence must be a finite number in \[-1, 1\], got 2.0"
    ):
        Utility(mode="calm", target_valence=2.0, target_arousal=0.0)
    for weight in (float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="progress_weight must be a finite number"):
            Utility(mode="calm", target_valence=0.0, target_arousal=0.0, progress_weight=weight)
