"""Every env refuses bad actions, reset options and constructor arguments by name, and under any
valid play returns finite rewards and observations inside its space."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import amrs_gym  # noqa: F401  (registers the ids)
from tests.bad_inputs.conftest import ANYTHING

ENV_IDS = [
    "AMRS-Calm-v0",
    "AMRS-Sleep-Reference-v0",
    "AMRS-FeatureTarget-v0",
    "AMRS-SkipSession-v0",
]


@pytest.fixture(scope="module")
def envs() -> dict[str, gym.Env]:
    return {env_id: gym.make(env_id) for env_id in ENV_IDS}


@pytest.mark.parametrize("env_id", ENV_IDS)
@given(options=ANYTHING)
def test_reset_options_are_checked(envs, env_id: str, options: object) -> None:
    env = envs[env_id]
    try:
        obs, _ = env.reset(seed=0, options=options)
    except ValueError as error:
        assert "option" in str(error) or "start" in str(error) or "target" in str(error), error
        return
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", ENV_IDS)
@given(action=st.one_of(ANYTHING, st.lists(st.floats(), min_size=5, max_size=5)))
def test_any_action_is_played_or_refused(envs, env_id: str, action: object) -> None:
    env = envs[env_id].unwrapped
    env.reset(seed=1)
    try:
        obs, reward, *_ = env.step(action)
    except ValueError as error:
        assert "action" in str(error), error
        return
    assert np.isfinite(reward) and env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", ENV_IDS)
@given(seed=st.integers(0, 2**31), steps=st.integers(1, 25))
def test_valid_play_stays_finite_and_in_space(envs, env_id: str, seed: int, steps: int) -> None:
    env = envs[env_id]
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and env.observation_space.contains(obs)
        assert all(np.isfinite(v) for v in info.values() if isinstance(v, float))
        if terminated or truncated:
            obs, _ = env.reset()


@given(num_envs=ANYTHING)
def test_vector_env_sizes(num_envs: object) -> None:
    try:
        envs = gym.make_vec(
            "AMRS-Calm-v0", num_envs=num_envs, vectorization_mode="vector_entry_point"
        )
    except ValueError as error:
        assert "num_envs" in str(error), error
        return
    assert envs.num_envs == num_envs


@given(actions=st.one_of(ANYTHING, st.lists(st.integers(-5, 1300), min_size=0, max_size=4)))
def test_vector_env_actions(actions: object) -> None:
    envs = gym.make_vec("AMRS-Calm-v0", num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    try:
        obs, rewards, *_ = envs.step(np.asarray(actions))
    except ValueError as error:
        assert "actions" in str(error), error
        return
    assert np.isfinite(rewards).all() and envs.observation_space.contains(obs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"episode_length": 40, "max_episode_steps": 30}, "differs from episode_length=40"),
        ({"history_length": 1.5}, "history_length must be an integer"),
        ({"checkpoint": "x"}, "unknown argument"),
    ],
)
def test_vector_env_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make_vec("AMRS-Calm-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"dims": 10**6}, {"levels": 10**5}, {"dims": 0}, {"levels": 1.5}]
)
def test_feature_target_grids_are_bounded(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=r"(dims|levels) must be an integer in"):
        gym.make("AMRS-FeatureTarget-v0", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "sleep"}, "AMRS-Calm-v0 simulates calm"),
        ({"render_mode": "human"}, "render_mode 'human': these envs do not render"),
    ],
)
def test_make_refuses_arguments_that_contradict_the_id(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        gym.make("AMRS-Calm-v0", **kwargs).reset(seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_sessions": 42}, "start_sessions must be a DataFrame, a parquet/CSV file or None"),
        ({"catalog": 5}, "catalog must be a Catalog, a parquet file or None, got 5"),
        ({"world_model": 3}, "world_model must be a ListenerModel, a checkpoint file or None"),
    ],
)
def test_make_refuses_pieces_of_the_wrong_kind_by_name(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make("AMRS-Calm-v0", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pessimism": 1.0}, "pessimism=1.0: the reference env's rewards are the truth's"),
        ({"member": 2}, "member=2: the reference env's listener is the truth's"),
    ],
)
def test_the_reference_env_refuses_world_model_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make("AMRS-Calm-Reference-v0", **kwargs)


def test_make_vec_refuses_a_mode_other_than_the_ids() -> None:
    envs = gym.make_vec(
        "AMRS-Calm-v0", num_envs=2, vectorization_mode="vector_entry_point", mode="focus"
    )
    with pytest.raises(ValueError, match="AMRS-Calm-v0 simulates calm"):
        envs.reset(seed=0)


def test_a_pessimistic_id_refuses_to_turn_the_ensemble_off() -> None:
    with pytest.raises(ValueError, match=r"ensemble=False conflicts with pessimism=1\.0"):
        gym.make("AMRS-Calm-Pessimistic-v0", ensemble=False)


def test_sb3_make_vec_env_builds_the_listening_envs() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    envs = make_vec_env("AMRS-Calm-v0", n_envs=2, seed=0, env_kwargs={"episode_length": 3})
    obs = envs.reset()
    assert obs.shape == (2, envs.observation_space.shape[0])
    gym.make("AMRS-Calm-v0", render_mode=None).reset(seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_episodes": 0}, "n_episodes must be an integer in 1..65536, got 0"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": float("nan")}, "seed must be an integer >= 0, got nan"),
        ({"seed": (0, -2)}, "seed must be an integer >= 0, got -2"),
    ],
)
def test_rollout_names_its_bad_arguments(kwargs: dict, match: str) -> None:
    import agents
    from agents.evaluation import rollout

    with pytest.raises(ValueError, match=match):
        rollout(agents.make("random", mode="calm"), "calm", **kwargs)
