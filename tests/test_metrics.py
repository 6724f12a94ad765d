import math

import numpy as np
import pytest

from amrs_gym.metrics import (
    Episodes,
    affect_metrics,
    behaviour_metrics,
    distinct_share,
    diversity_metrics,
    gini,
    matched_diversity,
    off_policy_estimates,
    recommendation_distribution,
    skip_rate,
)
from amrs_gym.reward import default_utility

N_TRACKS = 50
UNIT = np.eye(N_TRACKS)[
    :, :N_TRACKS
]  # orthogonal tracks: cosine distance 1 between different tracks


def test_a_policy_that_always_plays_one_track_collapses() -> None:
    tracks = np.full((20, 10), 7)
    metrics = diversity_metrics(tracks, UNIT, logged_distribution=np.full(N_TRACKS, 1 / N_TRACKS))
    assert metrics["coverage"] == pytest.approx(1 / N_TRACKS)
    assert metrics["top10_share"] == 1.0
    assert metrics["repeat_rate"] == pytest.approx(0.9)  # 9 of 10 steps repeat
    assert metrics["entropy"] == 0.0 and metrics["effective_tracks"] == 1.0
    assert metrics["ild"] == 0.0
    assert metrics["gini"] == pytest.approx(1 - 1 / N_TRACKS)
    assert metrics["kl_to_logged"] == pytest.approx(np.log(N_TRACKS), rel=1e-3)


def test_a_uniform_policy_is_diverse() -> None:
    tracks = np.arange(N_TRACKS * 2).reshape(10, 10) % N_TRACKS
    metrics = diversity_metrics(tracks, UNIT, logged_distribution=np.full(N_TRACKS, 1 / N_TRACKS))
    assert metrics["coverage"] == 1.0
    assert metrics["entropy"] == pytest.approx(np.log(N_TRACKS))
    assert metrics["gini"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["repeat_rate"] == 0.0 and metrics["ild"] == pytest.approx(1.0)
    assert metrics["kl_to_logged"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["top10_share"] == pytest.approx(10 / N_TRACKS)


def test_gini_and_distribution() -> None:
    assert recommendation_distribution(np.array([[0, 0, 1]]), 3) == pytest.approx([2 / 3, 1 / 3, 0])
    assert gini(np.array([0.25, 0.25, 0.25, 0.25])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)


def _episodes(valence_path, arousal_path, n=4) -> Episodes:
    steps = len(valence_path) - 1
    return Episodes(
        tracks=np.zeros((n, steps), dtype=int),
        utility=np.tile(np.arange(steps, dtype=float), (n, 1)),
        valence=np.tile(valence_path, (n, 1)),
        arousal=np.tile(arousal_path, (n, 1)),
        engagement=np.full((n, steps), 0.5),
        like=np.full((n, steps), 0.25),
    )


def test_affect_metrics_track_movement_to_the_target() -> None:
    utility = default_utility("calm")  # target (0.4, -0.4)
    episodes = _episodes(np.array([0.0, 0.2, 0.4]), np.array([0.0, -0.2, -0.4]))
    metrics = affect_metrics(episodes, utility)
    assert metrics["valence_delta"] == pytest.approx(0.4)
    assert metrics["arousal_delta"] == pytest.approx(-0.4)
    assert metrics["final_distance"] == pytest.approx(0.0)
    assert metrics["time_in_zone"] == pytest.approx(
        0.5
    )  # step 1 at distance 0.28 > 0.25, step 2 at 0


def test_behaviour_metrics_interval() -> None:
    episodes = _episodes(np.zeros(3), np.zeros(3))
    metrics = behaviour_metrics(episodes)
    assert metrics["utility_mean"] == pytest.approx(0.5)
    assert metrics["utility_ci95"] == 0.0  # identical episodes
    assert metrics["engagement"] == 0.5 and metrics["like_rate"] == 0.25


def test_ips_recovers_the_logging_policy_value() -> None:
    rng = np.random.default_rng(0)
    propensity = rng.uniform(0.1, 0.9, 1000)
    utility = rng.normal(1.0, 0.1, 1000)
    same = off_policy_estimates(propensity, propensity, utility)
    assert same["ips_utility"] == pytest.approx(utility.mean())
    assert same["snips_utility"] == pytest.approx(utility.mean())
    double = off_policy_estimates(np.minimum(2 * propensity, 1), propensity, utility)
    assert double["snips_utility"] == pytest.approx(
        np.average(utility, weights=np.minimum(2 * propensity, 1) / propensity)
    )


def test_diversity_and_skip_rate_on_hand_made_sessions() -> None:
    assert distinct_share([[1, 2, 3], [1, 2, 4]]) == pytest.approx(4 / 6)
    assert math.isnan(distinct_share([]))
    # session 2 of the logged side is shorter: both sides keep 2 tracks of it
    policy, logged = matched_diversity([[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [7, 9]])
    assert policy == pytest.approx(5 / 5) and logged == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        matched_diversity([[1]], [])
    assert skip_rate([[True, False], [False, False]]) == pytest.approx(0.25)
