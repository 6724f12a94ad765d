"""agents.base: acting with the played tracks as SB3's recurrent state."""

from __future__ import annotations

import numpy as np
import pytest

import agents
from agents.base import played_tracks, remember
from amrs_gym.simulator import LoggedSteps


def test_remember_writes_after_each_rows_last_track() -> None:
    played = np.array([[5, -1], [-1, -1]])
    assert remember(played.copy(), np.array([7, 8])).tolist() == [[5, 7], [8, -1]]
    assert remember(np.array([[1, 2]]), np.array([3])).tolist() == [[1, 2, 3]]


def test_played_tracks_clears_rows_at_episode_start_and_checks_the_state() -> None:
    state = np.array([[1, 2], [3, -1]])
    assert played_tracks(state, np.array([True, False]), 2).tolist() == [[-1, -1], [3, -1]]
    assert played_tracks(None, None, 3).shape == (3, 0)
    with pytest.raises(ValueError, match="state must be"):
        played_tracks(state, None, 3)


@pytest.mark.parametrize(
    ("state", "start", "match"),
    [
        ([[5000]], None, r"state must hold track ids in -1\.\.1199"),
        ([[np.nan]], None, "state must hold track ids"),
        ([[1.5]], None, "state must hold track ids"),
        ([[-2]], None, "state must hold track ids"),
        ([["a"]], None, "state must be the"),
        ([[1]], [True, False], "episode_start must hold 1 flags"),
    ],
)
def test_a_bad_state_is_named_in_one_line(state, start, match) -> None:
    with pytest.raises(ValueError, match=match):
        played_tracks(state, None if start is None else np.array(start), 1, n_tracks=1200)


def test_predict_refuses_an_empty_batch(calm_data) -> None:
    agent = agents.make("random", mode="calm").fit(calm_data)
    with pytest.raises(ValueError, match="with n >= 1"):
        agent.predict(np.zeros((0, calm_data.obs_dim), np.float32))


def test_played_before_rebuilds_each_logged_steps_past_tracks() -> None:
    steps = LoggedSteps(
        observations=np.zeros((5, 2), np.float32),
        next_observations=np.zeros((5, 2), np.float32),
        actions=np.array([4, 5, 6, 7, 8]),
        propensities=np.ones(5),
        rewards=np.zeros(5),
        timeouts=np.zeros(5, bool),
        session_id=np.array([0, 0, 0, 1, 1]),
        step=np.array([0, 1, 2, 0, 1]),
    )
    assert steps.played_before(3).tolist() == [
        [-1, -1, -1],
        [4, -1, -1],
        [4, 5, -1],
        [-1, -1, -1],
        [7, -1, -1],
    ]


def test_policy_agents_carry_their_played_tracks_as_state(calm_data) -> None:
    bc = agents.make("bc", mode="calm").fit(calm_data)
    sessions = calm_data.sessions(3)
    rngs = [np.random.default_rng(i) for i in range(3)]
    sessions.reset(np.arange(3), rngs, cold=False)
    state, start = None, np.ones(3, bool)
    for _ in range(4):
        expected = bc.action_probabilities(sessions.observations(), sessions.played)
        if state is not None:
            assert np.allclose(expected, bc.action_probabilities(sessions.observations(), state))
        actions, state = bc.predict(sessions.observations(), state, start)
        sessions.step(actions, rngs)
        start[:] = False
        assert (state == sessions.played[:, : state.shape[1]]).all()
    _, fresh = bc.predict(sessions.observations(), state, np.array([True, False, False]))
    assert (fresh[0, 1:] == -1).all() and (fresh[1, :5] >= 0).all()
    with pytest.raises(ValueError, match="state must be"):
        bc.predict(sessions.observations(), np.zeros((2, 1), np.int64))
