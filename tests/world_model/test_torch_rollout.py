"""A GRU world model drives the envs through the protocol.

The numpy fast path cannot mirror a GRU.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import amrs_gym  # noqa: F401  (registers the ids)
from amrs_gym import defaults
from amrs_gym.world_model.checkpoint import load_listener_model, save_checkpoint
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.torch_rollout import (
    TorchRollout,
    observe_token,
    predict_next,
    start_state,
)
from tests.world_model.conftest import make_model


def test_a_gru_checkpoint_drives_the_env_and_the_vector_env(tmp_path) -> None:
    catalog = defaults.default_catalog()
    torch.manual_seed(0)
    config = WorldModelConfig(encoder="gru", d_model=16, n_heads=2, ff_dim=32, n_layers=1)
    path = tmp_path / "gru.npz"
    save_checkpoint(path, WorldModel(config, catalog.embeddings), catalog.fingerprint())
    assert isinstance(load_listener_model(path, catalog), TorchRollout)
    env = gym.make("AMRS-Calm-v0", world_model=path)
    assert env.observation_space.shape == (15 + 16 + catalog.embedding_dim,)  # + the profile
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
    # 15 fields, the GRU's 16-wide context, the 16-wide listener profile
    assert batch.shape == (3, 15 + 16 + catalog.embedding_dim) and np.isfinite(rewards).all()


@pytest.mark.parametrize(
    "config",
    [{"encoder": "transformer"}, {"encoder": "gru"}, {"production_propensity": True}],
    ids=["transformer", "gru", "production-propensity"],
)
def test_incremental_prediction_equals_full_recomputation(small_dataset, batch, config) -> None:
    # a model that reads the production policy's propensity gets each row's logged one, as in
    # training; the others ignore it
    model = make_model(small_dataset.catalog, **config)
    with torch.no_grad():
        full = model(batch)
        state = start_state(model, batch.mode, batch.cohort, batch.start)
        _, seq_len = batch.track.shape
        for t in range(seq_len):
            live = batch.valid[:, t]
            if not live.all():
                break
            propensity = batch.propensity[:, t : t + 1].numpy()
            step = predict_next(model, state, batch.track[:, t : t + 1], propensity)
            scored = batch.segment[:, t] == 1  # previous-session rows are context, never predicted
            for name in ("skip_logit", "like_logit", "valence_mean", "arousal_log_std"):
                torch.testing.assert_close(
                    getattr(step, name)[scored, 0],
                    getattr(full, name)[scored, t],
                    atol=1e-5,
                    rtol=1e-4,
                )
            previous = torch.where(batch.segment[:, t] == 0, batch.position[:, t], -1)
            observe_token(model, state, batch.track[:, t], batch.feedback[:, t], previous)


def test_incremental_matches_full_for_one_listener(small_dataset) -> None:
    logs = small_dataset.logs
    listener = logs.groupby("listener_id")["session_id"].nunique().idxmax()
    batch = sessions_to_tensors(logs[logs["listener_id"] == listener]).index(slice(1, 2))
    assert (batch.segment == 0).any()
    model = make_model(small_dataset.catalog)
    with torch.no_grad():
        full = model(batch)
        state = start_state(model, batch.mode, batch.cohort, batch.start)
        for t in range(int(batch.valid.sum())):
            step = predict_next(model, state, batch.track[:, t : t + 1])
            if bool(batch.segment[0, t] == 1):
                torch.testing.assert_close(
                    step.skip_logit[:, 0], full.skip_logit[:, t], atol=1e-5, rtol=1e-4
                )
                torch.testing.assert_close(
                    step.valence_mean[:, 0], full.valence_mean[:, t], atol=1e-5, rtol=1e-4
                )
            previous = torch.where(batch.segment[:, t] == 0, batch.position[:, t], -1)
            observe_token(model, state, batch.track[:, t], batch.feedback[:, t], previous)
