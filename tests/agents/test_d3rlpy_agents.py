"""cql and bcq (d3rlpy), every mode.

The logged dataset, quick fit, act, evaluate, weights-only round trip.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import agents
from agents.data import TrainingData
from agents.evaluation import off_policy, rollout
from amrs_gym.modes import MODES
from amrs_gym.offline_data import d3rlpy_dataset
from amrs_gym.simulator import SessionConfig

OFFLINE = ["cql", "bcq"]
N_TRACKS = 1200


@pytest.fixture(scope="module")
def fitted(calm_data, tmp_path_factory):
    """Both agents trained on the quick setting (100 gradient steps).

    From a scratch working directory, so that anything d3rlpy writes would be noticed.
    """
    workdir = tmp_path_factory.mktemp("d3rlpy_cwd")
    before = os.getcwd()
    os.chdir(workdir)
    try:
        trained = {name: agents.make(name, mode="calm").fit(calm_data) for name in OFFLINE}
    finally:
        os.chdir(before)
    trained["workdir"] = workdir
    return trained


def test_fitting_writes_no_files(fitted) -> None:
    assert list(fitted["workdir"].iterdir()) == []


def test_the_dataset_has_one_episode_per_logged_session_over_the_whole_catalog(calm_data) -> None:
    steps = calm_data.replay
    dataset = d3rlpy_dataset(steps, N_TRACKS, np.zeros(95, np.float32), np.ones(95, np.float32))
    assert dataset.dataset_info.action_size == N_TRACKS
    assert len(dataset.episodes) == len(np.unique(steps.session_id)) == int(steps.timeouts.sum())
    assert dataset.transition_count == len(steps) - len(
        dataset.episodes
    )  # a timeout's last step has no next state
    assert not any(episode.terminated for episode in dataset.episodes)


@pytest.mark.parametrize("name", OFFLINE)
def test_predict_returns_track_ids_for_a_batch(name, fitted, calm_data) -> None:
    observations = calm_data.replay.observations[:16]
    actions, _ = fitted[name].predict(observations)
    assert actions.shape == (16,) and actions.dtype == np.int64
    assert actions.min() >= 0 and actions.max() < N_TRACKS
    probabilities = fitted[name].action_probabilities(observations)
    assert (probabilities.argmax(axis=1) == actions).all() and np.allclose(
        probabilities.sum(axis=1), 1.0
    )
    # tracks the episode played (the recurrent state) are never played again
    again, state = fitted[name].predict(observations, np.asarray(actions)[:, None])
    assert (again != actions).all() and (state[:, 0] == actions).all()


@pytest.mark.parametrize("name", OFFLINE)
def test_agents_are_evaluated_with_finite_metrics(name, fitted, calm_data) -> None:
    result = rollout(fitted[name], "calm", n_episodes=8)
    assert result.episodes.tracks.shape == (8, 20)
    assert np.isfinite(
        [result.metrics[k] for k in ("utility_mean", "coverage", "ild", "entropy")]
    ).all()
    estimates = off_policy(fitted[name], calm_data.replay)
    assert np.isfinite(estimates["ips_utility"])


@pytest.mark.parametrize("name", OFFLINE)
def test_weights_only_round_trip_acts_identically(name, fitted, calm_data, tmp_path) -> None:
    agent = fitted[name]
    path = tmp_path / f"{name}.npz"
    agent.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "header" in archive.files and "array/q_funcs/0._fc.weight" in archive.files
    loaded = type(agent).load(path)
    observations = calm_data.replay.observations[:64]
    assert (
        agent.predict(observations, deterministic=True)[0]
        == loaded.predict(observations, deterministic=True)[0]
    ).all()


def test_loading_another_agent_kinds_file_is_refused(fitted, tmp_path) -> None:
    fitted["cql"].save(tmp_path / "cql.npz")
    fitted["bcq"].save(tmp_path / "bcq.npz")
    with pytest.raises(ValueError, match="holds a 'cql' agent, not 'bcq'"):
        agents.agent_class("bcq").load(tmp_path / "cql.npz")
    with pytest.raises(ValueError, match="holds a 'bcq' agent, not 'cql'"):
        agents.agent_class("cql").load(tmp_path / "bcq.npz")


@pytest.mark.parametrize("mode", MODES)
def test_cql_trains_and_acts_in_every_mode(mode) -> None:
    data = TrainingData.default(mode, quick=True)
    agent = agents.make("cql", mode=mode, quick_steps=20).fit(data)
    result = rollout(agent, SessionConfig(mode, episode_length=5), n_episodes=8)
    assert result.episodes.tracks.shape == (8, 5)
    assert np.isfinite(result.metrics["utility_mean"])
