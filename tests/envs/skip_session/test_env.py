"""Tests of amrs_gym/envs/skip_session/env.py (AMRS-SkipSession-v0) on tiny logs and, for the
registered id, the default logs (built once per session, about 10-15 s, shared)."""

from __future__ import annotations

import doctest
import re
import time
import warnings
from typing import Any

import gymnasium
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from amrs_gym.catalog import Catalog
from amrs_gym.envs.skip_session import INFO_KEYS, SLOT_SIZE, SkipSessionEnv, default_logged_pairs
from tests.skip_logs import N_TRACKS, make_logs, start_after

ENV_ID = "AMRS-SkipSession-v0"


def rollout(env: gymnasium.Env[Any, Any], seed: int, actions: np.ndarray) -> list[Any]:
    """Observations, rewards, flags and infos of one seeded episode."""
    obs, info = env.reset(seed=seed)
    out: list[Any] = [(obs.copy(), info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs.copy(), reward, terminated, truncated, info))
    return out


def assert_same(first: list[Any], second: list[Any]) -> None:
    """Equal trajectories (NaN equals NaN, as in the infos after reset)."""
    np.testing.assert_equal(first, second)


def random_actions(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 5)).astype(np.float32)


# --- API checkers and the registered id ---------------------------------------------


def test_checkers_pass_without_warnings_on_the_registered_id(default_env: SkipSessionEnv) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        made = gymnasium.make(ENV_ID)
        gymnasium_check_env(made.unwrapped, skip_render_check=True)
        sb3_check_env(made.unwrapped, warn=True)


def test_checkers_pass_without_warnings_on_own_logs(env: SkipSessionEnv) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymnasium_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=True)


def test_registered_id_truncates_after_fifteen_tracks(default_env: SkipSessionEnv) -> None:
    made = gymnasium.make(ENV_ID)
    made.reset(seed=3)
    made.action_space.seed(3)
    steps, played = 0, []
    while True:
        _, reward, terminated, truncated, info = made.step(made.action_space.sample())
        steps += 1
        played.append(info["track_id"])
        assert reward == (0.0 if info["skipped"] else 1.0)
        if terminated or truncated:
            break
    assert steps == 15 and truncated and not terminated
    assert len(set(played)) == 15


def test_default_memory_is_cached_and_later_makes_are_fast(default_env: SkipSessionEnv) -> None:
    assert default_logged_pairs() is default_env.pairs
    start = time.perf_counter()
    other = gymnasium.make(ENV_ID).unwrapped
    assert time.perf_counter() - start < 1.0
    assert other.pairs is default_env.pairs  # type: ignore[attr-defined]
    assert default_env.pairs.n_rows > 100_000
    assert default_env.observation_space.shape == (40,)
    assert default_env.action_space.shape == (5,)


def test_default_start_histories_are_held_out(default_env: SkipSessionEnv) -> None:
    from amrs_gym import defaults

    split = defaults.default_split()
    assert set(default_env.starts.session_ids) == set(split.test["session_id"])
    assert not set(default_env.starts.session_ids) & set(split.train["session_id"])
    assert (default_env.starts.track_ids >= 0).all()  # every test session has >= 5 tracks


def test_same_seed_same_trajectory_on_the_registered_id(default_env: SkipSessionEnv) -> None:
    actions = random_actions(15, seed=1)
    first = rollout(gymnasium.make(ENV_ID), 7, actions)
    second = rollout(gymnasium.make(ENV_ID), 7, actions)
    assert_same(first, second)
    other = rollout(gymnasium.make(ENV_ID), 8, actions)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


def test_docstring_example_runs(default_env: SkipSessionEnv) -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(SkipSessionEnv, "SkipSessionEnv", globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_info_keys_match_the_docstring(env: SkipSessionEnv) -> None:
    doc = SkipSessionEnv.__doc__ or ""
    section = doc.split("## Info")[1].split("##")[0]
    documented = set(re.findall(r"^\s*- `(\w+)`:", section, flags=re.MULTILINE))
    assert documented == set(INFO_KEYS)
    _, info = env.reset(seed=0)
    assert set(info) == documented
    _, _, _, _, info = env.step(np.zeros(5, dtype=np.float32))
    assert set(info) == documented


# --- episode logic on tiny logs -----------------------------------------------------


def test_same_seed_same_trajectory(logs: pd.DataFrame, catalog: Catalog) -> None:
    actions = random_actions(15, seed=2)
    first = rollout(SkipSessionEnv(logs=logs, catalog=catalog), 11, actions)
    second = rollout(SkipSessionEnv(logs=logs, catalog=catalog), 11, actions)
    assert_same(first, second)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(4, dtype=np.float32),
        np.zeros((1, 5), dtype=np.float32),
        np.array([0, 0, np.nan, 0, 0], dtype=np.float32),
        np.array([0, np.inf, 0, 0, 0]),
        np.array([0, 0, 0, 1.5, 0]),
        np.array([-2.0, 0, 0, 0, 0]),
        "abcde",
        None,
        3,
    ],
)
def test_invalid_actions_raise_value_error(env: SkipSessionEnv, bad: Any) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(bad)


def test_lists_and_float64_actions_are_accepted(env: SkipSessionEnv) -> None:
    env.reset(seed=0)
    env.step([0.1, 0.2, -0.3, 0.0, 1.0])  # type: ignore[arg-type]
    env.step(np.full(5, -1.0))


def test_step_before_reset_and_after_end_raise(logs: pd.DataFrame, catalog: Catalog) -> None:
    env = SkipSessionEnv(logs=logs, catalog=catalog, max_steps=3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(5, dtype=np.float32))
    env.reset(seed=0)
    for _ in range(3):
        _, _, terminated, truncated, _ = env.step(np.zeros(5, dtype=np.float32))
        assert not terminated
    assert truncated
    with pytest.raises(RuntimeError, match="ended"):
        env.step(np.zeros(5, dtype=np.float32))
    env.reset(seed=1)
    env.step(np.zeros(5, dtype=np.float32))  # a new episode works again


def test_reward_is_one_exactly_when_not_skipped(env: SkipSessionEnv) -> None:
    outcomes = set()
    for seed in range(6):
        env.reset(seed=seed)
        for action in random_actions(15, seed):
            _, reward, _, _, info = env.step(action)
            assert reward == (0.0 if info["skipped"] else 1.0)
            assert 0.0 <= info["skip_probability"] <= 1.0
            assert 0.0 <= info["engagement"] <= 1.0
            assert info["neighbours"] >= 0.0
            outcomes.add(info["skipped"])
    assert outcomes == {True, False}


def test_reward_fn_is_used(logs: pd.DataFrame, catalog: Catalog) -> None:
    env = SkipSessionEnv(
        logs=logs, catalog=catalog, reward_fn=lambda skipped, engagement: engagement
    )
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(5, dtype=np.float32))
    assert reward == info["engagement"]


def test_a_reward_fn_that_cannot_be_called_is_refused_at_construction(
    logs: pd.DataFrame, catalog: Catalog
) -> None:
    with pytest.raises(ValueError, match=r"reward_fn must be a callable.*'kept'"):
        SkipSessionEnv(logs=logs, catalog=catalog, reward_fn="kept")  # type: ignore[arg-type]


def test_action_equal_to_a_track_maps_to_that_track(env: SkipSessionEnv) -> None:
    features = env.catalog.features()
    env.reset(seed=0, options={"start": "empty"})
    for track in (3, 17, 0, 39, 25):
        _, _, _, _, info = env.step(features[track])
        assert info["track_id"] == track


def test_played_tracks_are_never_repeated(env: SkipSessionEnv) -> None:
    features = env.catalog.features()
    _, info = env.reset(seed=4)
    history = set(env.played_track_ids.tolist())
    assert len(history) == 5 and info["track_id"] == -1
    target = features[next(iter(history))]  # a track of the starting history
    played = []
    for _ in range(15):
        _, _, _, _, info = env.step(target)
        played.append(info["track_id"])
    assert len(set(played)) == 15 and not set(played) & history
    distances = np.linalg.norm(features - target, axis=1)
    # The same point walks outwards through the unplayed tracks, nearest first.
    unplayed = [t for t in np.argsort(distances, kind="stable") if t not in history]
    assert played == unplayed[:15]


def test_starting_states(env: SkipSessionEnv) -> None:
    obs, _ = env.reset(seed=0, options={"start": "empty"})
    assert not obs.any() and len(env.played_track_ids) == 0
    obs, _ = env.reset(seed=0)
    slots = obs.reshape(5, SLOT_SIZE)
    assert (slots[:, 7] == 1.0).all()
    session = env.starts.track_ids[np.isin(env.starts.track_ids, env.played_track_ids).all(axis=1)]
    assert len(session) >= 1
    # Slot 0 is the last track of the start history, slot 4 the first.
    np.testing.assert_array_equal(slots[::-1, :5], env.catalog.features()[session[0]])
    with pytest.raises(ValueError, match="start"):
        env.reset(options={"start": "cold"})
    empty = SkipSessionEnv(logs=env.pairs, start_logs=env.starts, start="empty")
    assert not empty.reset(seed=0)[0].any()


# --- responses on hand-made logs -----------------------------------------------------


def test_state_whose_logged_pairs_were_all_skipped_is_skipped(
    hand_made: pd.DataFrame, catalog: Catalog
) -> None:
    features = catalog.features()
    env = SkipSessionEnv(logs=hand_made, catalog=catalog, start_logs=start_after(0))
    for seed in range(5):
        env.reset(seed=seed)
        _, reward, _, _, info = env.step(features[1])
        assert info["track_id"] == 1
        assert info["skip_probability"] == 1.0 and info["skipped"] and reward == 0.0
        assert info["engagement"] == pytest.approx(0.25)  # mean of the skipped neighbours
        assert info["neighbours"] == pytest.approx(0.0, abs=1e-6)  # identical logged pairs exist

    env = SkipSessionEnv(logs=hand_made, catalog=catalog, start_logs=start_after(5))
    env.reset(seed=0)
    _, reward, _, _, info = env.step(features[1])
    assert info["skip_probability"] == 0.0 and not info["skipped"] and reward == 1.0
    assert info["engagement"] == 1.0


# --- arguments --------------------------------------------------------------------


def test_invalid_arguments_raise(logs: pd.DataFrame, catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="k must"):
        SkipSessionEnv(logs=logs, catalog=catalog, k=0)
    with pytest.raises(ValueError, match="k must"):
        SkipSessionEnv(logs=make_logs([(0, 1, False, 1.0)]), catalog=catalog, k=2)
    with pytest.raises(ValueError, match="action_weight"):
        SkipSessionEnv(logs=logs, catalog=catalog, action_weight=0.0)
    with pytest.raises(ValueError, match="start"):
        SkipSessionEnv(logs=logs, catalog=catalog, start="cold")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distinct tracks"):
        SkipSessionEnv(logs=logs, catalog=catalog, max_steps=36)
    with pytest.raises(ValueError, match="missing columns"):
        SkipSessionEnv(logs=logs.drop(columns="engagement"), catalog=catalog)
    with pytest.raises(ValueError, match="track ids"):
        SkipSessionEnv(logs=make_logs([(0, N_TRACKS, False, 1.0)]), catalog=catalog, k=1)
    with pytest.raises(ValueError, match="catalog without logs"):
        SkipSessionEnv(catalog=catalog)


def test_info_names_the_start_session(env: SkipSessionEnv) -> None:
    for seed in range(5):
        _, info = env.reset(seed=seed)
        first = env.starts.track_ids[info["start_session"]]
        assert set(first[first >= 0].tolist()) == set(env.played_track_ids.tolist())
        _, _, _, _, info_after = env.step(np.zeros(5, dtype=np.float32))
        assert info_after["start_session"] == info["start_session"]
    _, info = env.reset(seed=0, options={"start": "empty"})
    assert info["start_session"] == -1
