"""Seeds: do the headline results of the three works this suite grew from reproduce in it?

- Thesis (A2C on simulated feature-target users): stable-baselines3 A2C (n-step 20) on
  `AMRS-FeatureTarget-v0` with WiderTopTarget users and the bullseye reward, GridObs in 2, 3 and
  4 features and BoardObs in 2, 5 levels each. Trained on random targets; scored on EVERY target
  of the grid, one deterministic episode each: the average and std over targets of the episode
  reward (out of 210). The thesis's Figure 22 reports 188 +- 8 for 2-D GridObs and predicted that
  a simple searcher would do as well: the rule-based `CoordinateSearchPolicy` plays the same
  targets, and the ceiling (an agent that knows the target and walks straight to it) is given too.
- Poster (DDPG on data-driven sessions): SB3 DDPG on `AMRS-SkipSession-v0`; tracks not skipped
  out of 15 per session (the poster: about 5/15), against the env's non-skip benchmark of
  similar states (`nonskip_baseline_score`) and a uniformly random policy (`random_score`), all
  three on the same starting sessions and seeds.
- MusicBox: diversity (distinct tracks / all recommendations) and skip rate of the DDPG policy
  against the logged policy (MusicBox: 9.3% vs 7.6% diversity, 49% vs 54% skip rate). The logged
  policy's figures come from the logged continuations of the very sessions the DDPG evaluation
  episodes started from (their tracks after the 5-track starting history), and the diversity of
  both is counted over the same number of recommendations per session (see `matched_diversity`).

Why A2C is not run with SB3's defaults: with them (learning rate 7e-4, raw observations and
rewards) 2-D GridObs A2C is slow, not broken: about 100/210 after 200k steps (3 seeds; the
deterministic policy still loops, scoring 0, on a third of the targets) and 176 after 1M. The
env never terminates (truncation is bootstrapped), so with gamma 0.99 the value of sitting on the
target is about 10 / (1 - 0.99) = 1000: the value loss (~3,000) dwarfs the policy loss, its
gradient is ~30x the policy's and SB3 clips their joint norm to 0.5, and the inputs (levels 0-4)
push the tanh units towards saturation. Measured at 200k steps, mean of 3 seeds: observation
scaled to [-1, 1] 114; reward x 0.1 alone 90; both 146; both with learning rate 2e-3 177 (and
180 on every seed at 400k); learning rate 2e-3 with only one of the two 157-164. gamma 0.9 (values
~100) with the scaled observation gave 148, but shortens the horizon, so gamma stays 0.99; in
single-seed tries gamma 0.95, advantage normalisation, ent_coef 0.01, 16 envs or a looser clip
(10) did no better. So
`A2C_SETTINGS` scales the observation and the reward and uses learning rate 2e-3; the episode
reward reported is always the env's own.

    python -m benchmarks.seeds --out results/seeds            # about 15 minutes on 2 shared cores
    python -m benchmarks.seeds --quick --out /tmp/seeds       # about 20 seconds

Writes seeds.json, seeds.md and seeds.png into --out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

with contextlib.suppress(ImportError), contextlib.redirect_stderr(io.StringIO()):
    import gym as _legacy_gym  # noqa: F401  (SB3 imports the unmaintained `gym` if installed, which prints a notice)
import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, DDPG
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm.auto import tqdm

import amrs_gym  # noqa: F401  (registers the env ids)
from agents.sb3_agents import TqdmProgress
from amrs_gym.envs.feature_target import (
    BULLSEYE_REWARD,
    CoordinateSearchPolicy,
    FeatureTargetEnv,
    PercentilePreset,
)
from amrs_gym.envs.skip_session import (
    LoggedPairs,
    SkipSessionEnv,
    StartHistories,
    nonskip_baseline_score,
    random_score,
)
from benchmarks.report import markdown_table, provenance, pyplot, save_figure, write_outputs

NAME = "seeds"
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
"""A2C hyper-parameters; SB3 defaults for the rest (RMSprop, gae_lambda 1, max_grad_norm 0.5, 64x64 nets)."""
DDPG_SETTINGS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "gamma": 0.9,
    "batch_size": 128,
    "learning_starts": 1000,
    "action_noise_sigma": 0.5,
    "net_arch": [64, 64],
}
"""DDPG hyper-parameters; SB3 defaults for the rest (tau 0.005, one gradient step per env step).

Small nets learn faster here: at 15-20k steps (seed 0) [64, 64] scored 11.2/15, [256, 256] 7.8 and
SB3's [400, 300] 8.7. Noise sigma 0.5 was steadier over seeds than 0.2 (11.3, 11.1, 10.8 against
11.2, 10.1, 11.2); gamma 0.5 did no better than 0.9.
"""
EVAL_SEED_OFFSET = 10_000
"""Evaluation episode i of the poster part starts with `reset(seed=seed + EVAL_SEED_OFFSET + i)`."""
QUICK_DATA: dict[str, int] = {"n_listeners": 300, "n_sessions": 1500}
"""Size of the logs behind the SkipSession env under --quick (the default logs take a while to build)."""

PUBLISHED: dict[str, Any] = {
    "thesis": {
        "source": "A2C thesis, Figure 22: WiderTopTarget, bullseye reward, n-step 20, 5 levels",
        "2d_grid": {"avg_reward": 188.0, "std": 8.0},
        "max_reward": 210.0,
        "claim": "a simple rule-based searcher would do as well as A2C",
    },
    "poster": {"source": "DDPG poster", "ddpg_score": 5.0, "out_of": 15},
    "musicbox": {
        "source": "MusicBox",
        "ddpg_diversity": 0.093,
        "logged_diversity": 0.076,
        "ddpg_skip_rate": 0.49,
        "logged_skip_rate": 0.54,
    },
}
"""The seeds' own numbers (only what they report; the thesis's board/3-D/4-D figures are not given here)."""


@dataclass
class Args:
    """Settings of the seeds benchmark."""

    out_dir: str = "results/seeds"
    """Where to write the outputs."""
    quick: bool = False
    """Far shorter training, fewer episodes and small logs (for tests)."""
    seed: int = 0
    """Seed of training, targets drawn while training, and the evaluation episodes."""
    a2c_seeds: int = 3
    """A2C trainings per thesis configuration (seeds seed, seed + 1, ...)."""
    a2c_timesteps_2d_grid: int = 300_000
    a2c_timesteps_2d_board: int = 300_000
    a2c_timesteps_3d_grid: int = 800_000
    a2c_timesteps_4d_grid: int = 800_000
    ddpg_seeds: int = 3
    """DDPG trainings (seeds seed, seed + 1, ...)."""
    ddpg_timesteps: int = 30_000
    """Env steps (tracks) per DDPG training: 2,000 sessions of 15."""
    eval_episodes: int = 300
    """Evaluation sessions of the poster/MusicBox part (per DDPG seed, and for each baseline)."""

    def quick_version(self) -> Args:
        """The --quick budgets."""
        return replace(
            self, a2c_seeds=1, a2c_timesteps_2d_grid=30_000, a2c_timesteps_2d_board=10_000,
            a2c_timesteps_3d_grid=10_000, a2c_timesteps_4d_grid=10_000, ddpg_seeds=1,
            ddpg_timesteps=1_500, eval_episodes=40,
        )  # fmt: skip

    def a2c_timesteps(self, config: str) -> int:
        """Training budget of one thesis configuration."""
        return int(getattr(self, f"a2c_timesteps_{config}"))


# --- pure helpers ------------------------------------------------------------------------------


def all_targets(dims: int, levels: int = LEVELS) -> list[tuple[int, ...]]:
    """Every cell of the grid {0..levels-1}^dims, in C order (the last feature varies fastest)."""
    return list(itertools.product(range(levels), repeat=dims))


def ceiling_returns(env: FeatureTargetEnv) -> np.ndarray:
    """Best possible bullseye return per target (in `all_targets` order), for an agent that knows it.

    Rating 4 holds within distance q_1 (`env.thresholds[0]`) of the target, so from the start at
    distance d the agent needs k = max(0, d - q_1) moves. Every step is paid for the cell it ends
    on, so the first k - 1 steps pay 0 and the k-th and all later ones pay 10.
    """
    start = np.array(env.start)
    out = []
    for target in all_targets(env.dims, env.levels):
        moves = max(0, int(np.abs(np.array(target) - start).sum()) - env.thresholds[0])
        out.append(BULLSEYE_REWARD * max(0, env.max_steps - max(0, moves - 1)))
    return np.array(out)


def distinct_share(sessions: Sequence[Sequence[int] | np.ndarray]) -> float:
    """Diversity as MusicBox counts it: distinct tracks / all recommendations, over all sessions."""
    if not len(sessions):
        return float("nan")
    tracks = np.concatenate([np.asarray(s, dtype=np.int64).ravel() for s in sessions])
    return float(len(np.unique(tracks)) / len(tracks)) if len(tracks) else float("nan")


def matched_diversity(
    policy_sessions: Sequence[Sequence[int] | np.ndarray], logged_sessions: Sequence[Sequence[int] | np.ndarray]
) -> tuple[float, float]:
    """Distinct shares of two policies over the same sessions, each session cut to the shorter of the two.

    The share of distinct tracks falls as recommendations pile up, so the two are compared over
    equal counts: session i keeps its first min(len(policy_i), len(logged_i)) tracks on both sides.

    Returns:
        (policy diversity, logged diversity).
    """
    if len(policy_sessions) != len(logged_sessions):
        raise ValueError("need the same number of sessions on both sides")
    lengths = [min(len(p), len(q)) for p, q in zip(policy_sessions, logged_sessions, strict=True)]
    return (
        distinct_share([list(p)[:n] for p, n in zip(policy_sessions, lengths, strict=True)]),
        distinct_share([list(q)[:n] for q, n in zip(logged_sessions, lengths, strict=True)]),
    )


def skip_rate(skipped: Sequence[Sequence[bool] | np.ndarray]) -> float:
    """Share of skipped recommendations over all sessions."""
    if not len(skipped):
        return float("nan")
    flat = np.concatenate([np.asarray(s, dtype=bool).ravel() for s in skipped])
    return float(np.mean(flat)) if len(flat) else float("nan")


def logged_continuations(
    logs: pd.DataFrame, session_ids: Sequence[int], skip_first: int, length: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Tracks and skips of logged sessions after their first `skip_first` tracks, at most `length` of them.

    Returns:
        (tracks, skipped), one array per entry of `session_ids` (repeats allowed).
    """
    ordered = logs.sort_values(["session_id", "position"], kind="stable")
    rank = ordered.groupby("session_id", sort=False).cumcount()
    part = ordered[(rank >= skip_first) & (rank < skip_first + length)]
    groups = {int(k): g for k, g in part.groupby("session_id", sort=False)}
    empty = part.iloc[:0]
    tracks, skipped = [], []
    for session in session_ids:
        rows = groups.get(int(session), empty)
        tracks.append(rows["track_id"].to_numpy(dtype=np.int64))
        skipped.append(rows["skipped"].to_numpy(dtype=bool))
    return tracks, skipped


def summary(values: Sequence[float]) -> dict[str, float]:
    """Mean and std of a list of per-seed values."""
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std())}


# --- the thesis --------------------------------------------------------------------------------


class ScaledObservation(gym.ObservationWrapper[np.ndarray, Any, np.ndarray]):
    """Map a bounded Box observation affinely onto [-1, 1] (low -> -1, high -> 1)."""

    def __init__(self, env: gym.Env[np.ndarray, Any]) -> None:
        """Read the bounds of `env.observation_space`, which must be finite."""
        super().__init__(env)
        box = env.observation_space
        if not isinstance(box, spaces.Box) or not (np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))):
            raise ValueError(f"ScaledObservation needs a bounded Box, got {box}")
        self._low = box.low.astype(np.float32)
        self._span = (box.high - box.low).astype(np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=box.shape, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """The observation in [-1, 1]."""
        return (2.0 * (observation - self._low) / self._span - 1.0).astype(np.float32)


def feature_target_env(dims: int, obs: str, reward_scale: float = 1.0) -> gym.Env[np.ndarray, Any]:
    """`AMRS-FeatureTarget-v0` as the thesis ran it, its observation scaled to [-1, 1] when A2C_SETTINGS says so."""
    env: gym.Env[np.ndarray, Any] = gym.make(
        "AMRS-FeatureTarget-v0", dims=dims, levels=LEVELS, obs=obs, reward="bullseye", percentiles=PERCENTILES
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
    make = lambda: gym.make(
        "AMRS-FeatureTarget-v0", dims=dims, levels=LEVELS, obs="grid", reward="bullseye", percentiles=PERCENTILES
    )
    policies = [CoordinateSearchPolicy(dims, LEVELS) for _ in all_targets(dims)]
    return evaluate_all_targets(
        make, lambda obs: np.array([p.act(o) for p, o in zip(policies, obs, strict=True)]), dims, seed,
        reset_policy=lambda i: policies[i].reset(),
    )  # fmt: skip


def run_one(config: str, timesteps: int, seed: int) -> dict[str, Any]:
    """Train A2C on random targets of one thesis configuration and score it on every target."""
    torch.set_num_threads(1)
    dims, obs = THESIS_CONFIGS[config]
    settings = A2C_SETTINGS
    venv = DummyVecEnv(
        [lambda: feature_target_env(dims, obs, settings["reward_scale"])] * settings["n_envs"]
    )
    model = A2C(
        "MlpPolicy", venv, n_steps=settings["n_steps"], learning_rate=settings["learning_rate"],
        gamma=settings["gamma"], ent_coef=settings["ent_coef"], seed=seed, device="cpu",
    )  # fmt: skip
    started = time.perf_counter()
    model.learn(timesteps, callback=TqdmProgress(timesteps, f"A2C {config} seed {seed}"))
    seconds = time.perf_counter() - started
    returns = evaluate_all_targets(
        lambda: feature_target_env(dims, obs), lambda o: model.predict(o, deterministic=True)[0], dims, seed
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
    jobs = [(c, s) for c in THESIS_CONFIGS for s in range(args.seed, args.seed + args.a2c_seeds)]
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in THESIS_CONFIGS}
    for config, seed in tqdm(jobs, desc="thesis: A2C trainings"):
        runs[config].append(run_one(config, args.a2c_timesteps(config), seed))
    for config, per_seed in runs.items():
        dims, _ = THESIS_CONFIGS[config]
        report[config] = {
            # the mean over seeds of the average over targets, and of the std over targets (the thesis's std)
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
        report[f"rule_based_{dims}d"] = {"avg_reward": float(returns.mean()), "std": float(returns.std()),
                                         "n_targets": len(returns)}
        ceiling = ceiling_returns(FeatureTargetEnv(dims=dims, levels=LEVELS, percentiles=PERCENTILES))
        report[f"ceiling_{dims}d"] = {"avg_reward": float(ceiling.mean()), "std": float(ceiling.std()),
                                      "n_targets": len(ceiling)}
    report["published"] = PUBLISHED["thesis"]
    report["budgets"] = {
        "a2c_timesteps": {c: args.a2c_timesteps(c) for c in THESIS_CONFIGS},
        "a2c_seeds": args.a2c_seeds,
        "a2c_settings": A2C_SETTINGS,
        "evaluation": "one deterministic episode per target of the grid (25, 125, 625 targets)",
    }
    return report


# --- the poster and MusicBox -------------------------------------------------------------------


@dataclass
class SessionData:
    """What the SkipSession env answers with, and the logged sessions its episodes start from."""

    pairs: LoggedPairs
    starts: StartHistories
    start_logs: pd.DataFrame
    """The logs `starts` was built from (their continuations are the logged policy's recommendations)."""
    source: str


def session_data(args: Args) -> SessionData:
    """The default env's memory and starts, or (--quick) those of small logs generated with `args.seed`."""
    if not args.quick:
        from amrs_gym import defaults
        from amrs_gym.envs.skip_session import default_logged_pairs, default_start_histories

        test = defaults.default_split().test
        return SessionData(default_logged_pairs(), default_start_histories(), test,
                           "default logs: training listeners' pairs, held-out listeners' sessions")
    from amrs_gym.data.generate import DatasetConfig
    from amrs_gym.data.splits import split_by_listener

    dataset = DatasetConfig(
        seed=args.seed, n_listeners=QUICK_DATA["n_listeners"], n_sessions=QUICK_DATA["n_sessions"]
    ).create()
    split = split_by_listener(dataset.logs, seed=args.seed)
    return SessionData(
        LoggedPairs.from_logs(split.train, dataset.catalog), StartHistories.from_logs(split.test), split.test,
        f"quick logs ({QUICK_DATA}): training listeners' pairs, held-out listeners' sessions",
    )


def skip_env(data: SessionData) -> gym.Env[np.ndarray, np.ndarray]:
    """`AMRS-SkipSession-v0` over `data`."""
    return gym.make("AMRS-SkipSession-v0", logs=data.pairs, start_logs=data.starts)


def start_session(seed: int, n_sessions: int) -> int:
    """Index of the starting session `SkipSessionEnv.reset(seed=seed)` draws (its first `np_random` draw)."""
    rng, _ = gym.utils.seeding.np_random(seed)
    return int(rng.integers(n_sessions))


def play_episodes(
    env: gym.Env[np.ndarray, np.ndarray], act: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int,
    description: str,
) -> dict[str, Any]:  # fmt: skip
    """Episodes i = 0.. with `reset(seed=seed + i)`; per episode the tracks, skips, score and start session."""
    base: SkipSessionEnv = env.unwrapped  # type: ignore[assignment]
    tracks, skipped, scores, sessions = [], [], [], []
    for i in tqdm(range(episodes), desc=description, leave=False):
        observation, _ = env.reset(seed=seed + i)
        session = start_session(seed + i, len(base.starts))
        first = base.starts.track_ids[session]
        assert set(first[first >= 0].tolist()) == set(base.played_track_ids.tolist()), "start session mismatch"
        episode_tracks, episode_skips, score, done = [], [], 0.0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(act(observation))
            episode_tracks.append(int(info["track_id"]))
            episode_skips.append(bool(info["skipped"]))
            score += float(reward)
            done = terminated or truncated
        tracks.append(np.array(episode_tracks))
        skipped.append(np.array(episode_skips))
        scores.append(score)
        sessions.append(int(base.starts.session_ids[session]))
    return {"tracks": tracks, "skipped": skipped, "scores": np.array(scores), "session_ids": sessions}


def train_ddpg(data: SessionData, timesteps: int, seed: int) -> tuple[DDPG, float]:
    """DDPG on the SkipSession env, `timesteps` tracks."""
    torch.set_num_threads(1)
    settings = DDPG_SETTINGS
    env = skip_env(data)
    dim = int(np.prod(env.action_space.shape or (1,)))
    model = DDPG(
        "MlpPolicy", env, learning_rate=settings["learning_rate"], gamma=settings["gamma"],
        batch_size=settings["batch_size"], learning_starts=min(settings["learning_starts"], timesteps // 2),
        action_noise=NormalActionNoise(np.zeros(dim), settings["action_noise_sigma"] * np.ones(dim)),
        policy_kwargs={"net_arch": settings["net_arch"]}, seed=seed, device="cpu",
    )  # fmt: skip
    started = time.perf_counter()
    model.learn(timesteps, callback=TqdmProgress(timesteps, f"DDPG seed {seed}"))
    return model, time.perf_counter() - started


def _deterministic(model: DDPG) -> Callable[[np.ndarray], np.ndarray]:
    """The policy's deterministic action for one observation."""

    def act(observation: np.ndarray) -> np.ndarray:
        action: np.ndarray = model.predict(observation, deterministic=True)[0]
        return action

    return act


def poster_and_musicbox(args: Args) -> tuple[dict[str, Any], dict[str, Any], dict[int, np.ndarray]]:
    """DDPG over `ddpg_seeds` seeds against the non-skip benchmark and random; MusicBox's two figures."""
    data = session_data(args)
    env = skip_env(data)
    base: SkipSessionEnv = env.unwrapped  # type: ignore[assignment]
    eval_seed = args.seed + EVAL_SEED_OFFSET
    per_seed: list[dict[str, Any]] = []
    curves: dict[int, np.ndarray] = {}
    for seed in tqdm(range(args.seed, args.seed + args.ddpg_seeds), desc="poster: DDPG trainings"):
        model, seconds = train_ddpg(data, args.ddpg_timesteps, seed)
        played = play_episodes(
            env, _deterministic(model), args.eval_episodes, eval_seed,
            f"DDPG seed {seed}: evaluation",
        )  # fmt: skip
        logged_tracks, logged_skips = logged_continuations(
            data.start_logs, played["session_ids"], base.history_length, base.max_steps
        )
        ddpg_diversity, logged_diversity = matched_diversity(played["tracks"], logged_tracks)
        per_seed.append({
            "seed": seed, "ddpg_score": float(played["scores"].mean()),
            "ddpg_score_std": float(played["scores"].std()),
            "ddpg_diversity": ddpg_diversity, "logged_diversity": logged_diversity,
            "ddpg_diversity_all_steps": distinct_share(played["tracks"]),
            "ddpg_skip_rate": skip_rate(played["skipped"]), "logged_skip_rate": skip_rate(logged_skips),
            "train_seconds": seconds,
        })  # fmt: skip
        curves[seed] = played["scores"]
    started = time.perf_counter()
    nonskip = nonskip_baseline_score(env, episodes=args.eval_episodes, seed=eval_seed)
    random = random_score(env, episodes=args.eval_episodes, seed=eval_seed)
    baseline_seconds = time.perf_counter() - started
    mean = lambda key: float(np.mean([r[key] for r in per_seed]))
    budgets = {
        "ddpg_timesteps": args.ddpg_timesteps, "ddpg_seeds": args.ddpg_seeds,
        "ddpg_settings": DDPG_SETTINGS, "eval_episodes": args.eval_episodes,
        "eval_seeds": f"episode i starts with reset(seed={eval_seed} + i) for DDPG, the non-skip benchmark and random",
        "data": data.source, "baseline_seconds": baseline_seconds,
    }  # fmt: skip
    poster = {
        "ddpg_score": mean("ddpg_score"),
        "nonskip_baseline": float(nonskip),
        "random_score": float(random),
        "ddpg_score_std_across_seeds": float(np.std([r["ddpg_score"] for r in per_seed])),
        "max_score": base.max_steps,
        "per_seed": [{k: r[k] for k in ("seed", "ddpg_score", "ddpg_score_std", "train_seconds")} for r in per_seed],
        "published": PUBLISHED["poster"],
        "budgets": budgets,
    }
    musicbox = {
        "ddpg_diversity": mean("ddpg_diversity"),
        "logged_diversity": mean("logged_diversity"),
        "ddpg_skip_rate": mean("ddpg_skip_rate"),
        "logged_skip_rate": mean("logged_skip_rate"),
        "ddpg_diversity_all_steps": mean("ddpg_diversity_all_steps"),
        "n_tracks": base.catalog.n_tracks,
        "per_seed": [
            {k: r[k] for k in ("seed", "ddpg_diversity", "logged_diversity", "ddpg_skip_rate", "logged_skip_rate")}
            for r in per_seed
        ],
        "how": (
            "diversity = distinct tracks / recommendations over the evaluation sessions; the logged policy's "
            "recommendations are the logged tracks after the 5-track starting history of the same sessions, "
            "and both sides count the same number of recommendations per session"
        ),
        "published": PUBLISHED["musicbox"],
    }
    return poster, musicbox, curves


# --- outputs -----------------------------------------------------------------------------------


def main(args: Args) -> dict[str, Any]:
    """Run the three reproductions and write seeds.json, seeds.md and seeds.png."""
    torch.set_num_threads(1)
    if args.quick:
        args = args.quick_version()
    out = Path(args.out_dir)
    started = time.perf_counter()
    thesis_report = thesis(args)
    poster, musicbox, curves = poster_and_musicbox(args)
    report: dict[str, Any] = {
        "thesis": thesis_report,
        "poster": poster,
        "musicbox": musicbox,
        "quick": bool(args.quick),
        "wall_seconds": time.perf_counter() - started,
    }
    report["bar"] = {
        "thesis_2d_grid_a2c_at_least_150": report["thesis"]["2d_grid"]["avg_reward"] >= 150,
        "poster_ddpg_above_nonskip_baseline": poster["ddpg_score"] > poster["nonskip_baseline"],
        "poster_ddpg_above_random": poster["ddpg_score"] > poster["random_score"],
    }
    report.update(provenance(args))
    write_outputs(out, NAME, report, _markdown(report))
    _plots(out / f"{NAME}.png", report, curves)
    return report


def _markdown(report: dict[str, Any]) -> str:
    thesis_report, poster, musicbox = report["thesis"], report["poster"], report["musicbox"]
    published = PUBLISHED["thesis"]["2d_grid"]
    rows = []
    for config in THESIS_CONFIGS:
        entry = thesis_report[config]
        given = published if config == "2d_grid" else None
        rows.append([
            f"A2C {config}", entry["avg_reward"], entry["std"], given["avg_reward"] if given else "-",
            given["std"] if given else "-", entry["n_targets"], entry["timesteps"], len(entry["per_seed"]),
            ", ".join(f"{r['avg_reward']:.1f}" for r in entry["per_seed"]),
        ])  # fmt: skip
    for dims in (2, 3, 4):
        for kind in ("rule_based", "ceiling"):
            entry = thesis_report[f"{kind}_{dims}d"]
            rows.append([f"{kind} {dims}d", entry["avg_reward"], entry["std"], "-", "-", entry["n_targets"],
                         "-", "-", "-"])  # fmt: skip
    parts = [
        "# Seeds: the three earlier works, reproduced",
        "",
        *(["Quick run: training budgets far below the default; not the figures to quote.", ""] if report["quick"] else []),
        "## Thesis: A2C, WiderTopTarget users, bullseye reward (max 210)",
        "",
        (
            "Average and std over every target of the grid (one deterministic episode each); "
            "with several seeds, the means over seeds. `ceiling` knows the target and walks straight to it."
        ),
        "",
        markdown_table(
            ["agent", "avg", "std", "published avg", "published std", "targets", "timesteps", "seeds",
             "per-seed avg"],
            rows,
        ),
        "",
        "## Poster: DDPG on SkipSession (tracks not skipped, out of 15)",
        "",
        markdown_table(
            ["policy", "ours", "published"],
            [
                ["DDPG", poster["ddpg_score"], PUBLISHED["poster"]["ddpg_score"]],
                ["non-skip benchmark of similar states", poster["nonskip_baseline"], "-"],
                ["random", poster["random_score"], "-"],
            ],
        ),
        "",
        f"{poster['budgets']['eval_episodes']} evaluation sessions; DDPG: {poster['budgets']['ddpg_seeds']} seed(s) "
        f"of {poster['budgets']['ddpg_timesteps']} steps, per seed "
        + ", ".join(f"{r['ddpg_score']:.2f}" for r in poster["per_seed"]) + ".",
        "",
        "## MusicBox: diversity and skip rate, DDPG vs the logged policy",
        "",
        markdown_table(
            ["figure", "DDPG (ours)", "logged (ours)", "DDPG (published)", "logged (published)"],
            [
                ["diversity", musicbox["ddpg_diversity"], musicbox["logged_diversity"],
                 PUBLISHED["musicbox"]["ddpg_diversity"], PUBLISHED["musicbox"]["logged_diversity"]],
                ["skip rate", musicbox["ddpg_skip_rate"], musicbox["logged_skip_rate"],
                 PUBLISHED["musicbox"]["ddpg_skip_rate"], PUBLISHED["musicbox"]["logged_skip_rate"]],
            ],
        ),
        "",
        musicbox["how"] + f"; catalog of {musicbox['n_tracks']} tracks.",
        "",
        "## Bars",
        "",
        markdown_table(["bar", "holds"], [[k, v] for k, v in report["bar"].items()]),
        "",
        f"Wall time: {report['wall_seconds'] / 60:.1f} min. Command: `{report['command']}`",
    ]
    return "\n".join(parts)


def _plots(path: Path, report: dict[str, Any], curves: dict[int, np.ndarray]) -> None:
    plt = pyplot()

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    thesis_report = report["thesis"]
    names = [*THESIS_CONFIGS, "rule_based_2d", "ceiling_2d", "rule_based_3d", "rule_based_4d"]
    values = [thesis_report[n]["avg_reward"] for n in names]
    errors = [thesis_report[n]["std"] for n in names]
    colours = ["tab:blue"] * len(THESIS_CONFIGS) + ["tab:grey"] * 4
    axis = axes[0]
    axis.bar(range(len(names)), values, yerr=errors, color=colours, capsize=3)
    axis.axhline(PUBLISHED["thesis"]["2d_grid"]["avg_reward"], color="tab:red", linestyle="--",
                 label="thesis, 2-D GridObs (188)")
    axis.axhline(150, color="black", linestyle=":", label="bar (150)")
    axis.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axis.set(ylabel="episode reward (mean +- std over targets)", ylim=(0, 215), title="Thesis: A2C vs rule-based")
    axis.legend(loc="lower left", fontsize=8)

    poster = report["poster"]
    axis = axes[1]
    labels = ["DDPG", "non-skip\nbenchmark", "random"]
    axis.bar(labels, [poster["ddpg_score"], poster["nonskip_baseline"], poster["random_score"]],
             color=["tab:blue", "tab:grey", "tab:grey"])
    axis.scatter([0] * len(curves), [scores.mean() for scores in curves.values()], color="black", s=12,
                 zorder=3, label="DDPG, per seed")
    axis.axhline(PUBLISHED["poster"]["ddpg_score"], color="tab:red", linestyle="--", label="poster's DDPG (5)")
    axis.set(ylabel="tracks not skipped per session", ylim=(0, 15), title="Poster: SkipSession")
    axis.legend(fontsize=8)

    musicbox = report["musicbox"]
    axis = axes[2]
    x = np.arange(2)
    published = PUBLISHED["musicbox"]
    axis.bar(x - 0.3, [musicbox["ddpg_diversity"], musicbox["ddpg_skip_rate"]], 0.2, label="DDPG (ours)",
             color="tab:blue")
    axis.bar(x - 0.1, [musicbox["logged_diversity"], musicbox["logged_skip_rate"]], 0.2, label="logged (ours)",
             color="tab:grey")
    axis.bar(x + 0.1, [published["ddpg_diversity"], published["ddpg_skip_rate"]], 0.2,
             label="DDPG (MusicBox)", color="tab:cyan")
    axis.bar(x + 0.3, [published["logged_diversity"], published["logged_skip_rate"]], 0.2,
             label="logged (MusicBox)", color="silver")
    axis.set_xticks(x, ["diversity", "skip rate"])
    axis.set(ylim=(0, 1), title="MusicBox: DDPG vs logged policy")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def parse_args(argv: list[str] | None = None) -> Args:
    """Command-line arguments into Args."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", dest="out_dir", default=Args.out_dir)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=Args.seed)
    parser.add_argument("--a2c-seeds", type=int, default=Args.a2c_seeds)
    for config in THESIS_CONFIGS:
        name = f"a2c_timesteps_{config}"
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=int, default=getattr(Args, name))
    parser.add_argument("--ddpg-seeds", type=int, default=Args.ddpg_seeds)
    parser.add_argument("--ddpg-timesteps", type=int, default=Args.ddpg_timesteps)
    parser.add_argument("--eval-episodes", type=int, default=Args.eval_episodes)
    return Args(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main(parse_args())
