"""Throughput: how many environment steps per second do the suite's envs give on this machine?

Measured in one run, so ratios are fair on a shared machine: the single world-model env,
the batched vector env (num_envs sessions per call), both again with the ensemble and
pessimism on (when the bundle has an ensemble), the reference-world env, and Gymnasium's
CartPole-v1 for scale. Random actions; resets included.

    python -m benchmarks.throughput --out results/throughput      # about 1 minute

Writes throughput.json, throughput.md and throughput.png into --out.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import amrs_gym
from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.reward import DEFAULT_PESSIMISM
from benchmarks._common import (
    EnvArgs,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)


@dataclass
class Args(EnvArgs):
    """Settings of the throughput benchmark."""

    out_dir: str = "results/throughput"
    """Where to write the outputs."""
    seconds: float | None = field(default=None, metadata={"min": 0.01})
    """Wall time per measurement (default 5; 1 with --quick)."""
    quick: bool = False
    """Shorter measurements (for tests); an explicit --seconds wins."""


def single_env_rate(env: gym.Env[Any, Any], seconds: float, seed: int) -> float:
    """Steps per second of one env under random actions, resets included."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - started)


def vector_env_rate(envs: gym.vector.VectorEnv, seconds: float, seed: int) -> float:
    """Sub-env steps per second of a vector env under random actions (autoreset included)."""
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    n = envs.num_envs
    high = envs.single_action_space.n  # type: ignore[attr-defined]
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        envs.step(rng.integers(0, high, n))
        calls += 1
    return calls * n / (time.perf_counter() - started)


def cold_start_seconds(code: str) -> float:
    """Wall time of `code` in a fresh interpreter, imports included (what a user waits for)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - started


def main(args: Args) -> dict[str, Any]:
    """Measure every env and write the outputs."""
    out = prepare_output_dir(args.out_dir)
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 5.0)
    mode = args.env_id.split("-")[1].lower()
    variants: dict[str, dict[str, Any]] = {"": {}}
    if len(defaults.bundle_or_shipped(args.bundle).members) > 1:
        variants["pessimistic_"] = {"pessimism": DEFAULT_PESSIMISM}
    results: dict[str, float] = {}
    for prefix, options in variants.items():
        results[f"{prefix}single_env_steps_per_s"] = single_env_rate(
            args.single_env(**options), seconds, args.seed
        )
        results[f"{prefix}vector_env_steps_per_s"] = vector_env_rate(
            args.vector_env(**options), seconds, args.seed
        )
    results["cartpole_steps_per_s"] = single_env_rate(gym.make("CartPole-v1"), seconds, args.seed)
    if defaults.bundle_or_shipped(args.bundle).has_truth:
        results["reference_env_steps_per_s"] = single_env_rate(
            amrs_gym.make_reference_env(mode, **args.env_kwargs()), seconds, args.seed
        )
    report: dict[str, Any] = {**results, "num_envs": args.num_envs, "env_id": args.env_id}
    report["make_seconds"] = cold_start_seconds(
        f"import gymnasium as gym, amrs_gym; gym.make({args.env_id!r}, **{args.env_kwargs()!r})"
    )
    report["checkpoint_load_seconds"] = cold_start_seconds(
        "from amrs_gym import defaults; "
        "from amrs_gym.world_model.checkpoint import read_checkpoint;"
        "read_checkpoint(defaults.CHECKPOINT_PATH, defaults.default_catalog())"
    )
    report["bar"] = {
        "single_env_at_least_1000": results["single_env_steps_per_s"] >= 1000,
        "vector_env_at_least_20000": results["vector_env_steps_per_s"] >= 20000,
        "make_under_3_s": report["make_seconds"] < 3.0,
        "checkpoint_load_under_2_s": report["checkpoint_load_seconds"] < 2.0,
    }
    if "pessimistic_single_env_steps_per_s" in results:
        report["bar"] |= {
            "pessimistic_single_env_at_least_1500": results["pessimistic_single_env_steps_per_s"]
            >= 1500,
            "pessimistic_vector_env_at_least_20000": results["pessimistic_vector_env_steps_per_s"]
            >= 20000,
        }
    report.update(provenance(args))
    rows = [[name.removesuffix("_steps_per_s"), f"{value:,.0f}"] for name, value in results.items()]
    markdown = (
        markdown_table(["env", "steps / s"], rows)
        + f"\n\nnum_envs = {args.num_envs}; `gym.make({args.env_id!r})` in a fresh interpreter:"
        + f" {report['make_seconds']:.2f} s;"
        f" checkpoint read: {report['checkpoint_load_seconds']:.2f} s."
        + f"\n\nCommand: `{report['command']}`"
    )
    write_outputs(out, "throughput", report, markdown)
    _plot(out, results)
    return report


def _plot(out: Path, results: dict[str, float]) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.5))
    names = [name.removesuffix("_steps_per_s") for name in results]
    axis.barh(names, list(results.values()))
    axis.set_xscale("log")
    axis.set(
        xlabel="environment steps per second (log scale)", title="Throughput on this machine (CPU)"
    )
    figure.tight_layout()
    save_figure(figure, out / "throughput.png", dpi=120)


if __name__ == "__main__":
    run(main, Args)
