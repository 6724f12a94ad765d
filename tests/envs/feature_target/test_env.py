"""Tests of amrs_gym/envs/feature_target/env.py (AMRS-FeatureTarget-v0)."""

from __future__ import annotations

import doctest
import itertools
import re
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from amrs_gym.envs.feature_target import FeatureTargetEnv
from amrs_gym.envs.feature_target import env as feature_target_env

ENV_ID = "AMRS-FeatureTarget-v0"


def rollout(env: gymnasium.Env[Any, Any], seed: int, actions: list[int]) -> list[Any]:
    """Observations, rewards, flags and infos of one seeded episode."""
    obs, info = env.reset(seed=seed)
    trajectory: list[Any] = [(obs, info)]
    for action in actions:
        trajectory.append(env.step(action))
    return trajectory


# --- API checkers -------------------------------------------------------------


@pytest.mark.parametrize("obs", ["grid", "board"])
@pytest.mark.parametrize("dims", [2, 3, 4])
def test_checkers_pass_without_warnings(obs: Any, dims: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Through make so the env has a spec (the render check needs one).
        made = gymnasium.make(ENV_ID, dims=dims, obs=obs)
        gymnasium_check_env(made.unwrapped)
        sb3_check_env(FeatureTargetEnv(dims=dims, obs=obs), warn=True)
        made.close()


@pytest.mark.parametrize("reward", ["bullseye", "rating"])
@pytest.mark.parametrize("percentiles", ["top", "wider"])
def test_checkers_pass_for_every_mode(reward: Any, percentiles: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = FeatureTargetEnv(reward=reward, percentiles=percentiles)
        gymnasium_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_spaces() -> None:
    grid = FeatureTargetEnv(dims=3, levels=4)
    assert grid.action_space == gymnasium.spaces.Discrete(7)
    assert grid.observation_space.shape == (5,)
    assert grid.observation_space.dtype == np.float32
    np.testing.assert_array_equal(grid.observation_space.low, [0, 0, 0, -1, 0])
    np.testing.assert_array_equal(grid.observation_space.high, [3, 3, 3, 1, 4])
    board = FeatureTargetEnv(dims=3, levels=4, obs="board")
    assert board.observation_space.shape == (64,)
    assert board.observation_space.dtype == np.float32
    assert np.all(board.observation_space.low == -1)
    assert np.all(board.observation_space.high == 4)


def test_make_with_entry_point() -> None:
    env = gymnasium.make(ENV_ID, dims=3, levels=4, reward="rating", percentiles="top")
    assert isinstance(env.unwrapped, FeatureTargetEnv)
    assert env.spec is not None and env.spec.max_episode_steps is None  # the env truncates itself
    obs, info = env.reset(seed=3)
    assert obs in env.observation_space
    assert info["position"] == (2, 2, 2)


# --- determinism and the target draw ------------------------------------------


@pytest.mark.parametrize("obs", ["grid", "board"])
def test_same_seed_same_trajectory(obs: Any) -> None:
    actions = [int(a) for a in np.random.default_rng(7).integers(0, 7, size=21)]
    first = rollout(FeatureTargetEnv(dims=3, obs=obs), 42, actions)
    second = rollout(FeatureTargetEnv(dims=3, obs=obs), 42, actions)
    assert len(first) == len(second) == 22
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y)
            else:
                assert x == y


def test_different_seeds_give_different_targets() -> None:
    env = FeatureTargetEnv(dims=3)
    targets = {env.reset(seed=seed)[1]["target"] for seed in range(30)}
    assert len(targets) > 20


def test_target_is_uniform_over_seeds() -> None:
    env = FeatureTargetEnv(dims=2, levels=5)
    counts = np.zeros((5, 5))
    draws = 2500
    for seed in range(draws):
        _, info = env.reset(seed=seed)
        counts[info["target"]] += 1
    expected = draws / 25
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    # 24 degrees of freedom: P(chi2 > 51.2) = 0.001.
    assert chi_square < 51.2, counts
    assert counts.min() > 0


def test_unseeded_resets_keep_drawing_from_np_random() -> None:
    env = FeatureTargetEnv(dims=2, levels=3)
    env.reset(seed=0)
    targets = {env.reset()[1]["target"] for _ in range(200)}
    assert targets == set(itertools.product(range(3), repeat=2))


def test_start_state_and_fixed_target() -> None:
    env = FeatureTargetEnv(dims=4, levels=6)
    obs, info = env.reset(seed=1, options={"target": (0, 5, 3, 1)})
    assert info["position"] == (3, 3, 3, 3)
    assert info["target"] == (0, 5, 3, 1)
    assert info["distance"] == 3 + 2 + 0 + 2
    np.testing.assert_array_equal(obs[:4], [3, 3, 3, 3])
    assert obs[4] == 0  # no move yet
    assert obs[5] == info["rating"]
    assert env.reset(options={"target": np.array([1, 1, 1, 1])})[1]["target"] == (1, 1, 1, 1)


@pytest.mark.parametrize("target", [(1,), (1, 2, 3), (5, 0), (-1, 0), (1.0, 2), "ab", 3, (True, 1)])
def test_invalid_fixed_target_raises(target: object) -> None:
    with pytest.raises(ValueError, match="target"):
        FeatureTargetEnv(dims=2, levels=5).reset(options={"target": target})


# --- rewards ----------------------------------------------------------------


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
@pytest.mark.parametrize("percentiles", ["top", "wider", (0, 50, 60, 70, 80, 100)])
def test_distance_zero_pays_full_reward(dims: int, percentiles: Any) -> None:
    cases: list[tuple[Any, float]] = [("bullseye", 10.0), ("rating", 16.0)]
    for reward, expected in cases:
        env = FeatureTargetEnv(dims=dims, reward=reward, percentiles=percentiles)
        center = (2,) * dims
        obs, info = env.reset(seed=0, options={"target": center})
        assert info["distance"] == 0 and info["rating"] == 4 and obs[-1] == 4
        _, r, terminated, truncated, info = env.step(env.stay_action)
        assert (r, terminated, truncated) == (expected, False, False)
        assert isinstance(r, float)


def test_rewards_follow_the_rating() -> None:
    bullseye = FeatureTargetEnv(percentiles="top")
    rating = FeatureTargetEnv(percentiles="top", reward="rating")
    for env in (bullseye, rating):
        env.reset(options={"target": (4, 4)})  # distance 4 from the centre
    # Walk feature 0 up to the target, then feature 1: distances 3, 2, 1, 0.
    for action, expected_rating in [(1, 1), (1, 2), (3, 3), (3, 4)]:
        _, r_bullseye, _, _, info = bullseye.step(action)
        _, r_rating, _, _, _ = rating.step(action)
        assert info["rating"] == expected_rating
        assert r_bullseye == (10.0 if expected_rating == 4 else 0.0)
        assert r_rating == expected_rating**2


# --- dynamics and observations ------------------------------------------------


def test_moves_closer_feedback_and_clipping() -> None:
    env = FeatureTargetEnv(dims=2, levels=5)
    env.reset(options={"target": (4, 0)})
    steps = [
        (1, (3, 2), 1),  # feature 0 up: closer
        (0, (2, 2), -1),  # feature 0 down: farther
        (2, (2, 1), 1),  # feature 1 down: closer
        (2, (2, 0), 1),
        (2, (2, 0), 0),  # clipped at the border
        (4, (2, 0), 0),  # stay
        (3, (2, 1), -1),  # feature 1 up: farther
    ]
    for action, position, closer in steps:
        obs, _, _, _, info = env.step(action)
        assert info["position"] == position
        np.testing.assert_array_equal(obs[:2], position)
        assert obs[2] == closer
        assert obs[3] == info["rating"]
        assert info["distance"] == abs(position[0] - 4) + abs(position[1] - 0)


def test_board_marks_visited_cells_with_ratings() -> None:
    env = FeatureTargetEnv(dims=2, levels=5, obs="board", percentiles="top")
    obs, info = env.reset(options={"target": (4, 4)})
    board = obs.reshape(5, 5)
    assert np.count_nonzero(board != -1) == 1
    assert board[2, 2] == info["rating"] == 0  # distance 4
    for action in (1, 1, 3):  # (3, 2), (4, 2), (4, 3)
        obs, _, _, _, info = env.step(action)
    board = obs.reshape(5, 5)
    assert board[3, 2] == 1 and board[4, 2] == 2 and board[4, 3] == 3
    assert np.count_nonzero(board != -1) == 4
    obs, _, _, _, _ = env.step(0)  # back to (3, 3): distance 2
    assert obs.reshape(5, 5)[3, 3] == 2
    obs, _ = env.reset(options={"target": (0, 0)})
    assert np.count_nonzero(obs != -1) == 1  # a new episode starts a new board


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "action", [-1, 5, 99, 1.0, np.float32(1.0), "1", None, True, np.array([1]), [1]]
)
def test_invalid_action_raises_value_error(action: Any) -> None:
    env = FeatureTargetEnv(dims=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(action)


@pytest.mark.parametrize("action", [0, np.int64(1), np.int32(2), np.uint8(3), np.array(4)])
def test_integer_actions_of_every_type_work(action: Any) -> None:
    env = FeatureTargetEnv(dims=2)
    env.reset(seed=0)
    obs, *_ = env.step(action)
    assert obs in env.observation_space


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        FeatureTargetEnv().step(0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": 0}, "dims"),
        ({"dims": 2.0}, "dims"),
        ({"dims": True}, "dims"),
        ({"levels": 1}, "levels"),
        ({"levels": "5"}, "levels"),
        ({"obs": "image"}, "obs"),
        ({"reward": "skip"}, "reward"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": 21.0}, "max_steps"),
        ({"percentiles": "bottom"}, "percentiles"),
        ({"percentiles": [0, 5, 15, 30, 100]}, "6 band edges"),
        ({"percentiles": [0, 5, 5, 30, 50, 100]}, "strictly increasing"),
        ({"percentiles": [1, 5, 15, 30, 50, 100]}, "start at 0"),
        ({"percentiles": [0, 5, 15, 30, 50, 99]}, "end at 100"),
        ({"percentiles": [0, 5, float("nan"), 30, 50, 100]}, "finite"),
        ({"percentiles": [0, "a", 15, 30, 50, 100]}, "percentiles"),
        ({"percentiles": 5}, "percentiles"),
        ({"obs": "board", "dims": 9, "levels": 10}, "MAX_BOARD_CELLS"),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FeatureTargetEnv(**kwargs)


# --- episode end -------------------------------------------------------------


def test_truncates_after_21_steps_and_never_terminates() -> None:
    env = FeatureTargetEnv(dims=2)
    env.reset(seed=0)
    for step in range(1, 22):
        _, _, terminated, truncated, _ = env.step(step % 5)
        assert terminated is False
        assert truncated is (step == 21)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=1)  # a reset starts a new episode
    assert env.step(4)[3] is False


def test_custom_max_steps() -> None:
    env = FeatureTargetEnv(max_steps=3)
    env.reset(seed=0)
    assert [env.step(4)[3] for _ in range(3)] == [False, False, True]


def test_registered_env_truncates_at_21() -> None:
    env = gymnasium.make(ENV_ID)
    env.reset(seed=0)
    flags = [env.step(4)[2:4] for _ in range(21)]
    assert flags[:-1] == [(False, False)] * 20
    assert flags[-1] == (False, True)


# --- documentation contract -------------------------------------------------


def _docstring_section(heading: str) -> str:
    doc = FeatureTargetEnv.__doc__ or ""
    match = re.search(rf"## {heading}\n(.*?)(\n    ## |\Z)", doc, flags=re.DOTALL)
    assert match is not None, f"missing heading {heading!r}"
    return match.group(1)


def test_docstring_has_gymnasium_headings() -> None:
    for heading in [
        "Description",
        "Action Space",
        "Observation Space",
        "Rewards",
        "Starting State",
        "Episode End",
        "Info",
        "Arguments",
        "Version History",
    ]:
        _docstring_section(heading)
    assert "| index" in _docstring_section("Observation Space")
    assert "| parameter" in _docstring_section("Arguments")


def test_documented_info_keys_equal_returned_keys() -> None:
    documented = set(re.findall(r"^    - `(\w+)`:", _docstring_section("Info"), flags=re.MULTILINE))
    env = FeatureTargetEnv()
    _, info = env.reset(seed=0)
    assert set(info) == documented == {"target", "position", "distance", "rating"}
    assert set(env.step(0)[4]) == documented
    assert isinstance(info["target"], tuple) and isinstance(info["position"], tuple)
    assert type(info["distance"]) is int and type(info["rating"]) is int


def test_documented_arguments_equal_constructor_arguments() -> None:
    documented = set(
        re.findall(r"^    \| `(\w+)`", _docstring_section("Arguments"), flags=re.MULTILINE)
    )
    assert documented == {"dims", "levels", "obs", "reward", "percentiles", "max_steps"}


def test_doctests_run() -> None:
    result = doctest.testmod(feature_target_env, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5
    assert result.failed == 0
