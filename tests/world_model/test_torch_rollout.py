"""A GRU world model drives the envs through the protocol.

The numpy fast path cannot mirror a GRU.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils.env_checker import check_env

import amrs_gym  # noqa: F401  (registers the ids)
from amrs_gym import defaults
from amrs_gym.world_model.checkpoint import load_listener_model, save_checkpoint
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.torch_rollout import TorchRollout


def test_a_gru_checkpoint_drives_the_env_and_the_vector_env(tmp_path) -> None:
    catalog = defaults.default_catalog()
    torch.manual_seed(0)
    config = WorldModelConfig(encoder="gru", d_model=16, n_heads=2, ff_dim=32, n_layers=1)
    path = tmp_path / "gru.npz"
    save_checkpoint(path, WorldModel(config, catalog.embeddings), catalog.fingerprint())
    assert isinstance(load_listener_model(path, catalog), TorchRollout)
    env = gym.make("AMRS-Calm-v0", world_model=path)
    assert env.observation_space.shape == (15 + 16,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(
            int(np.argmin(np.abs(obs[7] - catalog.valence)))
        )
        total += reward
        done = terminated or truncated
    assert np.isfinite(total) and env.observation_space.contains(obs)
    envs = gym.make_vec(
        "AMRS-Calm-v0", num_envs=3, vectorization_mode="vector_entry_point", world_model=path
    )
    batch, _ = envs.reset(seed=0)
    batch, rewards, *_ = envs.step(np.array([1, 2, 3]))
    assert batch.shape == (3, 31) and np.isfinite(rewards).all()
