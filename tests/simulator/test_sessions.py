"""Tests of amrs_gym/simulator/sessions.py on the stub listener model: exact rewards, info and
observations, starts, cached encodings, partial resets, live masks and forks."""

from __future__ import annotations

import numpy as np
import pytest

from amrs_gym.reward import default_utility
from amrs_gym.simulator import INFO_KEYS, SessionConfig
from amrs_gym.simulator.sessions import ENCODED_BATCHES

CALM = default_utility("calm")


def calm_utility(
    engagement: float, before: np.ndarray, after: np.ndarray, repeats: int = 0
) -> float:
    """The calm utility, written out (reward.py's formula; like probability 0.5)."""
    target = np.array([CALM.target_valence, CALM.target_arousal])
    d_before, d_after = np.hypot(*(before - target)), np.hypot(*(after - target))
    return engagement + 0.5 * 0.5 + 10 * (d_before - d_after) - 0.5 * d_after - 0.5 * repeats


@pytest.fixture()
def sessions(stub_model):
    simulated = SessionConfig(
        "calm", world_model=stub_model, history_length=3, episode_length=4
    ).create(2)
    simulated.reset(
        np.arange(2), [np.random.default_rng(i) for i in range(2)], cold=False, start_indices=[0, 1]
    )
    return simulated


def rngs(seed: int = 0, n: int = 2) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, i]) for i in range(n)]


def test_a_step_scores_the_world_models_prediction_exactly(sessions, stub_model) -> None:
    before = sessions.affect.copy()
    rewards, info = sessions.step(np.array([2, 3]), rngs())
    assert set(info) == set(INFO_KEYS)
    # even track: P(skip) 0.25, E[engagement] 0.75 * 0.75 + 0.25 * 0.25; odd: the mirror image
    np.testing.assert_array_equal(info["expected_engagement"], [0.625, 0.375])
    np.testing.assert_array_equal(info["valence"], [0.0, 0.25])
    np.testing.assert_array_equal(info["arousal"], [0.0, -0.5])
    np.testing.assert_array_equal(info["valence_sampled"], info["valence"])  # the stub's std is 0
    expected = [
        calm_utility(0.625, before[0], np.array([0.0, 0.0])),
        calm_utility(0.375, before[1], np.array([0.25, -0.5])),
    ]
    np.testing.assert_allclose(rewards, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        rewards, np.sum(list(info["utility_components"].values()), axis=0), atol=1e-12
    )
    # a sampled engagement lies in its outcome's bin: [0, 0.5) skipped, [0.5, 1) kept
    assert ((info["engagement"] < 0.5) == info["skipped"]).all()
    tracks, feedback = stub_model.observed[-1]
    assert (
        tracks.tolist() == [2, 3]
        and np.isnan(feedback.rating).all()
        and np.isnan(feedback.valence_report).all()
    )


def test_repeats_are_charged_and_observations_follow_the_step(sessions) -> None:
    sessions.step(np.array([2, 3]), rngs())
    _, info = sessions.step(np.array([2, 2]), rngs(1))
    assert info["utility_components"]["repeat"].tolist() == [-0.5, 0.0]
    obs = sessions.observations()
    assert obs.shape == (2, 15 + 2 + sessions.catalog.embedding_dim)
    np.testing.assert_array_equal(obs[:, 2], 1.0)  # calm one-hot
    np.testing.assert_array_equal(obs[:, 6], 2 / 4)  # time in the episode
    np.testing.assert_array_equal(
        obs[:, 7:9], [[0.0, 0.0], [0.0, 0.0]]
    )  # the prediction for track 2
    np.testing.assert_array_equal(obs[:, 12], info["engagement"].astype(np.float32))
    np.testing.assert_array_equal(obs[:, 14], 0.5)  # predicted like probability
    np.testing.assert_array_equal(
        obs[:, 15], sessions.starts[0].tracks[-3:].size + 2
    )  # the stub's context: tracks seen
    # the listener profile closes the observation, from the starting sessions' earlier history
    np.testing.assert_array_equal(obs[:, 17:], np.stack([s.profile for s in sessions.starts[:2]]))
    assert np.abs(obs[:, 17:]).sum() > 0


def test_a_reset_starts_from_the_picked_history_and_reuses_its_encoding(
    sessions, stub_model
) -> None:
    first = stub_model.starts[0]
    pick = sessions.starts[0]
    assert first.history_length[0] == min(3, len(pick.tracks))
    np.testing.assert_array_equal(
        first.history_tracks[0, : first.history_length[0]], pick.tracks[-3:]
    )
    np.testing.assert_array_equal(sessions.affect[0], pick.start_report)
    calls = len(stub_model.starts)
    sessions.step(np.array([5, 6]), rngs())
    sessions.reset(np.arange(2), rngs(), cold=False, start_indices=[1, 0])
    assert len(stub_model.starts) == calls  # both histories were encoded before
    assert sessions.t.tolist() == [0, 0] and (sessions.played == -1).all()
    sessions.reset(np.arange(2), rngs(), cold=True, start_indices=[0, 0])
    assert stub_model.starts[-1].history_length.tolist() == [0, 0]


def test_sessions_of_one_config_share_only_identical_encoded_batches(stub_model) -> None:
    def encodings() -> int:  # model.start calls with histories (not a new state's template)
        return sum(bool(batch.history_length.any()) for batch in stub_model.starts)

    config = SessionConfig("calm", world_model=stub_model, history_length=3, episode_length=4)
    first = config.create(2)
    first.reset(np.arange(2), rngs(), cold=False, start_indices=[1, 0])
    assert encodings() == 1
    again = config.create(2)  # the same batch of starts: reused, the same states
    again.reset(np.arange(2), rngs(), cold=False, start_indices=[0, 1])
    assert encodings() == 1
    np.testing.assert_array_equal(again.context, first.context[::-1])
    alone = config.create(1)  # start 0 alone would encode differently: encoded afresh
    alone.reset(np.arange(1), rngs(), cold=False, start_indices=[0])
    assert encodings() == 2
    for size in range(2, 2 + ENCODED_BATCHES):
        config.create(size).reset(np.arange(size), rngs(0, size), False, list(range(size)))
    assert len(config.setup.encoded) == ENCODED_BATCHES  # the oldest ones went
    assert (0, 1) not in config.setup.encoded


def test_a_partial_reset_leaves_the_other_sessions_alone(sessions) -> None:
    sessions.step(np.array([2, 3]), rngs())
    kept = sessions.observations()[0].copy()
    sessions.reset(np.array([1]), rngs(), cold=False, start_indices=[0])
    np.testing.assert_array_equal(sessions.observations()[0], kept)
    assert sessions.t.tolist() == [1, 0]


def test_sessions_that_are_not_live_draw_nothing(sessions) -> None:
    generators = rngs()
    before = generators[1].bit_generator.state
    sessions.step(np.array([2, 3]), generators, live=np.array([True, False]))
    assert generators[1].bit_generator.state == before
    assert generators[0].bit_generator.state != np.random.default_rng([0, 0]).bit_generator.state


def test_forks_are_independent_copies(sessions) -> None:
    sessions.step(np.array([2, 3]), rngs())
    forks = sessions.fork(np.array([0, 0, 1]))
    forks.step(np.array([7, 8, 9]), [np.random.default_rng(i) for i in range(3)])
    assert sessions.t.tolist() == [1, 1] and forks.t.tolist() == [2, 2, 2]
    assert sessions.played[0, 1] == -1 and forks.played[:, 1].tolist() == [7, 8, 9]


def test_actions_are_checked_with_a_clear_message(sessions) -> None:
    for bad in (np.array([0]), np.array([0.5, 1.0]), np.array([0, 1200])):
        with pytest.raises(ValueError, match="invalid actions"):
            sessions.check_actions(bad)


def test_the_view_is_read_only(sessions) -> None:
    view = sessions.view()
    assert view.n == 2 and view.mode == "calm" and view.n_tracks == 1200
    with pytest.raises(ValueError, match="read-only"):
        view.played[0, 0] = 5
    scores = view.one_step_utility(np.array([[2, 3], [2, 3]]))
    assert scores.shape == (2, 2)
    with pytest.raises(RuntimeError, match="latent state"):
        view.true_one_step_utility(np.array([[2], [3]]))


def test_a_look_ahead_scores_a_step_and_leaves_the_sessions_where_they_were() -> None:
    sessions = SessionConfig("calm", ensemble=True, pessimism=1.0).create(3)
    sessions.reset(np.arange(3), [np.random.default_rng(i) for i in range(3)], cold=False)
    sessions.step(np.array([1, 2, 3]), [np.random.default_rng(i) for i in range(3)])
    observations, t = sessions.observations().copy(), sessions.t.copy()
    actions = np.array([5, 6, 5])

    def generators() -> list[np.random.Generator]:
        return [np.random.default_rng([9, i]) for i in range(3)]

    played, played_info = sessions.fork(np.arange(3)).step(actions, generators())
    looked = sessions.fork(np.arange(3), look_ahead_only=True)  # only the filled context copied
    for ahead, info in (
        looked.step(actions, generators(), advance=False),
        sessions.step(actions, generators(), advance=False),
    ):
        np.testing.assert_array_equal(ahead, played)
        for key in ("engagement", "skipped", "valence", "utility", "pessimism_penalty"):
            np.testing.assert_array_equal(info[key], played_info[key], err_msg=key)
    np.testing.assert_array_equal(sessions.observations(), observations)
    np.testing.assert_array_equal(sessions.t, t)
    with pytest.raises(ValueError, match="look_ahead_only"):
        looked.step(actions, generators())


def test_utility_terms_sum_to_the_world_models_and_the_truths_utility() -> None:
    config = SessionConfig("sleep", episode_length=5)
    truth = config.create(3, config.reference_outcomes())
    truth.reset(np.arange(3), [np.random.default_rng(i) for i in range(3)], cold=False)
    truth.step(np.array([1, 2, 1]), [np.random.default_rng(i) for i in range(3)])
    candidates = np.array([[1, 7], [2, 8], [3, 9]])  # earlier plays included
    for terms, total in (
        (truth.utility_terms(candidates), truth.predicted_utility(candidates)),
        (truth.utility_terms(candidates, truth=True), truth.reference_utility(candidates)),
    ):
        assert {"progress", "falling_arousal", "repeat"} <= set(terms)
        np.testing.assert_allclose(np.sum(list(terms.values()), axis=0), total, atol=1e-12)
    assert (truth.utility_terms(candidates)["repeat"][:, 0] == [-0.5, -0.5, 0]).all()
    simulated = config.create(1)
    simulated.reset(np.arange(1), [np.random.default_rng(0)], cold=False)
    with pytest.raises(RuntimeError, match="only reference-world sessions"):
        simulated.utility_terms(np.array([[4]]), truth=True)
