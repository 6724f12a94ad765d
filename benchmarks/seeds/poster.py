"""The poster's and MusicBox's reproductions.

SB3 DDPG on `AMRS-SkipSession-v0` against the non-skip benchmark of similar states and random, and
MusicBox's diversity and skip rate of DDPG against the logged policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import torch
from stable_baselines3 import DDPG
from stable_baselines3.common.noise import NormalActionNoise
from tqdm.auto import tqdm

import amrs_gym  # noqa: F401  (registers the env ids)
from agents.adapters.sb3 import TqdmProgress
from amrs_gym.envs.skip_session import LoggedPairs, SkipSessionEnv, StartHistories
from amrs_gym.metrics import distinct_share, matched_diversity, skip_rate
from benchmarks.seeds import PUBLISHED, Args
from benchmarks.seeds.baselines import nonskip_baseline_score, random_score

DDPG_SETTINGS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "gamma": 0.9,
    "batch_size": 128,
    "learning_starts": 1000,
    "action_noise_sigma": 0.5,
    "net_arch": [64, 64],
}
"""DDPG hyper-parameters (chosen in benchmarks/NOTES.md); SB3 defaults for the rest (tau 0.005, one
gradient step per env step)."""
EVAL_SEED_OFFSET = 10_000
"""Evaluation episode i of the poster part starts with `reset(seed=seed + EVAL_SEED_OFFSET + i)`."""
QUICK_DATA: dict[str, int] = {"n_listeners": 300, "n_sessions": 1500}
"""Size of the logs behind the SkipSession env under --quick (the default logs take a while to
build)."""


def logged_continuations(
    logs: pd.DataFrame, session_ids: Sequence[int], skip_first: int, length: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Tracks and skips of logged sessions after their first `skip_first` tracks.

    At most `length` of them per session.

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


@dataclass
class SessionData:
    """What the SkipSession env answers with, and the logged sessions its episodes start from."""

    pairs: LoggedPairs
    starts: StartHistories
    start_logs: pd.DataFrame
    """The logs `starts` was built from (their continuations are the logged policy's
    recommendations)."""
    source: str


def session_data(args: Args) -> SessionData:
    """The default env's memory and starts.

    Or (--quick) those of small logs generated with `args.seed`.
    """
    if not args.quick:
        from amrs_gym import defaults
        from amrs_gym.envs.skip_session import default_logged_pairs, default_start_histories

        test = defaults.default_split().test
        return SessionData(
            default_logged_pairs(),
            default_start_histories(),
            test,
            "default logs: training listeners' pairs, held-out listeners' sessions",
        )
    from amrs_gym.data.generate import DatasetConfig
    from amrs_gym.data.splits import split_by_listener

    dataset = DatasetConfig(
        seed=args.seed, n_listeners=QUICK_DATA["n_listeners"], n_sessions=QUICK_DATA["n_sessions"]
    ).create()
    split = split_by_listener(dataset.logs, seed=args.seed)
    return SessionData(
        LoggedPairs.from_logs(split.train, dataset.catalog),
        StartHistories.from_logs(split.test),
        split.test,
        f"quick logs ({QUICK_DATA}): training listeners' pairs, held-out listeners' sessions",
    )


def skip_env(data: SessionData) -> gym.Env[np.ndarray, np.ndarray]:
    """`AMRS-SkipSession-v0` over `data`."""
    return gym.make("AMRS-SkipSession-v0", logs=data.pairs, start_logs=data.starts)


def play_episodes(
    env: gym.Env[np.ndarray, np.ndarray],
    act: Callable[[np.ndarray], np.ndarray],
    episodes: int,
    seed: int,
    description: str,
) -> dict[str, Any]:
    """Play `episodes` episodes, episode i from `reset(seed=seed + i)`.

    Returns, per episode, the tracks, skips, score and the logged session it started from.
    """
    base: SkipSessionEnv = env.unwrapped  # type: ignore[assignment]
    tracks, skipped, scores, sessions = [], [], [], []
    for i in tqdm(range(episodes), desc=description, leave=False):
        observation, info = env.reset(seed=seed + i)
        session = int(info["start_session"])
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
    return {
        "tracks": tracks,
        "skipped": skipped,
        "scores": np.array(scores),
        "session_ids": sessions,
    }


def train_ddpg(data: SessionData, timesteps: int, seed: int) -> tuple[DDPG, float]:
    """DDPG on the SkipSession env, `timesteps` tracks."""
    torch.set_num_threads(1)
    settings = DDPG_SETTINGS
    env = skip_env(data)
    dim = int(np.prod(env.action_space.shape or (1,)))
    model = DDPG(
        "MlpPolicy",
        env,
        learning_rate=settings["learning_rate"],
        gamma=settings["gamma"],
        batch_size=settings["batch_size"],
        learning_starts=min(settings["learning_starts"], timesteps // 2),
        action_noise=NormalActionNoise(
            np.zeros(dim), settings["action_noise_sigma"] * np.ones(dim)
        ),
        policy_kwargs={"net_arch": settings["net_arch"]},
        seed=seed,
        device="cpu",
    )
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
    """DDPG over `ddpg_seeds` seeds against the non-skip benchmark and random.

    Also MusicBox's two figures.
    """
    data = session_data(args)
    env = skip_env(data)
    base: SkipSessionEnv = env.unwrapped  # type: ignore[assignment]
    eval_seed = args.seed + EVAL_SEED_OFFSET
    per_seed: list[dict[str, Any]] = []
    curves: dict[int, np.ndarray] = {}
    for seed in tqdm(
        range(args.seed, args.seed + args.budget("ddpg_seeds")), desc="poster: DDPG trainings"
    ):
        model, seconds = train_ddpg(data, args.budget("ddpg_timesteps"), seed)
        played = play_episodes(
            env,
            _deterministic(model),
            args.budget("eval_episodes"),
            eval_seed,
            f"DDPG seed {seed}: evaluation",
        )
        logged_tracks, logged_skips = logged_continuations(
            data.start_logs, played["session_ids"], base.history_length, base.max_steps
        )
        ddpg_diversity, logged_diversity = matched_diversity(played["tracks"], logged_tracks)
        per_seed.append(
            {
                "seed": seed,
                "ddpg_score": float(played["scores"].mean()),
                "ddpg_score_std": float(played["scores"].std()),
                "ddpg_diversity": ddpg_diversity,
                "logged_diversity": logged_diversity,
                "ddpg_diversity_all_steps": distinct_share(played["tracks"]),
                "ddpg_skip_rate": skip_rate(played["skipped"]),
                "logged_skip_rate": skip_rate(logged_skips),
                "train_seconds": seconds,
            }
        )
        curves[seed] = played["scores"]
    started = time.perf_counter()
    nonskip = nonskip_baseline_score(env, episodes=args.budget("eval_episodes"), seed=eval_seed)
    random = random_score(env, episodes=args.budget("eval_episodes"), seed=eval_seed)
    baseline_seconds = time.perf_counter() - started

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in per_seed]))

    budgets = {
        "ddpg_timesteps": args.budget("ddpg_timesteps"),
        "ddpg_seeds": args.budget("ddpg_seeds"),
        "ddpg_settings": DDPG_SETTINGS,
        "eval_episodes": args.budget("eval_episodes"),
        "eval_seeds": f"episode i starts with reset(seed={eval_seed} + i) "
        "for DDPG, the non-skip benchmark and random",
        "data": data.source,
        "baseline_seconds": baseline_seconds,
    }
    poster = {
        "ddpg_score": mean("ddpg_score"),
        "nonskip_baseline": float(nonskip),
        "random_score": float(random),
        "ddpg_score_std_across_seeds": float(np.std([r["ddpg_score"] for r in per_seed])),
        "max_score": base.max_steps,
        "per_seed": [
            {k: r[k] for k in ("seed", "ddpg_score", "ddpg_score_std", "train_seconds")}
            for r in per_seed
        ],
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
            {
                k: r[k]
                for k in (
                    "seed",
                    "ddpg_diversity",
                    "logged_diversity",
                    "ddpg_skip_rate",
                    "logged_skip_rate",
                )
            }
            for r in per_seed
        ],
        "how": (
            "diversity = distinct tracks / recommendations over the evaluation sessions; "
            "the logged policy's "
            "recommendations are the logged tracks after the 5-track starting history "
            "of the same sessions, "
            "and both sides count the same number of recommendations per session"
        ),
        "published": PUBLISHED["musicbox"],
    }
    return poster, musicbox, curves
