"""agents.base: the policy network's memory of played tracks, carried as the agent's recurrent state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.base import TrackPolicy, _append_played
from agents.replay import LoggedSteps


def _policy(memory: bool = True) -> TrackPolicy:
    torch.manual_seed(0)
    content = np.eye(4, dtype=np.float32)
    return TrackPolicy(obs_dim=3, track_content=content, hidden=8, memory=content[:, :2] if memory else None)


def test_remembered_tracks_are_the_mean_and_the_last_embedding() -> None:
    policy = _policy()
    played = torch.tensor([[0, 1, -1], [-1, -1, -1], [3, 0, 0]])
    remembered = policy._remembered(played).numpy()
    assert np.allclose(remembered[0], [0.5, 0.5, 0.0, 1.0])  # mean of tracks 0 and 1, last = track 1
    assert np.allclose(remembered[1], 0.0)  # nothing played yet
    assert np.allclose(remembered[2], [2 / 3, 0.0, 1.0, 0.0])
    assert np.allclose(policy._remembered(torch.zeros((2, 0), dtype=torch.long)).numpy(), 0.0)


def test_a_policy_with_memory_needs_the_played_tracks_and_uses_them() -> None:
    policy, obs = _policy(), torch.zeros((1, 3))
    with pytest.raises(ValueError, match="pass `played`"):
        policy(obs)
    assert not torch.allclose(policy(obs, torch.tensor([[0]])), policy(obs, torch.tensor([[1]])))
    assert policy.obs_dim == 3 and policy.memory_dim == 2
    assert _policy(memory=False)(obs).shape == (1, 4)


def test_append_played_writes_after_each_rows_last_track() -> None:
    played = np.array([[5, -1], [-1, -1]])
    assert _append_played(played.copy(), np.array([7, 8])).tolist() == [[5, 7], [8, -1]]
    assert _append_played(np.array([[1, 2]]), np.array([3])).tolist() == [[1, 2, 3]]


def test_played_before_rebuilds_each_logged_steps_past_tracks() -> None:
    steps = LoggedSteps(
        observations=np.zeros((5, 2), np.float32), actions=np.array([4, 5, 6, 7, 8]), propensities=np.ones(5),
        rewards=np.zeros(5), timeouts=np.zeros(5, bool), session_id=np.array([0, 0, 0, 1, 1]),
        step=np.array([0, 1, 2, 0, 1]),
    )  # fmt: skip
    assert steps.played_before(3).tolist() == [[-1, -1, -1], [4, -1, -1], [4, 5, -1], [-1, -1, -1], [7, -1, -1]]


def test_policy_agents_carry_their_played_tracks_as_state(calm_data) -> None:
    bc = agents.make("bc", mode="calm").fit(calm_data)
    sessions = calm_data.sessions(3)
    rngs = [np.random.default_rng(i) for i in range(3)]
    sessions.reset(np.arange(3), rngs, cold=False)
    state, start = None, np.ones(3, bool)
    for _ in range(4):
        expected = bc.action_probabilities(sessions.observations(), sessions)  # reads sessions.played
        if state is not None:
            assert np.allclose(expected, bc.action_probabilities(sessions.observations(), played=state))
        actions, state = bc.predict(sessions.observations(), state, start)
        sessions.step(actions, rngs)
        start[:] = False
        assert (state == sessions.played[:, : state.shape[1]]).all()
    _, fresh = bc.predict(sessions.observations(), state, np.array([True, False, False]))
    assert (fresh[0, 1:] == -1).all() and (fresh[1, :5] >= 0).all()
    with pytest.raises(ValueError, match="state must be"):
        bc.predict(sessions.observations(), np.zeros((2, 1), np.int64))
