"""The ensemble in the envs: uncertainty in `info`, and pessimism lowers the reward by exactly
lambda times the reported utility uncertainty, without changing what happens."""

import gymnasium as gym
import numpy as np
import pytest

import amrs_gym
from amrs_gym import defaults
from amrs_gym.reward import DEFAULT_PESSIMISM
from amrs_gym.world_model.protocol import DISAGREEMENT_KEYS


def play(env: gym.Env, seed: int, steps: int = 12) -> list[tuple[float, dict]]:
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        _, reward, _, _, info = env.step(int(rng.integers(0, env.action_space.n)))
        out.append((reward, info))
    return out


def test_the_shipped_bundle_has_an_ensemble() -> None:
    members = defaults.default_bundle().members
    assert len(members) == 5 and members[0] == defaults.default_bundle().checkpoint


def test_pessimism_lowers_the_reward_by_lambda_times_the_utility_uncertainty() -> None:
    plain = play(gym.make("AMRS-Sleep-v0", ensemble=True), seed=4)
    pessimistic = play(gym.make(amrs_gym.PESSIMISTIC_ENV_IDS["sleep"]), seed=4)
    doubled = play(gym.make("AMRS-Sleep-v0", pessimism=2 * DEFAULT_PESSIMISM), seed=4)
    for (r0, i0), (r1, i1), (r2, i2) in zip(plain, pessimistic, doubled, strict=True):
        assert i0["track_id"] == i1["track_id"] == i2["track_id"]
        assert i0["engagement"] == i1["engagement"] == i2["engagement"]  # same dynamics
        assert set(i1["uncertainty"]) == {*DISAGREEMENT_KEYS, "utility"}
        spread = i1["uncertainty"]["utility"]
        assert spread >= 0 and np.isfinite(spread)
        assert r0 == i0["utility"] and i0["pessimism_penalty"] == 0.0
        assert r1 == i1["utility"] - DEFAULT_PESSIMISM * spread
        assert r2 == i2["utility"] - 2 * DEFAULT_PESSIMISM * spread
    assert sum(i["uncertainty"]["utility"] for _, i in plain) > 0


def test_the_ensemble_changes_nothing_unless_asked() -> None:
    single = play(gym.make("AMRS-Calm-v0"), seed=1, steps=3)
    assert all("uncertainty" not in info for _, info in single)


def test_the_pessimistic_vector_env_equals_its_single_envs() -> None:
    envs = gym.make_vec(
        amrs_gym.PESSIMISTIC_ENV_IDS["focus"], num_envs=3, vectorization_mode="vector_entry_point"
    )
    envs.reset(seed=[10, 11, 12])
    actions = np.array([[5, 17, 900], [5, 3, 1]])
    rewards = [envs.step(a)[1] for a in actions]
    for column, seed in enumerate((10, 11, 12)):
        env = gym.make(amrs_gym.PESSIMISTIC_ENV_IDS["focus"])
        env.reset(seed=seed)
        for t in range(2):
            reward = env.step(int(actions[t, column]))[1]
            # the penalty scales float32 member differences by the progress weight: README, 1e-5
            assert reward == pytest.approx(rewards[t][column], abs=1e-5)


def test_pessimism_is_refused_where_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="pessimism must be a finite number"):
        gym.make("AMRS-Calm-v0", pessimism=-1.0)
    with pytest.raises(ValueError, match="pessimism must be a finite number"):
        gym.make("AMRS-Calm-v0", pessimism=float("nan"))
    with pytest.raises(ValueError, match="ensemble must be True or False"):
        gym.make("AMRS-Calm-v0", ensemble="yes")
    with pytest.raises(ValueError, match="never penalised"):
        amrs_gym.make_reference_env("calm", pessimism=1.0)


def test_utility_uncertainty_is_what_the_step_reports_and_needs_an_ensemble() -> None:
    from amrs_gym.simulator import SessionConfig

    sessions = SessionConfig("calm", ensemble=True).create(4)
    rngs = [np.random.default_rng(i) for i in range(4)]
    sessions.reset(np.arange(4), rngs, cold=False)
    actions = np.array([3, 30, 300, 1000])
    before = sessions.utility_uncertainty(actions[:, None])[:, 0]
    _, info = sessions.step(actions, rngs)
    np.testing.assert_array_equal(before, info["uncertainty"]["utility"])
    single = SessionConfig("calm").create(1)
    single.reset(np.arange(1), rngs[:1], cold=False)
    with pytest.raises(RuntimeError, match="only ensemble sessions"):
        single.utility_uncertainty(np.array([[3]]))


def test_a_caller_may_ask_for_its_own_pessimism_on_ensemble_sessions() -> None:
    from amrs_gym.simulator import SessionConfig

    sessions = SessionConfig("sleep", pessimism=DEFAULT_PESSIMISM).create(3)
    rngs = [np.random.default_rng(i) for i in range(3)]
    sessions.reset(np.arange(3), rngs, cold=False)
    candidates = np.array([[1, 2, 3], [40, 50, 60], [700, 800, 900]])
    plain = sessions.predicted_utility(candidates, pessimism=0.0)
    spread = sessions.utility_uncertainty(candidates)
    np.testing.assert_allclose(
        sessions.predicted_utility(candidates), plain - DEFAULT_PESSIMISM * spread, rtol=1e-6
    )
    np.testing.assert_allclose(
        sessions.predicted_utility(candidates, pessimism=3.0), plain - 3.0 * spread, rtol=1e-6
    )
    single = SessionConfig("sleep").create(1)
    single.reset(np.arange(1), rngs[:1], cold=False)
    with pytest.raises(ValueError, match=r"pessimism 1\.5 needs the ensemble's disagreement"):
        single.predicted_utility(candidates[:1], pessimism=1.5)


def test_one_members_utility_is_the_single_model_s_and_takes_no_pessimism() -> None:
    """The shipped ensemble's member 0 is the single world model: its utility, bit for bit."""
    from amrs_gym.simulator import SessionConfig

    ensemble = SessionConfig("focus", pessimism=DEFAULT_PESSIMISM).create(2)
    single = SessionConfig("focus").create(2)
    for sessions in (ensemble, single):
        sessions.reset(np.arange(2), [np.random.default_rng(i) for i in range(2)], cold=False)
    candidates = np.array([[5, 6, 7], [300, 301, 302]])
    plain = single.predicted_utility(candidates)
    np.testing.assert_array_equal(ensemble.predicted_utility(candidates, None, 0.0, 0), plain)
    np.testing.assert_array_equal(single.predicted_utility(candidates, None, None, 0), plain)
    assert not np.array_equal(ensemble.predicted_utility(candidates, None, 0.0, 1), plain)
    with pytest.raises(ValueError, match=r"pessimism 1\.0 needs every member"):
        ensemble.predicted_utility(candidates, None, None, 0)
    with pytest.raises(ValueError, match="member 1 of a world model with one member"):
        single.predicted_utility(candidates, None, None, 1)


def test_utility_scored_in_blocks_of_rows_equals_one_batch(monkeypatch) -> None:
    """Blocks keep the model's temporaries in cache; they must not change a value.

    Bit for bit where BLAS rounds a row independently of the product's shape (the machine these
    tests were written on); OpenBLAS's kernels on an AVX2 machine do not, by about 1e-6.
    """
    from amrs_gym.simulator import SessionConfig, sessions

    many = SessionConfig("calm", pessimism=DEFAULT_PESSIMISM).create(7)
    many.reset(np.arange(7), [np.random.default_rng(i) for i in range(7)], cold=False)
    candidates = np.random.default_rng(0).integers(0, 1200, (7, 50))
    whole = [many.predicted_utility(candidates, pessimism=p) for p in (0.0, 2.0)]
    first = many.predicted_utility(candidates[1:6], np.arange(1, 6), 0.0, 0)
    monkeypatch.setattr(sessions, "SCORED_AT_ONCE", 100)  # blocks of 2 rows
    for p, expected in zip((0.0, 2.0), whole, strict=True):
        np.testing.assert_allclose(
            many.predicted_utility(candidates, pessimism=p), expected, rtol=0, atol=2e-5
        )
    np.testing.assert_allclose(
        many.predicted_utility(candidates[1:6], np.arange(1, 6), 0.0, 0), first, rtol=0, atol=2e-5
    )
