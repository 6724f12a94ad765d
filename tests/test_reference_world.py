"""The reference world's expected outcome agrees with what stepping it produces on average."""

from __future__ import annotations

import numpy as np
import pytest

from amrs_gym.defaults import reference_world as default_reference_world


@pytest.fixture(scope="module")
def world():
    return default_reference_world()


def _sessions(world, n: int, seed: int):
    rng = np.random.default_rng(seed)
    listener = rng.integers(0, len(world.population.taste), n)
    state = world.start(listener, rng.integers(0, 4, n), rng)
    for _ in range(3):  # some history, so repeats and sameness fatigue take part
        world.step(state, rng.integers(0, world.catalog.n_tracks, n), rng)
    return state


def test_expected_outcome_matches_the_mean_of_many_steps_and_leaves_the_state_alone(world) -> None:
    state = _sessions(world, 6, seed=0)
    before = state.take(np.arange(6))
    track = np.array([0, 5, 17, 100, 200, 300])
    expected = world.expected_outcome(state, track)
    assert np.array_equal(state.valence, before.valence) and np.array_equal(
        state.history, before.history
    )

    draws = 4000
    rows = np.repeat(np.arange(6), draws)
    copies = state.take(rows)
    outcome = world.step(copies, track[rows], np.random.default_rng(1))
    mean = {
        name: getattr(outcome, name).reshape(6, draws).mean(1)
        for name in ("engagement", "valence", "arousal", "like_probability")
    }
    assert np.allclose(mean["engagement"], expected.engagement, atol=0.015)
    assert np.allclose(outcome.skip_probability.reshape(6, draws)[:, 0], expected.skip_probability)
    # the probit approximation of E[tanh(noisy logit)] and the clipping cost a little accuracy
    assert np.allclose(mean["valence"], expected.valence, atol=0.012)
    assert np.allclose(mean["arousal"], expected.arousal, atol=0.004)
    assert np.allclose(mean["like_probability"], expected.like_probability, atol=0.02)


def test_take_copies_rows_independently(world) -> None:
    state = _sessions(world, 3, seed=2)
    copy = state.take(np.array([1, 1]))
    copy.valence[0] = 0.123
    copy.history[0, 0] = -5
    assert state.valence[1] != 0.123 and state.history[1, 0] != -5
    assert copy.batch_size == 2 and copy.listener[1] == state.listener[1]


def test_expected_outcome_names_bad_tracks(world) -> None:
    state = _sessions(world, 2, seed=3)
    with pytest.raises(ValueError, match="track ids must lie in"):
        world.expected_outcome(state, np.array([0, world.catalog.n_tracks]))
    with pytest.raises(ValueError, match="one track per session"):
        world.expected_outcome(state, np.array([0]))
