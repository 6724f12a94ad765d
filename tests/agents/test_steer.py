"""agents/steer.py: the hand-made heuristic aims between the affect estimate and the target."""

from __future__ import annotations

import numpy as np

import agents
from amrs_gym.simulator import OBS_FIELDS


def test_steer_plays_the_unplayed_track_nearest_halfway_to_the_target(calm_data) -> None:
    agent = agents.make("steer", mode="calm").fit(calm_data)
    obs = np.zeros((1, calm_data.obs_dim), np.float32)
    obs[0, OBS_FIELDS.index("valence_estimate")] = -0.6
    obs[0, OBS_FIELDS.index("arousal_estimate")] = 0.6
    obs[0, OBS_FIELDS.index("target_valence")] = 0.4
    obs[0, OBS_FIELDS.index("target_arousal")] = -0.4
    distance = np.linalg.norm(agent.affect - [-0.1, 0.1], axis=1)
    first, second = np.argsort(distance)[:2]
    actions, state = agent.predict(obs, deterministic=True)
    assert actions.tolist() == [first]
    actions, _ = agent.predict(obs, state, deterministic=True)  # never a repeat
    assert actions.tolist() == [second]
    wide = agents.make("steer", mode="calm", pool=5).fit(calm_data)
    probabilities = wide.action_probabilities(obs, np.array([[first]]))
    assert np.isclose(probabilities.sum(), 1) and (probabilities > 0).sum() == 5
    assert probabilities[0, first] == 0
