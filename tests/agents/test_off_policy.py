"""Off-policy estimators from logs: hand-made cases, bootstrap weights, replay, FQE."""

from __future__ import annotations

import numpy as np
import pytest

from agents import off_policy
from agents.off_policy import (
    FQESettings,
    LoggedEvidence,
    PolicyOnLogs,
    cumulative_weights,
    estimate,
    fit_fqe,
    replay_policies,
)
from amrs_gym.simulator import LoggedSteps, SessionConfig, replay_logs


def evidence(probability, propensity, rewards, modelled, direct, session, step) -> LoggedEvidence:
    n = len(rewards)
    steps = LoggedSteps(
        observations=np.zeros((n, 3), np.float32),
        next_observations=np.zeros((n, 3), np.float32),
        actions=np.zeros(n, np.int64),
        propensities=np.asarray(propensity, float),
        rewards=np.asarray(rewards, float),
        timeouts=np.r_[np.diff(session) != 0, True],
        session_id=np.asarray(session),
        step=np.asarray(step),
    )
    policy = PolicyOnLogs(
        np.asarray(probability, float), np.asarray(direct, float), np.zeros((n, 1), np.int64)
    )
    return LoggedEvidence(
        steps, 4, np.asarray(modelled, float), np.asarray(session), {"pi": policy}
    )


# two sessions of two steps
CASE = dict(
    probability=[0.5, 0.25, 0.0, 1.0],
    propensity=[0.25, 0.25, 0.5, 0.5],
    rewards=[1.0, 2.0, 3.0, 4.0],
    modelled=[1.5, 1.5, 2.0, 2.0],
    direct=[1.0, 1.0, 2.5, 2.5],
    session=[0, 0, 1, 1],
    step=[0, 1, 0, 1],
)


def value(case, estimator, weights=None, clip=100.0) -> float:
    return float(estimate(evidence(**case), "pi", estimator, weights, clip)[0])


def test_estimators_on_a_hand_made_case() -> None:
    # rho = 2, 1, 0, 2
    assert value(CASE, "ips") == pytest.approx((2 * 1 + 1 * 2 + 0 + 2 * 4) / 4)
    assert value(CASE, "snips") == pytest.approx((2 + 2 + 8) / (2 + 1 + 0 + 2))
    assert value(CASE, "direct") == pytest.approx(1.75)
    residual = [2 * (1 - 1.5), 1 * (2 - 1.5), 0, 2 * (4 - 2)]
    assert value(CASE, "dr") == pytest.approx(1.75 + np.mean(residual))
    # cumulative weights 2, 2, 0, 0: step 0 only session 0 counts (reward 1), step 1 likewise (2)
    assert value(CASE, "pdwis") == pytest.approx(1.5)
    assert value(CASE, "ips", clip=1.5) == pytest.approx((1.5 + 2 + 0 + 1.5 * 4) / 4)
    with pytest.raises(ValueError, match="policy 'nope': not replayed in this evidence"):
        estimate(evidence(**CASE), "nope", "snips")
    with pytest.raises(ValueError, match="unknown estimator 'ipw'"):
        estimate(evidence(**CASE), "pi", "ipw")


def test_on_policy_every_importance_estimator_is_the_logged_mean_and_dr_needs_no_model() -> None:
    on_policy = {**CASE, "probability": CASE["propensity"]}
    for estimator in ("ips", "snips", "pdwis"):
        assert value(on_policy, estimator) == pytest.approx(2.5)
    perfect = {**CASE, "modelled": CASE["rewards"]}
    assert value(perfect, "dr") == pytest.approx(value(perfect, "direct"))


def test_session_weights_resample_like_duplicated_sessions() -> None:
    twice = {
        key: (list(v) + list(v[2:]) if key != "session" else [0, 0, 1, 1, 2, 2])
        for key, v in CASE.items()
    }
    twice["step"] = [0, 1, 0, 1, 0, 1]
    weights = np.array([[1.0, 2.0], [1.0, 1.0]])
    for estimator in ("ips", "snips", "pdwis", "direct", "dr"):
        both = estimate(evidence(**CASE), "pi", estimator, weights)
        assert both.shape == (2,)
        assert both[0] == pytest.approx(value(twice, estimator))
        assert both[1] == pytest.approx(value(CASE, estimator))
    assert np.isnan(value({**CASE, "probability": [0, 0, 0, 0]}, "snips"))
    assert np.isnan(value(CASE, "fqe"))  # not fitted
    with pytest.raises(ValueError, match="unknown estimator"):
        value(CASE, "magic")


def test_cumulative_weights_restart_with_each_session() -> None:
    rho, step = np.array([2.0, 3.0, 0.5, 4.0, 1.0]), np.array([0, 1, 2, 0, 1])
    assert cumulative_weights(rho, step).tolist() == [2.0, 6.0, 3.0, 4.0, 4.0]


def test_replay_watch_records_in_the_steps_order() -> None:
    config = SessionConfig("sleep", episode_length=4)
    steps = replay_logs(config, progress=False, watch=lambda s, a: {"action": a, "t": s.t.copy()})
    assert (steps.extras["action"] == steps.actions).all()
    assert (steps.extras["t"] == steps.step).all()


def test_replaying_some_starts_gives_those_sessions_rows_unchanged() -> None:
    config = SessionConfig("sleep", episode_length=4)
    every = replay_logs(config, progress=False)
    chosen = [1, 4, 6]
    some = replay_logs(config, progress=False, starts=chosen)
    ids = [config.setup.starts[i].session_id for i in chosen]
    assert sorted(set(some.session_id)) == sorted(ids)
    rows = np.isin(every.session_id, ids)
    for name in ("actions", "step"):
        assert np.array_equal(getattr(some, name), getattr(every, name)[rows])
    for name in ("observations", "rewards"):  # to float32 rounding: BLAS kernels on some CPUs
        np.testing.assert_allclose(getattr(some, name), getattr(every, name)[rows], atol=2e-5)
    with pytest.raises(ValueError, match="starts must be indices"):
        replay_logs(config, progress=False, starts=[len(config.setup.starts)])


@pytest.mark.slow
def test_replayed_policies_weigh_the_logs_with_their_own_probabilities(zoo) -> None:
    config = SessionConfig("calm", episode_length=5)
    evidence_ = replay_policies({"logged": zoo["logged"], "random": zoo["random"]}, config)
    logged = evidence_.policies["logged"]
    # the logging policy's probabilities are the logs' propensities
    assert np.allclose(logged.probability, evidence_.steps.propensities, rtol=1e-6)
    truth = evidence_.steps.rewards.mean()
    assert float(estimate(evidence_, "logged", "snips")[0]) == pytest.approx(truth)
    assert np.allclose(evidence_.policies["random"].probability, 1 / evidence_.n_tracks)
    assert logged.draws.shape == (len(evidence_.steps), 16)
    assert (logged.draws >= 0).all() and (logged.draws < evidence_.n_tracks).all()
    some = replay_policies({"random": zoo["random"]}, config, n_sessions=3)
    assert some.n_sessions == 3 and len(some.steps) <= 3 * 5


def _logged_steps(actions: np.ndarray, rewards: np.ndarray, length: int) -> LoggedSteps:
    """Logged sessions of `length` steps playing `actions`, 4 random observation features."""
    n = len(actions)
    session, step = np.arange(n) // length, np.arange(n) % length
    rng = np.random.default_rng(1)
    observations = np.c_[rng.normal(size=(n, 3)), step / length].astype(np.float32)
    return LoggedSteps(
        observations=observations,
        next_observations=observations,
        actions=actions,
        propensities=np.full(n, 0.5),
        rewards=rewards.astype(float),
        timeouts=step == length - 1,
        session_id=session,
        step=step,
    )


@pytest.mark.parametrize("q_function", ["content", "tracks"])
def test_fqe_values_the_policy_that_plays_the_rewarded_track(q_function: str) -> None:
    # 80 sessions of 3 steps; the logs play tracks 0 and 1 evenly; track 1 earns 1, track 0 nothing
    sessions, length = 80, 3
    n = sessions * length
    actions = np.random.default_rng(0).integers(0, 2, n)
    steps = _logged_steps(actions, actions, length)
    session = steps.session_id
    plays = {
        name: PolicyOnLogs((actions == track) * 1.0, np.zeros(n), np.full((n, 4), track))
        for name, track in (("ones", 1), ("zeros", 0))
    }
    evidence_ = LoggedEvidence(
        steps, 2, np.zeros(n), session, plays, track_content=np.eye(2, dtype=np.float32)
    )
    settings = FQESettings(
        q_function=q_function,
        n_steps=400,
        batch_size=64,
        learning_rate=3e-3,
        target_update_interval=20,
    )
    for name in plays:
        fit_fqe(evidence_, name, settings)
    ones, zeros = (float(estimate(evidence_, name, "fqe")[0]) for name in ("ones", "zeros"))
    assert ones == pytest.approx(1.0, abs=0.2) and zeros == pytest.approx(0.0, abs=0.2)


def test_content_fqe_values_tracks_the_logs_never_played() -> None:
    # 40 tracks, even ones rewarded (their first content feature says so); the logs play only
    # tracks 0-19; the policies play only tracks 20-39: a Q-function over content carries over
    tracks, length, n = 40, 3, 480
    content = np.c_[np.arange(tracks) % 2 == 0, np.random.default_rng(2).normal(size=(tracks, 3))]
    actions = np.random.default_rng(0).integers(0, 20, n)
    steps = _logged_steps(actions, (actions % 2 == 0) * 1.0, length)
    plays = {
        name: PolicyOnLogs(np.zeros(n), np.zeros(n), np.random.default_rng(3).choice(pool, (n, 8)))
        for name, pool in (("good", np.arange(20, 40, 2)), ("bad", np.arange(21, 40, 2)))
    }
    evidence_ = LoggedEvidence(
        steps,
        tracks,
        np.zeros(n),
        steps.session_id,
        plays,
        track_content=content.astype(np.float32),
    )
    settings = FQESettings(n_steps=400, batch_size=64, learning_rate=3e-3)
    good, bad = (float(fit_fqe(evidence_, name, settings).mean()) for name in ("good", "bad"))
    assert good == pytest.approx(1.0, abs=0.2) and bad == pytest.approx(0.0, abs=0.2)


@pytest.mark.parametrize("q_function", ["content", "tracks"])
def test_fqe_batches_drawn_at_once_are_d3rlpys(
    q_function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from d3rlpy.dataset import MDPDataset

    # sessions of unequal length, so terminal transitions and episode borders are both drawn
    actions = np.random.default_rng(4).integers(0, 5, 60)
    steps = _logged_steps(actions, actions * 0.25, 4)
    steps.timeouts[[2, 9, 30]] = True
    dataset = MDPDataset(steps.observations, actions, steps.rewards, steps.timeouts)
    batches = []
    for sample in (off_policy._sampled_at_once(dataset), dataset.sample_transition_batch):
        np.random.seed(7)
        batches.append(sample(64))
    assert batches[0].terminals.sum() > 0
    for field in ("observations", "actions", "rewards", "next_observations", "terminals"):
        assert np.array_equal(getattr(batches[0], field), getattr(batches[1], field)), field
    # and FQE's values
    session = np.r_[0, np.cumsum(steps.timeouts)[:-1]]
    plays = {"p": PolicyOnLogs(np.zeros(60), np.zeros(60), actions[:, None] % 3)}
    content = np.random.default_rng(5).normal(size=(5, 3)).astype(np.float32)
    evidence_ = LoggedEvidence(steps, 5, np.zeros(60), session, plays, track_content=content)
    settings = FQESettings(q_function=q_function, n_steps=30, batch_size=16)
    ours = fit_fqe(evidence_, "p", settings, seed=2).copy()
    monkeypatch.setattr(off_policy, "_sampled_at_once", lambda d: d.sample_transition_batch)
    assert np.array_equal(fit_fqe(evidence_, "p", settings, seed=2), ours)


def test_content_fqe_needs_track_content() -> None:
    steps = _logged_steps(np.zeros(6, dtype=np.int64), np.zeros(6), 3)
    plays = {"p": PolicyOnLogs(np.zeros(6), np.zeros(6), np.zeros((6, 2), dtype=np.int64))}
    evidence_ = LoggedEvidence(steps, 1, np.zeros(6), steps.session_id, plays)
    with pytest.raises(ValueError, match="track_content"):
        fit_fqe(evidence_, "p", FQESettings(n_steps=2))
    with pytest.raises(ValueError, match="q_function"):
        FQESettings(q_function="heads")
