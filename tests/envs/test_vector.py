import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from amrs_gym.envs.vector import AffectiveListeningVectorEnv


def test_make_vec_returns_the_native_vector_env() -> None:
    envs = gym.make_vec("AMRS-Calm-v0", num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, AffectiveListeningVectorEnv)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, *envs.single_observation_space.shape)
    assert envs.observation_space.contains(obs)


def test_vector_env_equals_single_envs_under_the_same_seeds() -> None:
    n, steps, seed = 3, 25, 11  # 25 steps crosses one autoreset (episodes are 20 steps)
    envs = gym.make_vec("AMRS-Sleep-v0", num_envs=n, vectorization_mode="vector_entry_point")
    singles = [gym.make("AMRS-Sleep-v0") for _ in range(n)]
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 1200, size=(steps, n))
    obs, _ = envs.reset(seed=seed)
    single_obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
    np.testing.assert_allclose(obs, np.stack(single_obs), atol=1e-5)
    done = [False] * n
    autoresets = 0
    for t in range(steps):
        obs, rewards, terminated, truncated, info = envs.step(actions[t])
        for i, env in enumerate(singles):
            if done[
                i
            ]:  # next-step autoreset: the vector env reset this sub-env and ignored its action
                expected, _ = env.reset()
                assert rewards[i] == 0.0 and not truncated[i]
                done[i] = False
                autoresets += 1
            else:
                expected, reward, term, trunc, single_info = env.step(actions[t, i])
                assert rewards[i] == pytest.approx(reward, abs=1e-5)
                assert truncated[i] == trunc and terminated[i] == term
                assert info["track_id"][i] == single_info["track_id"]
                done[i] = term or trunc
            np.testing.assert_allclose(obs[i], expected, atol=1e-5)
    assert autoresets == n  # every sub-env crossed one autoreset


def test_vector_env_rejects_bad_actions() -> None:
    envs = AffectiveListeningVectorEnv(num_envs=2, mode="focus")
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.array([0, 1]))
    envs.reset(seed=0)
    for bad in (np.array([0]), np.array([0.5, 1.0]), np.array([0, 5000])):
        with pytest.raises(ValueError, match="invalid actions"):
            envs.step(bad)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1200\), got 5000 for session 1"):
        envs.step(np.array([0, 5000]))


def test_stepping_the_envs_never_imports_torch() -> None:
    # torch takes seconds to import: env steps (one candidate per session) keep numpy's kernels
    code = """
import sys, gymnasium as gym, numpy as np, amrs_gym
for env_id in ("AMRS-Calm-v0", "AMRS-Calm-Pessimistic-v0"):
    env = gym.make(env_id)
    env.reset(seed=0)
    for _ in range(25):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
envs = gym.make_vec("AMRS-Sleep-v0", num_envs=16, vectorization_mode="vector_entry_point")
envs.reset(seed=0)
for _ in range(25):
    envs.step(np.zeros(16, dtype=np.int64))
print("torch" in sys.modules)
"""
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"
