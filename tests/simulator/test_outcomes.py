"""Tests of amrs_gym/simulator/outcomes.py.

Logged outcomes and the reference world as the evaluator.
"""

from __future__ import annotations

import numpy as np
import pytest

from amrs_gym import defaults
from amrs_gym.simulator import LoggedOutcomes, SessionConfig
from amrs_gym.world_model.protocol import Feedback

NAN = np.nan


def test_logged_outcomes_use_what_was_logged_and_the_prediction_elsewhere(stub_model) -> None:
    logged = Feedback(
        engagement=np.array([[0.3, 1.0], [0.9, 0.2]]),
        skipped=np.array([[1.0, 0.0], [0.0, 1.0]]),
        rating=np.array([[1.0, NAN], [NAN, 0.0]]),
        valence_report=np.array([[0.6, NAN], [NAN, NAN]]),
        arousal_report=np.array([[-0.2, NAN], [NAN, NAN]]),
    )
    config = SessionConfig("calm", world_model=stub_model, episode_length=2)
    sessions = config.create(2, LoggedOutcomes(logged))
    sessions.reset(np.arange(2), [np.random.default_rng(0)] * 2, cold=False, start_indices=[0, 1])
    _, info = sessions.step(np.array([2, 3]), [np.random.default_rng(0)] * 2)
    np.testing.assert_array_equal(info["engagement"], [0.3, 0.9])
    np.testing.assert_array_equal(
        info["expected_engagement"], [0.3, 0.9]
    )  # the logs are the evaluator
    np.testing.assert_array_equal(
        info["like_probability"], [1.0, 0.5]
    )  # the rating, else the prediction
    np.testing.assert_array_equal(info["valence"], [0.6, 0.25])  # the report, else the prediction
    _, feedback = stub_model.observed[-1]
    assert feedback.rating[0] == 1.0 and np.isnan(feedback.rating[1])  # the model observes the logs
    _, info = sessions.step(np.array([4, 5]), [np.random.default_rng(0)] * 2)
    np.testing.assert_array_equal(info["engagement"], [1.0, 0.2])
    with pytest.raises(RuntimeError, match="cannot be forked"):
        sessions.fork(np.array([0]))


def test_the_reference_world_scores_its_own_latent_state(stub_model) -> None:
    config = SessionConfig("calm", world_model=stub_model)
    sessions = config.create(3, config.reference_outcomes())
    sessions.reset(np.arange(3), [np.random.default_rng(i) for i in range(3)], cold=False)
    truth = sessions.outcomes.truth
    np.testing.assert_array_equal(sessions.evaluator_affect()[:, 0], truth.valence)
    before = np.stack([truth.valence, truth.arousal], 1)
    rewards, info = sessions.step(np.array([2, 3, 4]), [np.random.default_rng(i) for i in range(3)])
    np.testing.assert_array_equal(info["valence"], truth.valence)
    assert not np.array_equal(info["valence"], info["valence_predicted"])
    utility = sessions.utility
    target = np.array([utility.target_valence, utility.target_arousal])
    after = np.stack([info["valence"], info["arousal"]], 1)
    d_before, d_after = np.hypot(*(before - target).T), np.hypot(*(after - target).T)
    expected = (
        info["expected_engagement"]
        + 0.5 * info["like_probability"]
        + 10 * (d_before - d_after)
        - 0.5 * d_after
    )
    np.testing.assert_allclose(rewards, expected, atol=1e-12)
    with pytest.raises(RuntimeError, match="only world-model sessions can be forked"):
        sessions.fork(np.array([0]))
    with pytest.raises(ValueError, match="advance=False needs world-model sessions"):
        sessions.step(
            np.array([2, 3, 4]), [np.random.default_rng(i) for i in range(3)], advance=False
        )


def test_the_reference_evaluator_refuses_logs_without_latent_affect(stub_model) -> None:
    logs = defaults.start_sessions().drop(
        columns=["latent_valence_before", "latent_arousal_before"]
    )
    config = SessionConfig("calm", world_model=stub_model, start_sessions=logs)
    sessions = config.create(2, config.reference_outcomes())
    with pytest.raises(ValueError, match="latent affect"):
        sessions.reset(np.arange(2), [np.random.default_rng(0)] * 2, cold=False)
    sessions.reset(
        np.arange(2), [np.random.default_rng(0)] * 2, cold=True
    )  # a fresh session needs none
