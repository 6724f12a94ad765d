"""A world model that reads the production policy's propensity of each candidate.

Training reads the logged propensity of each row's track; simulating asks the production policy
(`ListeningSessions.production_propensity`), which must give what the logs recorded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from amrs_gym.modes import mode_index
from amrs_gym.simulator import SessionConfig
from amrs_gym.simulator.replay import replay_logs
from amrs_gym.simulator.starts import start_batch, start_sessions_for
from amrs_gym.world_model.candidates import propensity_feature
from amrs_gym.world_model.checkpoint import expected_state_shapes
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModelConfig
from amrs_gym.world_model.rollout import NumpyRollout
from amrs_gym.world_model.torch_rollout import (
    TorchRollout,
)
from amrs_gym.world_model.train import fit_world_model
from amrs_gym.world_model.training import TrainConfig
from tests.world_model.conftest import make_model

READS = {"production_propensity": True, "d_model": 16, "n_heads": 2, "ff_dim": 32}


def test_the_feature_is_the_log_ratio_to_uniform_clipped() -> None:
    feature = propensity_feature(np.array([0.01, 0.0, np.nan, 1.0, 1e-9, 0.02]), 100)
    np.testing.assert_allclose(feature, [0.0, -8.0, 0.0, np.log(100), -8.0, np.log(2)], atol=1e-6)
    assert feature.dtype == np.float32


def test_the_model_has_one_more_candidate_input() -> None:
    shapes = expected_state_shapes(WorldModelConfig(production_propensity=True), 20)
    assert shapes["query_candidate.weight"] == (64, 4)
    assert expected_state_shapes(WorldModelConfig(), 20)["query_candidate.weight"] == (64, 3)


def test_the_model_reads_the_logged_propensity(small_dataset, batch) -> None:
    # stepping with it equals training on the logs: tests/world_model/test_torch_rollout.py
    model = make_model(small_dataset.catalog, **READS)
    assert not torch.isnan(batch.propensity[batch.scored]).any()
    with torch.no_grad():
        full = model(batch)
        other = model(replace(batch, propensity=batch.propensity * 20))
    assert not torch.allclose(other.skip_logit, full.skip_logit)


def test_the_numpy_rollout_reads_it_as_the_torch_one_does(small_dataset) -> None:
    model = make_model(small_dataset.catalog, **READS)
    fast, slow = NumpyRollout.from_model(model), TorchRollout(model)
    assert fast.reads_propensity and slow.reads_propensity
    picks = start_sessions_for(small_dataset.logs, "calm", "mixed")[:6]
    reports = np.stack([s.start_report for s in picks])
    starts = start_batch(picks, mode_index("calm"), history_length=20, cold=False, reports=reports)
    fast_state, slow_state = fast.start(starts), slow.start(starts)
    rng = np.random.default_rng(0)
    candidates = rng.integers(0, fast.n_tracks, (len(picks), 7))
    propensity = rng.uniform(0, 0.02, candidates.shape)
    quick = fast.predict(fast_state, candidates, propensity)
    reference = slow.predict(slow_state, candidates, propensity)
    np.testing.assert_allclose(quick.skip_probability, reference.skip_probability, atol=2e-5)
    np.testing.assert_allclose(quick.valence_mean, reference.valence_mean, atol=2e-5)
    with pytest.raises(ValueError, match="reads the production policy's propensity"):
        fast.predict(fast_state, candidates)
    assert not NumpyRollout.from_model(make_model(small_dataset.catalog)).reads_propensity


def test_training_refuses_logs_without_propensities(small_dataset) -> None:
    logs = small_dataset.logs
    logs = logs[logs["listener_id"].isin(logs["listener_id"].unique()[:6])].copy()
    logs.loc[logs.index[5], "propensity"] = np.nan
    tensors = sessions_to_tensors(logs)
    features = torch.as_tensor(small_dataset.catalog.embeddings)
    with pytest.raises(ValueError, match="the training logs lack some"):
        fit_world_model(
            WorldModelConfig(**READS), features, tensors, tensors, TrainConfig(epochs=1), False
        )


def test_the_sessions_ask_production_what_the_logs_recorded() -> None:
    # replaying held-out logged sessions: the production policy, asked from the sessions' own
    # state (listener, tracks played, last skip), gives the propensity the log recorded
    def ask(sessions, actions):  # type: ignore[no-untyped-def]
        return {"asked": sessions.production_propensity(actions[:, None])[:, 0]}

    steps = replay_logs(SessionConfig("sleep"), watch=ask, progress=False, starts=range(25))
    assert len(steps.propensities) > 300
    # rtol: the recorded propensities come from the build machine, whose float32 BLAS kernels
    # round the taste products differently from another CPU's (relative 2e-7 on an AVX2 one)
    np.testing.assert_allclose(steps.extras["asked"], steps.propensities, rtol=1e-6)


def test_a_production_scorer_given_is_the_one_asked() -> None:
    seen: dict[str, np.ndarray] = {}

    def scorer(listener, mode, history, position, last_skipped):  # type: ignore[no-untyped-def]
        seen.update(listener=listener, mode=mode, position=position)
        return np.tile(np.arange(1, 1201) / 720600, (len(listener), 1))  # rows sum to 1

    sessions = SessionConfig("focus", production=scorer).create(3)
    sessions.reset(np.arange(3), [np.random.default_rng(i) for i in range(3)], cold=False)
    asked = sessions.production_propensity(
        np.array([[0, 1199], [5, 5], [9, 0]]), np.array([0, 2, 1])
    )
    np.testing.assert_allclose(asked, np.array([[1, 1200], [6, 6], [10, 1]]) / 720600)
    np.testing.assert_array_equal(seen["listener"], sessions.listener[[0, 2, 1]])
    assert (seen["mode"] == mode_index("focus")).all() and (seen["position"] == 0).all()
    with pytest.raises(ValueError, match="production must be a callable"):
        SessionConfig("focus", production="production")
    wrong = SessionConfig("focus", production=lambda **_: np.ones((1, 7))).create(2)
    wrong.reset(np.arange(2), [np.random.default_rng(i) for i in range(2)], cold=False)
    with pytest.raises(ValueError, match=r"returned shape \(1, 7\), expected \(2, 1200\)"):
        wrong.production_propensity(np.zeros((2, 1), dtype=int))
