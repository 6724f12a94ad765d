"""Every registered agent follows SB3's `predict` protocol.

stable-baselines3's own `evaluate_policy` drives each on `AMRS-Calm-v0`, session-aware ones after
the documented one-line binding.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

import agents
from agents.protocol import Agent, ProbabilisticAgent

BUILT_IN = sorted(agents.AGENTS)


@pytest.mark.parametrize("name", BUILT_IN)
def test_evaluate_policy_drives_every_registered_agent(name, zoo, calm_data) -> None:
    agent = zoo[name]
    assert isinstance(agent, Agent)
    # an agent that reads the members' disagreement plays an ensemble env
    ensemble = agents.needs_ensemble(agent)
    env = Monitor(
        gym.make("AMRS-Calm-v0", episode_length=5, max_episode_steps=5, ensemble=ensemble)
    )
    agents.bind(agent, env)  # the one line (a no-op for agents that read only the observation)
    rewards, lengths = evaluate_policy(
        agent, env, n_eval_episodes=2, deterministic=False, return_episode_rewards=True
    )
    assert lengths == [5, 5] and np.isfinite(rewards).all()


@pytest.mark.parametrize("name", BUILT_IN)
def test_one_observation_gets_one_action_a_single_env_takes(name, zoo) -> None:
    agent = zoo[name]
    env = gym.make("AMRS-Calm-v0", episode_length=3, ensemble=agents.needs_ensemble(agent))
    agents.bind(agent, env)
    obs, _ = env.reset(seed=0)
    state, start = None, np.array([True])
    for _ in range(3):  # SB3's own loop on a single env: the action has no batch axis
        action, state = agent.predict(obs, state, start, deterministic=True)
        assert np.shape(action) == () and env.action_space.contains(int(action))
        obs, *_ = env.step(action)
        start = np.array([False])
    if not agents.needs_view(agent):  # a bound agent acts for its env's one session
        batch, _ = agent.predict(np.stack([obs, obs]), deterministic=True)
        assert np.shape(batch) == (2,)


def test_binding_is_needed_exactly_by_the_session_aware_agents(zoo) -> None:
    assert sorted(name for name, agent in zoo.items() if agents.needs_view(agent)) == [
        "greedy",
        "greedy_pessimistic",
        "logged",
    ]
    with pytest.raises(ValueError, match="not a listening env"):
        agents.bind(zoo["greedy"], gym.make("CartPole-v1"))
    assert agents.bind(zoo["bc"], gym.make("CartPole-v1")) is zoo["bc"]  # nothing to bind


@pytest.mark.parametrize("name", ["greedy", "bc"])
def test_binding_refuses_an_agent_of_another_mode(name, zoo) -> None:
    with pytest.raises(ValueError, match="built for mode 'calm', the env is 'sleep'"):
        agents.bind(zoo[name], gym.make("AMRS-Sleep-v0"))


def test_probabilistic_agents_state_their_distribution(zoo, calm_data) -> None:
    steps = calm_data.replay
    for name, agent in zoo.items():
        if not isinstance(agent, ProbabilisticAgent) or agents.needs_view(agent):
            continue
        probabilities = agent.action_probabilities(
            steps.observations[:8], steps.played_before(20)[:8]
        )
        assert probabilities.shape == (8, calm_data.n_tracks), name
        assert np.allclose(probabilities.sum(axis=1), 1.0), name
        fresh = agent.action_probabilities(steps.observations[:2])  # None: nothing played yet
        np.testing.assert_allclose(
            fresh, agent.action_probabilities(steps.observations[:2], np.full((2, 3), -1))
        )


def test_agents_read_their_sizes_from_the_data_and_keep_them_in_their_file(
    zoo, calm_data, tmp_path
) -> None:
    for name, agent in zoo.items():
        assert (agent.n_tracks, agent.obs_dim) == (calm_data.n_tracks, calm_data.obs_dim), name
        agent.save(tmp_path / f"{name}.npz")
        loaded = type(agent).load(tmp_path / f"{name}.npz")
        assert (loaded.n_tracks, loaded.obs_dim) == (calm_data.n_tracks, calm_data.obs_dim), name
