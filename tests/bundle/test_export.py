"""A bundle's logged sessions as offline-RL datasets, with the env's own observations."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from amrs_gym.offline_data import export_logged_dataset, training_sessions
from amrs_gym.simulator import replay_logs


@pytest.fixture(scope="module")
def steps(truth_bundle):
    return replay_logs(training_sessions(truth_bundle, "calm"), progress=False)


def test_d3rlpy_export_reads_back_as_the_replayed_sessions(truth_bundle, steps, tmp_path) -> None:
    from amrs_gym.compat import quiet_legacy_gym

    quiet_legacy_gym()
    import d3rlpy

    path = export_logged_dataset(truth_bundle, "calm", "d3rlpy", tmp_path)
    with path.open("rb") as handle:
        buffer = d3rlpy.dataset.ReplayBuffer.load(handle, d3rlpy.dataset.InfiniteBuffer())
    assert len(buffer.episodes) == int(steps.timeouts.sum())
    first = buffer.episodes[0]
    np.testing.assert_allclose(first.observations, steps.observations[: len(first.observations)])
    assert buffer.dataset_info.action_size == 1200


def test_minari_export_loads_and_recovers_the_bundles_env(truth_bundle, steps, tmp_path) -> None:
    minari = pytest.importorskip("minari")
    path = export_logged_dataset(truth_bundle, "calm", "minari", tmp_path)
    os.environ["MINARI_DATASETS_PATH"] = str(tmp_path)
    try:
        dataset = minari.load_dataset(path.name)
        assert dataset.total_episodes == int(steps.timeouts.sum())
        assert dataset.total_steps == len(steps)
        episode = next(iter(dataset.iterate_episodes()))
        n = len(episode.actions)
        np.testing.assert_allclose(episode.observations[:n], steps.observations[:n])
        np.testing.assert_allclose(episode.observations[n], steps.next_observations[n - 1])
        env = dataset.recover_environment()
        assert env.unwrapped.config.resolved_bundle.path == truth_bundle.resolve()
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
    finally:
        os.environ.pop("MINARI_DATASETS_PATH", None)


def test_the_export_command_refuses_an_unknown_mode_in_one_line(truth_bundle, tmp_path) -> None:
    args = ["export", "--bundle", str(truth_bundle), "--mode", "party", "--format", "d3rlpy"]
    result = subprocess.run(
        [sys.executable, "-m", "amrs_gym.data", *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "invalid choice: 'party'" in result.stderr
