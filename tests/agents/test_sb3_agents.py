"""a2c and ddpg (stable-baselines3).

Quick fit in the world model, act, evaluate, weights-only round trip.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
from agents.evaluation import rollout
from amrs_gym import MODE_ENV_IDS
from amrs_gym.simulator import SessionConfig
from amrs_gym.wrappers import ContinuousTrackAction

SB3 = ["a2c", "ddpg", "a2c_pessimistic", "ddpg_pessimistic"]
N_TRACKS = 1200


@pytest.fixture(scope="module")
def fitted(zoo):
    """Both agents trained on the quick setting (a few hundred env steps each)."""
    return zoo


@pytest.mark.parametrize("name", SB3)
def test_predict_returns_track_ids_for_a_batch(name, fitted, calm_data) -> None:
    observations = calm_data.replay.observations[:16]
    for deterministic in (False, True):
        actions, _ = fitted[name].predict(observations, deterministic=deterministic)
        assert actions.shape == (16,) and np.issubdtype(actions.dtype, np.integer)
        assert actions.min() >= 0 and actions.max() < N_TRACKS


@pytest.mark.parametrize("name", SB3)
def test_agents_are_evaluated_with_finite_metrics(name, fitted) -> None:
    result = rollout(fitted[name], "calm", n_episodes=8)
    assert result.episodes.tracks.shape == (8, 20)
    assert np.isfinite(
        [result.metrics[k] for k in ("utility_mean", "coverage", "ild", "entropy")]
    ).all()


@pytest.mark.parametrize("name", SB3)
def test_weights_only_round_trip_acts_identically(name, fitted, calm_data, tmp_path) -> None:
    agent = fitted[name]
    path = tmp_path / f"{name}.npz"
    agent.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "header" in archive.files and any(
            k.startswith("array/policy/") for k in archive.files
        )
    loaded = type(agent).load(path)
    observations = calm_data.replay.observations[:64]
    first, _ = agent.predict(observations, deterministic=True)
    again, _ = loaded.predict(observations, deterministic=True)
    assert (first == again).all()
    short = SessionConfig("calm", episode_length=6)
    tracks = rollout(agent, short, n_episodes=4, seed=3).episodes.tracks
    assert (tracks == rollout(loaded, short, n_episodes=4, seed=3).episodes.tracks).all()


def test_loading_another_agent_kinds_file_is_refused(fitted, tmp_path) -> None:
    fitted["a2c"].save(tmp_path / "a2c.npz")
    fitted["ddpg"].save(tmp_path / "ddpg.npz")
    with pytest.raises(ValueError, match="holds a 'a2c' agent, not 'ddpg'"):
        agents.agent_class("ddpg").load(tmp_path / "a2c.npz")
    with pytest.raises(ValueError, match="holds a 'ddpg' agent, not 'a2c'"):
        agents.agent_class("a2c").load(tmp_path / "ddpg.npz")


def test_a2c_samples_from_its_probabilities_reproducibly(fitted, calm_data) -> None:
    agent = fitted["a2c"]
    observations = calm_data.replay.observations[:32]
    probabilities = agent.action_probabilities(observations)
    assert probabilities.shape == (32, N_TRACKS) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert (
        agent.predict(observations, deterministic=True)[0] == probabilities.argmax(axis=1)
    ).all()
    agent.seed(7)
    first, _ = agent.predict(observations)
    agent.seed(7)
    assert (agent.predict(observations)[0] == first).all()


def test_ddpg_acts_as_the_wrapper_it_trained_through(fitted, calm_data) -> None:
    """The track `predict` picks, with the episode's plays as its recurrent state, is the one
    `ContinuousTrackAction` plays for the actor's point."""
    agent = fitted["ddpg"]
    env = ContinuousTrackAction(
        gym.make(MODE_ENV_IDS["calm"], **calm_data.env_kwargs()), space="features", k=agent.config.k
    )
    observation, _ = env.reset(seed=0)
    state, played = None, []
    for t in range(20):
        batch = observation[None]
        from_state, state = agent.predict(batch, state, np.array([t == 0]))
        observation, _, _, truncated, info = env.step(agent.policy_actions(batch)[0])
        assert from_state[0] == info["track_id"]
        played.append(info["track_id"])
    assert truncated
    assert len(set(played)) > 1  # with k > 1 a constant proposal still walks through several tracks


def test_ddpg_files_carry_their_catalog_and_refuse_a_tampered_one(fitted, tmp_path) -> None:
    agent = fitted["ddpg"]
    agent.save(tmp_path / "ddpg.npz")
    loaded = type(agent).load(tmp_path / "ddpg.npz")
    assert loaded.catalog.fingerprint() == agent.catalog.fingerprint()
    with np.load(tmp_path / "ddpg.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    arrays["array/catalog_embeddings"] = arrays["array/catalog_embeddings"][::-1].copy()
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="its header says"):
        type(agent).load(tmp_path / "tampered.npz")


@pytest.mark.parametrize("name", ["a2c_pessimistic", "ddpg_pessimistic"])
def test_pessimistic_twins_train_in_the_pessimistic_ensemble(name, calm_data) -> None:
    agent = agents.make(name, mode="calm")
    env = agent.training_env(calm_data).envs[0].unwrapped
    assert env.config.pessimism == agent.config.pessimism == 1.0 and env.config.ensemble
    env.reset(seed=0)
    *_, info = env.step(0)
    assert info["pessimism_penalty"] == pytest.approx(info["uncertainty"]["utility"])
    plain = agents.make(name.removesuffix("_pessimistic"), mode="calm")
    assert plain.training_env(calm_data).envs[0].unwrapped.config.pessimism == 0.0
