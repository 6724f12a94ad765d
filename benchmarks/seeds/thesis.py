"""The thesis's reproduction: SB3 A2C on `AMRS-FeatureTarget-v0`, scored on every grid target.

Beside it, the rule-based searcher and the ceiling. A2C does not run with SB3's defaults:
`A2C_SETTINGS` scales the observation to [-1, 1], the training reward by 0.1 and uses learning rate
2e-3 (why, with the measurements: benchmarks/NOTES.md); the episode reward reported is the env's
own.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm.auto import tqdm

import amrs_gym  # noqa: F401  (registers the env ids)
from agents.adapters.sb3 import TqdmProgress
from amrs_gym.envs.feature_target import BULLSEYE_REWARD, FeatureTargetEnv, PercentilePreset
from amrs_gym.wrappers import ScaledObservation
from benchmarks.seeds import PUBLISHED, Args
from benchmarks.seeds.baselines import CoordinateSearchPolicy

LEVELS = 5
"""Levels per feature in every thesis configuration."""
PERCENTILES: PercentilePreset = "wider"
"""The thesis's WiderTopTarget users."""
THESIS_CONFIGS: dict[str, tuple[int, str]] = {
    "2d_grid": (2, "grid"),
    "2d_board": (2, "board"),
    "3d_grid": (3, "grid"),
    "4d_grid": (4, "grid"),
}
"""Name -> (dims, obs) of the A2C runs."""
A2C_SETTINGS: dict[str, Any] = {
    "n_steps": 20,  # the thesis's n-step 20
    "n_envs": 8,
    "learning_rate": 2e-3,
    "gamma": 0.99,
    "ent_coef": 0.0,
    "reward_scale": 0.1,  # bullseye 10 -> 1 while training; evaluation reports the env's own reward
    "scale_observation": True,  # Box bounds -> [-1, 1]
}
"""A2C hyper-parameters; SB3 defaults for the rest (RMSprop, gae_lambda 1, max_grad_norm 0.5,
64x64 nets)."""


def all_targets(dims: int, levels: int = LEVELS) -> list[tuple[int, ...]]:
    """Every cell of the grid {0..levels-1}^dims, in C order (the last feature varies fastest)."""
    return list(itertools.product(range(levels), repeat=dims))


def ceiling_returns(env: FeatureTargetEnv) -> np.ndarray:
    """Best possible bullseye return per target (in `all_targets` order).

    For an agent that knows the target. Rating 4 holds within distance q_1 (`env.thresholds[0]`) of
    the target, so from the start at distance d the agent needs k = max(0, d - q_1) moves. Every
    step is paid for the cell it ends on, so the first k - 1 steps pay 0 and the k-th and all later
    ones pay 10.
    """
    start = np.array(env.start)
    out = []
    for target in all_targets(env.dims, env.levels):
        moves = max(0, int(np.abs(np.array(target) - start).sum()) - env.thresholds[0])
        out.append(BULLSEYE_REWARD * max(0, env.max_steps - max(0, moves - 1)))
    return np.array(out)


def feature_target_env(dims: int, obs: str, reward_scale: float = 1.0) -> gym.Env[np.ndarray, Any]:
    """`AMRS-FeatureTarget-v0` as the thesis ran it.

    Its observation is scaled to [-1, 1] when A2C_SETTINGS says so.
    """
    env: gym.Env[np.ndarray, Any] = gym.make(
        "AMRS-FeatureTarget-v0",
        dims=dims,
        levels=LEVELS,
        obs=obs,
        reward="bullseye",
        percentiles=PERCENTILES,
    )
    if A2C_SETTINGS["scale_observation"]:
        env = ScaledObservation(env)
    if reward_scale != 1.0:
        env = gym.wrappers.TransformReward(env, lambda r: float(r) * reward_scale)
    return env


def evaluate_all_targets(
    make_env: Callable[[], gym.Env[np.ndarray, Any]],
    act: Callable[[np.ndarray], np.ndarray],
    dims: int,
    seed: int,
    reset_policy: Callable[[int], None] | None = None,
) -> np.ndarray:
    """One episode per target of the grid, all in lockstep; the undiscounted env reward of each.

    Args:
        make_env: Builds one env (its reward must be the env's own).
        act: Batch of observations (n_targets, ...) -> actions (n_targets,).
        dims: Features of the grid.
        seed: `reset(seed=...)` of every episode (the target is fixed, so it only seeds the env).
        reset_policy: Called with each episode's index at its reset (for stateful policies).

    Returns:
        (n_targets,) returns, in `all_targets` order.
    """
    targets = all_targets(dims)
    envs = [make_env() for _ in targets]
    observations = []
    for i, (env, target) in enumerate(zip(envs, targets, strict=True)):
        observations.append(env.reset(seed=seed, options={"target": target})[0])
        if reset_policy is not None:
            reset_policy(i)
    returns = np.zeros(len(targets))
    done = np.zeros(len(targets), dtype=bool)
    while not done.all():
        actions = act(np.stack(observations))
        for i, env in enumerate(envs):
            if done[i]:
                continue
            observations[i], reward, terminated, truncated, _ = env.step(int(actions[i]))
            returns[i] += float(reward)
            done[i] = terminated or truncated
    for env in envs:
        env.close()
    return returns


def rule_based_returns(dims: int, seed: int) -> np.ndarray:
    """`CoordinateSearchPolicy` on every target (raw GridObs, as the policy expects)."""

    def make() -> gym.Env[np.ndarray, Any]:
        return gym.make(
            "AMRS-FeatureTarget-v0",
            dims=dims,
            levels=LEVELS,
            obs="grid",
            reward="bullseye",
            percentiles=PERCENTILES,
        )

    policies = [CoordinateSearchPolicy(dims, LEVELS) for _ in all_targets(dims)]
    return evaluate_all_targets(
        make,
        lambda obs: np.array([p.act(o) for p, o in zip(policies, obs, strict=True)]),
        dims,
        seed,
        reset_policy=lambda i: policies[i].reset(),
    )


def run_one(config: str, timesteps: int, seed: int) -> dict[str, Any]:
    """Train A2C on random targets of one thesis configuration and score it on every target."""
    torch.set_num_threads(1)
    dims, obs = THESIS_CONFIGS[config]
    settings = A2C_SETTINGS
    venv = DummyVecEnv(
        [lambda: feature_target_env(dims, obs, settings["reward_scale"])] * settings["n_envs"]
    )
    model = A2C(
        "MlpPolicy",
        venv,
        n_steps=settings["n_steps"],
        learning_rate=settings["learning_rate"],
        gamma=settings["gamma"],
        ent_coef=settings["ent_coef"],
        seed=seed,
        device="cpu",
    )
    started = time.perf_counter()
    model.learn(timesteps, callback=TqdmProgress(timesteps, f"A2C {config} seed {seed}"))
    seconds = time.perf_counter() - started
    returns = evaluate_all_targets(
        lambda: feature_target_env(dims, obs),
        lambda o: model.predict(o, deterministic=True)[0],
        dims,
        seed,
    )
    venv.close()
    return {
        "seed": seed,
        "avg_reward": float(returns.mean()),
        "std": float(returns.std()),
        "min_reward": float(returns.min()),
        "targets_at_zero": int((returns == 0).sum()),
        "train_seconds": seconds,
        "timesteps": timesteps,
    }


def thesis(args: Args) -> dict[str, Any]:
    """Every A2C configuration over `a2c_seeds` seeds, the rule-based searcher and the ceiling."""
    report: dict[str, Any] = {}
    jobs = [
        (c, s)
        for c in THESIS_CONFIGS
        for s in range(args.seed, args.seed + args.budget("a2c_seeds"))
    ]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in THESIS_CONFIGS}
    for config, seed in tqdm(jobs, desc="thesis: A2C trainings"):
        runs[config].append(run_one(config, args.a2c_timesteps(config), seed))
    for config, per_seed in runs.items():
        dims, _ = THESIS_CONFIGS[config]
        report[config] = {
            # the mean over seeds of the average over targets, and of the std over targets (the
            # thesis's std)
            "avg_reward": float(np.mean([r["avg_reward"] for r in per_seed])),
            "std": float(np.mean([r["std"] for r in per_seed])),
            "avg_reward_std_across_seeds": float(np.std([r["avg_reward"] for r in per_seed])),
            "min_seed_avg_reward": float(min(r["avg_reward"] for r in per_seed)),
            "n_targets": LEVELS**dims,
            "max_reward": BULLSEYE_REWARD * 21,
            "timesteps": args.a2c_timesteps(config),
            "per_seed": per_seed,
        }
    for dims in (2, 3, 4):
        returns = rule_based_returns(dims, args.seed)
        report[f"rule_based_{dims}d"] = {
            "avg_reward": float(returns.mean()),
            "std": float(returns.std()),
            "n_targets": len(returns),
        }
        ceiling = ceiling_returns(
            FeatureTargetEnv(dims=dims, levels=LEVELS, percentiles=PERCENTILES)
        )
        report[f"ceiling_{dims}d"] = {
            "avg_reward": float(ceiling.mean()),
            "std": float(ceiling.std()),
            "n_targets": len(ceiling),
        }
    report["published"] = PUBLISHED["thesis"]
    report["budgets"] = {
        "a2c_timesteps": {c: args.a2c_timesteps(c) for c in THESIS_CONFIGS},
        "a2c_seeds": args.budget("a2c_seeds"),
        "a2c_settings": A2C_SETTINGS,
        "evaluation": "one deterministic episode per target of the grid (25, 125, 625 targets)",
    }
    return report
