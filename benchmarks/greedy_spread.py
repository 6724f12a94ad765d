"""Greedy's spread: does one-step optimisation collapse onto a few tracks?

In the world model, and in the truth.

The leaderboard's greedy (argmax over the catalog of the world model's one-step utility) was
expected to collapse onto a few tracks (bar: its catalog coverage at most 30% of BC's). This
benchmark puts its coverage beside the same search over the reference world's own expected
one-step utility from the listener's latent state (`GreedyConfig(scorer="reference")`: the
truth's one-step optimum, which no observer can compute), in the shipped reference world and in
worlds with one part of the listeners' response switched off, to see what spreads the one-step
optimum over the catalog:

- `shipped`: the reference world that produced the logs;
- `no_taste`: no personal taste (`taste_weight` 0: every listener ranks tracks alike, up to
  their current affect);
- `no_taste_no_fatigue`: also no fatigue from repeats or from tracks like the last three.

Every policy plays the leaderboard's held-out starts with the leaderboard's seeds; BC is read from
(or trained into) the same agent cache. Coverage is also reported for the first n episodes, to
show whether a policy keeps finding new tracks as more listeners arrive (a collapsed one does not).

    # 1000 episodes; about 10 min
    python -m benchmarks.greedy_spread --out results/greedy_spread
    # 100 episodes, quick BC
    python -m benchmarks.greedy_spread --quick --out /tmp/greedy_spread

Writes greedy_spread.json ({MODE: {WORLD: {POLICY: metrics}}}), greedy_spread.md and
greedy_spread.png (coverage against episodes) into --out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.cache import train_or_load
from agents.data import TrainingData
from agents.evaluation import rollout
from agents.greedy import GreedyAgent, GreedyConfig
from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES
from amrs_gym.reference_world import ReferenceWorld
from amrs_gym.simulator import SessionConfig
from benchmarks._common import (
    check_fields,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)
from benchmarks.zoo import map_modes

NAME = "greedy_spread"
WORLDS: dict[str, dict[str, float]] = {
    "shipped": {},
    "no_taste": {"taste_weight": 0.0},
    "no_taste_no_fatigue": {"taste_weight": 0.0, "repeat_penalty": 0.0, "sameness_penalty": 0.0},
}
"""World variants: WorldConfig fields set to switch a part of the listeners' response off."""
POLICIES = ("bc", "greedy", "greedy_truth")
"""BC (the bar's comparator), greedy on the world model, greedy on the reference world's expected
utility."""
METRICS = (
    "utility_mean",
    "utility_ci95",
    "coverage",
    "ild",
    "top10_share",
    "effective_tracks",
    "repeat_rate",
)


@dataclass
class Args:
    """Settings of the greedy-spread benchmark."""

    out_dir: str = "results/greedy_spread"
    """Where the outputs go."""
    cache_dir: str = "results/agents"
    """BC is read from (or written to) here, shared with the leaderboard."""
    quick: bool = False
    """Quick BC and 100 episodes (tests)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of BC's training and of the episodes (the leaderboard's, by default)."""
    episodes: int | None = field(default=None, metadata={"min": 2})
    """Episodes per policy, mode and world (default 1000 as the leaderboard, 100 with --quick)."""
    modes: list[str] = field(default_factory=lambda: list(MODES), metadata={"choices": MODES})
    """Modes to run."""
    workers: int = field(default=2, metadata={"min": 1})
    """Modes run in parallel processes."""
    bundle: str | None = None
    """Simulator bundle directory with a reference world (default: the shipped one)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if not defaults.bundle_or_shipped(self.bundle).has_truth:
            raise ValueError(
                f"--bundle {self.bundle}: has no reference world, and greedy's spread is measured "
                "against the truth's one-step optimum"
            )


def world_variant(base: ReferenceWorld, name: str) -> ReferenceWorld:
    """`base` with the WorldConfig fields of variant `name` switched off."""
    if name not in WORLDS:
        raise ValueError(f"unknown world variant {name!r}; expected one of {', '.join(WORLDS)}")
    return ReferenceWorld(base.catalog, base.population, replace(base.config, **WORLDS[name]))


def coverage_curve(tracks: np.ndarray, n_tracks: int, points: list[int]) -> dict[int, float]:
    """Share of the catalog recommended in the first n episodes, for each n in `points`.

    # tracks (episodes, T)
    """
    return {n: len(np.unique(tracks[:n])) / n_tracks for n in points if n <= len(tracks)}


def spread_metrics(tracks: np.ndarray, metrics: dict[str, float], n_tracks: int) -> dict[str, Any]:
    """The leaderboard metrics kept here, plus distinct first picks and the coverage curve."""
    points = [
        10,
        25,
        50,
        100,
        250,
        500,
        1000,
        2000,
        len(tracks),
    ]  # those past len(tracks) are dropped
    return {
        **{k: metrics[k] for k in METRICS},
        "distinct_first_picks": len(np.unique(tracks[:, 0])),
        "coverage_by_episodes": coverage_curve(tracks, n_tracks, points),
    }


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """Every policy in every world variant for `mode`."""
    torch.set_num_threads(1)
    episodes = args.episodes or (100 if args.quick else 1000)
    bundle = defaults.bundle_or_shipped(args.bundle)
    data = TrainingData.from_bundle(bundle, mode, quick=args.quick, seed=args.seed)
    trained, _ = train_or_load(["bc"], data, Path(args.cache_dir), progress=False)
    policies = {
        "bc": trained["bc"],
        "greedy": GreedyAgent(mode, GreedyConfig(seed=args.seed)),
        "greedy_truth": GreedyAgent(mode, GreedyConfig(seed=args.seed, scorer="reference")),
    }
    base = bundle.reference_world()
    sessions = SessionConfig(mode, utility=data.utility, bundle=bundle)
    out: dict[str, Any] = {}
    for world_name in WORLDS:
        world = world_variant(base, world_name)
        out[world_name] = {}
        for name, agent in policies.items():
            if name == "greedy" and world_name != "shipped":
                # the world model does not change with the world; its greedy is scored once
                continue
            started = time.perf_counter()
            result = rollout(agent, sessions, "reference", episodes, args.seed, world=world)
            entry = spread_metrics(result.episodes.tracks, result.metrics, base.catalog.n_tracks)
            entry["seconds"] = time.perf_counter() - started
            out[world_name][name] = entry
        bc_coverage = out[world_name]["bc"]["coverage"]
        for entry in out[world_name].values():
            entry["coverage_vs_bc"] = entry["coverage"] / bc_coverage
    return {"mode": mode, "worlds": out, "episodes": episodes}


def main(args: Args) -> dict[str, Any]:
    """Run every mode, then write the JSON, the markdown table and the plot."""
    out = prepare_output_dir(args.out_dir)
    prepare_output_dir(args.cache_dir, "--cache")
    started = time.perf_counter()
    results = map_modes(run_one, args, args.modes, args.workers)
    report: dict[str, Any] = {
        "modes": {r["mode"]: r["worlds"] for r in results},
        "episodes": results[0]["episodes"],
        "wall_seconds": time.perf_counter() - started,
        **provenance(args),
    }
    write_outputs(out, NAME, report, _markdown(report))
    _plot(report, out / f"{NAME}.png")
    return report


def _markdown(report: dict[str, Any]) -> str:
    rows = [
        [
            mode,
            world,
            policy,
            m["utility_mean"],
            m["coverage"],
            f"{m['coverage_vs_bc']:.0%}",
            m["top10_share"],
            m["ild"],
            m["effective_tracks"],
            m["distinct_first_picks"],
        ]
        for mode, worlds in report["modes"].items()
        for world, policies in worlds.items()
        for policy, m in policies.items()
    ]
    header = [
        "mode",
        "world",
        "policy",
        "utility",
        "coverage",
        "coverage / BC's",
        "top-10 share",
        "ILD",
        "effective tracks",
        "distinct first picks",
    ]
    caption = (
        f"Reference world, {report['episodes']} episodes per row "
        "(the leaderboard's starts and seeds). "
        "`greedy`: argmax of the world model's one-step utility; "
        "`greedy_truth`: argmax of the reference "
        "world's own expected one-step utility from the latent state."
    )
    return "\n".join(
        [caption, "", markdown_table(header, rows), "", f"Command: `{report['command']}`"]
    )


def _plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    modes = [
        mode for mode in MODES if mode in report["modes"]
    ]  # in MODES order, also from a re-read JSON
    figure, axes = plt.subplots(1, len(modes), figsize=(4.4 * len(modes), 4.0), squeeze=False)
    styles = {"shipped": "-", "no_taste": "--", "no_taste_no_fatigue": ":"}
    colours = {"bc": "tab:blue", "greedy": "tab:red", "greedy_truth": "tab:green"}
    for axis, mode in zip(axes[0], modes, strict=True):
        for world in WORLDS:
            for policy, m in report["modes"][mode][world].items():
                curve = m["coverage_by_episodes"]
                axis.plot(
                    [int(n) for n in curve],
                    list(curve.values()),
                    styles[world],
                    color=colours[policy],
                    marker=".",
                    label=f"{policy} ({world})",
                )
        axis.set(
            title=mode, xscale="log", xlabel="episodes", ylabel="catalog coverage", ylim=(0, 1)
        )
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(figure, path)


if __name__ == "__main__":
    run(main, Args)
