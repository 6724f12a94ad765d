import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import amrs_gym
from amrs_gym.envs.affective_listening import AffectiveListeningEnv
from amrs_gym.simulator import INFO_KEYS, SessionConfig

LISTENING_IDS = sorted([*amrs_gym.MODE_ENV_IDS.values(), *amrs_gym.REFERENCE_ENV_IDS.values()])
ALL_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("AMRS-"))


def _rollout(env: gym.Env, seed: int, actions: list[int]) -> list[tuple]:
    obs, _ = env.reset(seed=seed)
    out = [(obs.copy(),)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append(
            (obs.copy(), reward, terminated, truncated, info["track_id"], info["engagement"])
        )
    return out


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_without_warnings(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", LISTENING_IDS)
def test_same_seed_same_trajectory(env_id: str) -> None:
    actions = [5, 17, 5, 300, 1199, 0]
    first = _rollout(gym.make(env_id), 7, actions)
    second = _rollout(gym.make(env_id), 7, actions)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]
    other = _rollout(gym.make(env_id), 8, actions)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("bad", [-1, 1200, 3.5, "3", np.array([1, 2]), True, None])
def test_invalid_actions_raise_value_error(bad) -> None:
    env = gym.make("AMRS-Calm-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.unwrapped.step(bad)


def test_step_before_reset_and_after_end_raise() -> None:
    env = AffectiveListeningEnv(mode="sleep", episode_length=3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(3):
        *_, truncated, _ = env.step(1)
    assert truncated
    with pytest.raises(RuntimeError, match="ended"):
        env.step(1)


def test_registered_episode_truncates_at_twenty_steps() -> None:
    env = gym.make("AMRS-Focus-v0")
    env.reset(seed=1)
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        done = terminated or truncated
    assert steps == 20 and not terminated


def test_info_keys_match_the_docstring() -> None:
    env = gym.make("AMRS-Energize-v0")
    env.reset(seed=0)
    *_, info = env.step(3)
    section = AffectiveListeningEnv.__doc__.split("## Info")[1].split("##")[0]
    always, ensemble = section.split("With `ensemble=True`")
    assert set(re.findall(r"`(\w+)`", always)) == set(info) == set(INFO_KEYS)
    env = gym.make("AMRS-Energize-v0", ensemble=True)
    env.reset(seed=0)
    *_, info = env.step(3)
    extra = set(info) - set(INFO_KEYS)
    assert extra == {"uncertainty", "utility", "pessimism_penalty"}
    assert extra <= set(re.findall(r"`(\w+)`", ensemble))


def test_reward_is_the_sum_of_its_components() -> None:
    env = gym.make("AMRS-Sleep-v0")
    env.reset(seed=2)
    for action in (10, 20, 10):
        _, reward, _, _, info = env.step(action)
        assert reward == pytest.approx(sum(info["utility_components"].values()))
    assert info["utility_components"]["repeat"] < 0  # track 10 was played before in this episode


def test_cold_start_and_cohort_options() -> None:
    env = AffectiveListeningEnv(mode="calm", cohort="clinical")
    obs, _ = env.reset(seed=0)
    assert obs[5] == 1.0  # cohort_clinical
    cold, _ = env.reset(seed=0, options={"start": "cold"})
    assert not np.array_equal(cold[15:], obs[15:])  # no history: a different context vector
    with pytest.raises(ValueError, match="start"):
        env.reset(seed=0, options={"start": "warm"})
    with pytest.raises(ValueError, match="cohort"):
        AffectiveListeningEnv(mode="calm", cohort="teen")
    with pytest.raises(ValueError, match="mode"):
        AffectiveListeningEnv(mode="party")


def test_reference_env_scores_the_truth() -> None:
    env = amrs_gym.make_reference_env("calm")
    assert env.observation_space == gym.make("AMRS-Calm-v0").observation_space
    env.reset(seed=0)
    truth = env.unwrapped.sessions.outcomes.truth
    before = (float(truth.valence[0]), float(truth.arousal[0]))
    _, reward, _, _, info = env.step(42)
    # the evaluator's affect and expectations are the latent truth's, not the world model's
    # prediction
    assert (info["valence"], info["arousal"]) == (float(truth.valence[0]), float(truth.arousal[0]))
    assert info["valence"] != info["valence_predicted"]
    utility = env.unwrapped.utility
    target = np.array([utility.target_valence, utility.target_arousal])
    distance_before = np.hypot(*(np.array(before) - target))
    distance_after = np.hypot(info["valence"] - target[0], info["arousal"] - target[1])
    expected = (
        info["expected_engagement"]
        + 0.5 * info["like_probability"]
        + 10 * (distance_before - distance_after)
        - 0.5 * distance_after
    )
    assert reward == pytest.approx(expected)
    with pytest.raises(ValueError, match="mode"):
        amrs_gym.make_reference_env("party")


def test_arguments_table_lists_every_session_option() -> None:
    section = AffectiveListeningEnv.__doc__.split("## Arguments")[1].split("##")[0]
    documented = set(re.findall(r"^    \| (\w+) \|", section, flags=re.MULTILINE)) - {"parameter"}
    assert documented == {f for f in SessionConfig.__dataclass_fields__}
    with pytest.raises(ValueError, match="unknown argument"):
        AffectiveListeningEnv(mode="calm", checkpoint="x.npz")
