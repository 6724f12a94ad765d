"""Soak: do the envs keep their speed and memory flat over a million steps?

A million sub-env steps of the batched vector env and a long run of the single env, under random
actions with every autoreset and reset included; the process's resident memory and the step rate
are sampled as they go. A leak or a cache that grows with episodes shows as a rising memory line.

    # 1,000,000 vector-env and 100,000 single-env steps
    python -m benchmarks.soak --out results/soak
    # 20,000 + 2,000 steps, for tests
    python -m benchmarks.soak --quick --out /tmp/soak

Writes soak.json (samples and summary), soak.md and soak.png into --out.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import amrs_gym  # noqa: F401  (registers the env ids)
from amrs_gym.io import prepare_output_dir
from benchmarks._common import (
    EnvArgs,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)

NAME = "soak"


def resident_mb() -> float:
    """The process's resident memory now, in MiB (Linux /proc; the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Args(EnvArgs):
    """Settings of the soak benchmark."""

    out_dir: str = "results/soak"
    """Where the outputs go."""
    vector_steps: int | None = field(default=None, metadata={"min": 1})
    """Sub-env steps of the vector env (default 1,000,000; 20,000 with --quick)."""
    single_steps: int | None = field(default=None, metadata={"min": 1})
    """Steps of the single env (default 100,000; 2,000 with --quick)."""
    samples: int = field(default=40, metadata={"min": 2})
    """Memory and speed samples per run."""
    quick: bool = False
    """20,000 vector and 2,000 single steps (for tests); explicit step counts win."""


def soak_vector(args: Args, steps: int) -> list[dict[str, float]]:
    """Step the vector env for `steps` sub-env steps; a sample every steps / samples."""
    envs = args.vector_env()
    envs.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    calls = max(1, steps // args.num_envs)
    every = max(1, calls // args.samples)
    high = int(envs.single_action_space.n)  # type: ignore[attr-defined]  # a Discrete space

    def step() -> None:
        envs.step(rng.integers(0, high, args.num_envs))

    return _loop(calls, every, args.num_envs, step)


def soak_single(args: Args, steps: int) -> list[dict[str, float]]:
    """Step one env for `steps` steps, resetting at each episode's end."""
    env = args.single_env()
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)

    def step() -> None:
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()

    return _loop(steps, max(1, steps // args.samples), 1, step)


def _loop(calls: int, every: int, per_call: int, step: Any) -> list[dict[str, float]]:
    """Call `step` `calls` times (`per_call` env steps each), sampling memory and speed."""
    samples = [{"steps": 0.0, "seconds": 0.0, "resident_mb": resident_mb(), "steps_per_s": 0.0}]
    started = last = time.perf_counter()
    for call in range(1, calls + 1):
        step()
        if call % every == 0 or call == calls:
            now = time.perf_counter()
            steps = float(call * per_call)
            rate = (steps - samples[-1]["steps"]) / max(now - last, 1e-9)
            samples.append(
                {
                    "steps": steps,
                    "seconds": now - started,
                    "resident_mb": resident_mb(),
                    "steps_per_s": rate,
                }
            )
            last = now
    return samples


def summarise(samples: list[dict[str, float]]) -> dict[str, float]:
    """Memory after warm-up (the first quarter of the run) and at the end, and the step rates."""
    later = samples[max(1, len(samples) // 4) :]
    rates = [s["steps_per_s"] for s in samples[1:]]
    return {
        "steps": samples[-1]["steps"],
        "seconds": samples[-1]["seconds"],
        "resident_mb_after_warmup": later[0]["resident_mb"],
        "resident_mb_end": samples[-1]["resident_mb"],
        "resident_mb_growth": samples[-1]["resident_mb"] - later[0]["resident_mb"],
        "steps_per_s_first_window": rates[0],
        "steps_per_s_last_window": rates[-1],
        "steps_per_s_mean": samples[-1]["steps"] / max(samples[-1]["seconds"], 1e-9),
    }


def main(args: Args) -> dict[str, Any]:
    """Soak both envs and write the outputs."""
    out = prepare_output_dir(args.out_dir)
    vector_steps, single_steps = (
        args.vector_steps or (20_000 if args.quick else 1_000_000),
        args.single_steps or (2_000 if args.quick else 100_000),
    )
    runs = {"vector": soak_vector(args, vector_steps), "single": soak_single(args, single_steps)}
    summary = {name: summarise(samples) for name, samples in runs.items()}
    report: dict[str, Any] = {"summary": summary, "samples": runs, **provenance(args)}
    report["bar"] = {
        f"{name}_memory_flat_within_5pct": s["resident_mb_growth"]
        <= 0.05 * s["resident_mb_after_warmup"]
        for name, s in summary.items()
    }
    rows = [
        [
            name,
            f"{s['steps']:,.0f}",
            f"{s['steps_per_s_mean']:,.0f}",
            f"{s['steps_per_s_last_window']:,.0f}",
            f"{s['resident_mb_after_warmup']:.0f}",
            f"{s['resident_mb_end']:.0f}",
            f"{s['resident_mb_growth']:+.1f}",
        ]
        for name, s in summary.items()
    ]
    markdown = "\n".join(
        [
            f"Soak of `{args.env_id}` ({args.num_envs} sessions per vector call), random actions:",
            "",
            markdown_table(
                [
                    "env",
                    "steps",
                    "steps / s",
                    "steps / s (last window)",
                    "MiB after warm-up",
                    "MiB at the end",
                    "growth (MiB)",
                ],
                rows,
            ),
            "",
            f"Command: `{report['command']}`",
        ]
    )
    write_outputs(out, NAME, report, markdown)
    _plot(runs, out / f"{NAME}.png")
    return report


def _plot(runs: dict[str, list[dict[str, float]]], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(2, 2, figsize=(10, 6), sharex="col")
    for column, (name, samples) in enumerate(runs.items()):
        steps = [s["steps"] for s in samples]
        axes[0][column].plot(steps, [s["resident_mb"] for s in samples], marker=".")
        axes[0][column].set(title=f"{name} env", ylabel="resident memory (MiB)")
        axes[1][column].plot(steps[1:], [s["steps_per_s"] for s in samples[1:]], marker=".")
        axes[1][column].set(xlabel="environment steps", ylabel="steps per second (window)")
    figure.tight_layout()
    save_figure(figure, path)


if __name__ == "__main__":
    run(main, Args)
