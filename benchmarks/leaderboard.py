"""Leaderboard: which recommender moves listeners to each mode's target without collapsing?

Judged both by the world model (what a user of the method sees) and by the reference world (the
truth).

Every registered agent is trained (or loaded from the cache, `results/agents/`) for each mode, then
plays the same held-out listeners' starting histories, with the same seeds, in the world-model env
and in the reference world. Off-policy estimates (IPS, SNIPS) on the held-out listeners' logs are a
third opinion for agents whose action probabilities depend on the observation alone (and, for BC and
DPO, the tracks their session has played, which the logs show).

    # 1000 episodes: 19 min 27 s on 2 cores with every agent in the cache (README)
    python -m benchmarks.leaderboard --out results/leaderboard
    # 200 episodes, quick training from scratch: 4 min 43 s on 2 cores (README)
    python -m benchmarks.leaderboard --quick --out results/leaderboard

Writes leaderboard.csv (one row per agent, mode, evaluator), leaderboard.json (per mode: the
Spearman rank correlation of the two evaluators' utilities, each agent's exploitation gap, DPO's
paired per-episode lead over BC and over production, the DPO frontier: which agents some DPO
setting matches or beats on both utility and coverage, and the bars), leaderboard.md,
utility_vs_diversity.png, frontier.png (with the DPO family) and trajectories.png.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from agents import DPO_FAMILY
from agents.cache import train_or_load
from agents.evaluation import held_out_steps, off_policy, rollout
from amrs_gym.io import atomic_write, prepare_output_dir
from amrs_gym.modes import DEFAULT_TARGETS
from amrs_gym.simulator import SessionConfig
from benchmarks._common import (
    MISSING_CELL,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)
from benchmarks.zoo import ZooArgs, map_modes

COLUMNS = (
    "utility_mean",
    "utility_ci95",
    "valence_delta",
    "arousal_delta",
    "final_distance",
    "time_in_zone",
    "engagement",
    "like_rate",
    "coverage",
    "ild",
    "entropy",
    "gini",
    "top10_share",
    "repeat_rate",
    "kl_to_logged",
    "ips_utility",
    "snips_utility",
)
TRAJECTORY_AGENTS = ("logged", "bc", "dpo", "greedy")
PAIRS = (("dpo", "bc"), ("dpo", "logged"))
"""(agent, baseline) pairs whose per-episode difference is reported with a paired interval."""


@dataclass
class Args(ZooArgs):
    """Settings of the leaderboard.

    `quick` means quick training and 200 episodes; every agent gets the same seed.
    """

    out_dir: str = "results/leaderboard"
    """Where the tables and plots go."""
    cache_dir: str = "results/agents"
    """Trained agents are read from (and written to) here, shared with the stress tests and the
    zoo."""
    episodes: int | None = field(default=None, metadata={"min": 2})
    """Episodes per agent, mode and evaluator (default 1000, 200 with --quick)."""


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """Train (or load) every agent for `mode` and score each in both evaluators.

    No files are written but the agent cache.
    """
    torch.set_num_threads(1)
    episodes = args.episodes or (200 if args.quick else 1000)
    data = args.training_data(mode)
    trained, fit_seconds = train_or_load(
        args.runnable_agents(), data, Path(args.cache_dir), progress=False
    )
    logged_distribution = data.logged_distribution()
    sessions = SessionConfig(mode, utility=data.utility, bundle=args.simulator())
    steps = held_out_steps(mode, data.utility, args.simulator())
    unknown = int((~np.isfinite(steps.propensities)).sum())
    rows, trajectories, per_episode = [], {}, {}
    for name, agent in trained.items():
        estimates = off_policy(agent, steps) if not unknown else {}
        for evaluator in args.evaluators():
            started = time.perf_counter()
            result = rollout(
                agent,
                sessions,
                evaluator,
                episodes,
                args.seed,
                logged_distribution=logged_distribution,
            )
            rows.append(
                {
                    "agent": name,
                    "mode": mode,
                    "evaluator": evaluator,
                    **result.metrics,
                    **estimates,
                    "fit_seconds": fit_seconds.get(name, 0.0),
                    "eval_seconds": time.perf_counter() - started,
                }
            )
            if any(name in pair for pair in PAIRS):
                per_episode[(name, evaluator)] = result.episodes.utility.mean(axis=1).tolist()
            if name in TRAJECTORY_AGENTS:
                trajectories[(name, evaluator)] = np.stack(
                    [result.episodes.valence.mean(0), result.episodes.arousal.mean(0)], 1
                ).tolist()
    paired = {
        f"{agent}_minus_{baseline}": {
            evaluator: paired_difference(
                per_episode[(agent, evaluator)], per_episode[(baseline, evaluator)]
            )
            for evaluator in args.evaluators()
            if (agent, evaluator) in per_episode and (baseline, evaluator) in per_episode
        }
        for agent, baseline in PAIRS
    }
    return {
        "mode": mode,
        "rows": rows,
        "trajectories": trajectories,
        "episodes": episodes,
        "paired": {name: by for name, by in paired.items() if by},
        "off_policy": f"skipped: off-policy estimates ({mode}): {unknown:,} of {len(steps):,} "
        "held-out logged steps have no propensity"
        if unknown
        else "",
    }


def paired_difference(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean and 95% interval of per-episode differences a - b.

    The pairs share their starting histories and seeds.
    """
    difference = np.asarray(a) - np.asarray(b)
    spread = difference.std(ddof=1) if len(difference) > 1 else 0.0
    return {
        "mean": float(difference.mean()),
        "ci95": float(1.96 * spread / np.sqrt(len(difference))),
    }


def summarise(table: pd.DataFrame, paired: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per mode: rank agreement of the two evaluators, exploitation gaps, the DPO frontier, bars.

    `paired` (mode -> the `run_one` paired differences) adds the bars that need them. Empty per
    mode when the table has no reference-world rows (a bundle without a truth).
    """
    out: dict[str, Any] = {}
    if "reference" not in set(table["evaluator"]):
        return {str(mode): {} for mode in table["mode"].unique()}  # nothing to compare with
    for mode, part in table.groupby("mode", sort=False):
        utility = part.pivot(index="agent", columns="evaluator", values="utility_mean")
        rho = (
            utility["world_model"].corr(utility["reference"], method="spearman")
            if len(utility) > 2
            else np.nan
        )
        entry: dict[str, Any] = {
            "spearman_world_model_vs_reference": float(rho),
            "exploitation_gap": (utility["world_model"] - utility["reference"]).to_dict(),
        }
        ref = part[part["evaluator"] == "reference"].set_index("agent")
        family = [name for name in DPO_FAMILY if name in ref.index]
        if family:
            entry["frontier"] = frontier(ref, family)
        mode_paired = (paired or {}).get(str(mode), {})
        entry["bars"] = bars(ref, utility, mode_paired, entry.get("frontier"))
        if mode_paired:
            entry["paired"] = mode_paired
        out[str(mode)] = entry
    return out


def frontier(ref: pd.DataFrame, family: list[str]) -> dict[str, dict[str, bool]]:
    """How every other agent compares with the DPO settings `family` on utility and coverage.

    `matched`: some DPO setting matches or beats it on both; `dominates`: it is better than
    every DPO setting on both.
    """
    dpo = ref.loc[family]
    out = {}
    for agent, row in ref.drop(index=family).iterrows():
        at_least = (dpo["utility_mean"] >= row["utility_mean"]) & (
            dpo["coverage"] >= row["coverage"]
        )
        beaten = (dpo["utility_mean"] < row["utility_mean"]) & (dpo["coverage"] < row["coverage"])
        out[str(agent)] = {"matched": bool(at_least.any()), "dominates": bool(beaten.all())}
    return out


def bars(
    ref: pd.DataFrame,
    utility: pd.DataFrame,
    paired: dict[str, Any],
    dpo_frontier: dict[str, dict[str, bool]] | None,
) -> dict[str, bool]:
    """The leaderboard's bars that the agents present in this mode allow checking."""
    out: dict[str, bool] = {}
    has = set(ref.index)
    if {"bc", "logged"} <= has:
        out["bc_at_least_95pct_of_production"] = bool(
            ref.loc["bc", "utility_mean"] >= 0.95 * ref.loc["logged", "utility_mean"]
        )
    for baseline, name in (("bc", "bc"), ("logged", "production")):
        versus = paired.get(f"dpo_minus_{baseline}", {}).get("reference")
        if versus is not None:
            out[f"dpo_above_{name}_paired"] = bool(versus["mean"] - versus["ci95"] > 0)
    if {"dpo", "bc"} <= has:
        dpo, bc = ref.loc["dpo"], ref.loc["bc"]
        truth_gain = dpo["utility_mean"] - bc["utility_mean"]
        model_gain = utility.loc["dpo", "world_model"] - utility.loc["bc", "world_model"]
        out["dpo_coverage_at_least_90pct_of_bc"] = bool(dpo["coverage"] >= 0.9 * bc["coverage"])
        out["dpo_ild_at_least_90pct_of_bc"] = bool(dpo["ild"] >= 0.9 * bc["ild"])
        out["dpo_truth_gain_at_least_80pct_of_world_model_gain"] = bool(
            truth_gain > 0 and truth_gain >= 0.8 * model_gain
        )
    if {"greedy", "bc"} <= has:
        greedy, bc = ref.loc["greedy"], ref.loc["bc"]
        out["greedy_top10_share_at_least_2x_bc"] = bool(
            greedy["top10_share"] >= 2 * bc["top10_share"]
        )
        out["greedy_ild_at_most_75pct_of_bc"] = bool(greedy["ild"] <= 0.75 * bc["ild"])
    family = [name for name in DPO_FAMILY if name in has]
    if family and "steer" in has:  # the hand-made heuristic that steers by the affect estimate
        out["a_dpo_setting_beats_steer"] = bool(
            ref.loc[family, "utility_mean"].max() > ref.loc["steer", "utility_mean"]
        )
    if dpo_frontier:
        out["no_agent_dominates_every_dpo_setting"] = not any(
            v["dominates"] for v in dpo_frontier.values()
        )
    return out


def main(args: Args) -> dict[str, Any]:
    """Run every mode, then write the table, the summary and the plots."""
    out = prepare_output_dir(args.out_dir)
    prepare_output_dir(args.cache_dir, "--cache")
    skipped = args.announce_skipped()
    started = time.perf_counter()
    results = map_modes(run_one, args, args.modes, args.workers)
    skipped += sorted({r["off_policy"] for r in results if r["off_policy"]})
    table = pd.DataFrame([row for r in results for row in r["rows"]])
    modes = summarise(table, {r["mode"]: r["paired"] for r in results})
    report: dict[str, Any] = {
        "modes": modes,
        "skipped": skipped,
        "bundle": args.simulator().fingerprint,
        "episodes": results[0]["episodes"],
        "wall_seconds": time.perf_counter() - started,
        **provenance(args),
    }
    atomic_write(
        out / "leaderboard.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g")
    )
    write_outputs(out, "leaderboard", report, _markdown(table, report))
    _plot_utility_vs_diversity(table, out / "utility_vs_diversity.png")
    if table["agent"].isin(DPO_FAMILY).any():
        _plot_frontier(table, out / "frontier.png")
    _plot_trajectories({r["mode"]: r["trajectories"] for r in results}, out / "trajectories.png")
    return report


def _markdown(table: pd.DataFrame, report: dict[str, Any]) -> str:
    truth = "reference" in set(table["evaluator"])
    primary = "reference" if truth else "world_model"
    where = (
        "in the reference world (the truth) and in the world model, with diversity in the "
        "reference world"
        if truth
        else "in the world model (the bundle has no reference world), with diversity there"
    )
    ope = "snips_utility" in table.columns
    no_estimate = ope and bool(table["snips_utility"].isna().any())
    parts = [
        f"Mean per-step utility (± 95% CI over {report['episodes']} episodes) {where}.",
        *(f"- {line}" for line in report["skipped"]),
        *(
            [
                f"- SNIPS {MISSING_CELL}: no off-policy estimate (the agent's action "
                "probabilities do not follow from what the logs show)"
            ]
            if no_estimate
            else []
        ),
        "",
    ]
    for mode in table["mode"].unique():
        part = table[table["mode"] == mode]
        main = part[part["evaluator"] == primary].set_index("agent")
        wm = part[part["evaluator"] == "world_model"].set_index("agent")
        rows = [
            [
                agent,
                f"{r.utility_mean:.3f} ± {r.utility_ci95:.3f}",
                *([f"{wm.loc[agent, 'utility_mean']:.3f}"] if truth else []),
                r.final_distance,
                r.coverage,
                r.ild,
                r.top10_share,
                r.kl_to_logged,
                *([r.snips_utility] if ope else []),
            ]
            for agent, r in main.sort_values("utility_mean", ascending=False).iterrows()
        ]
        summary = report["modes"][mode]
        header = [
            "agent",
            f"utility ({primary.replace('_', ' ')})",
            *(["utility (world model)"] if truth else []),
            "final distance",
            "coverage",
            "ILD",
            "top-10 share",
            "KL to logged",
            *(["SNIPS"] if ope else []),
        ]
        parts += [f"### {mode}", "", markdown_table(header, rows), ""]
        if "spearman_world_model_vs_reference" in summary:
            parts += [
                f"Spearman rank correlation, world model vs reference utility: "
                f"{summary['spearman_world_model_vs_reference']:.2f}",
                "",
            ]
        if "bars" in summary:
            parts += [
                "Bars: "
                + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in summary["bars"].items()),
                "",
            ]
        for name, by_evaluator in summary.get("paired", {}).items():
            agent, baseline = name.split("_minus_")
            parts += [
                f"{agent} minus {baseline}, paired over the same episodes: "
                + ", ".join(
                    f"{evaluator} {d['mean']:+.3f} ± {d['ci95']:.3f}"
                    for evaluator, d in by_evaluator.items()
                ),
                "",
            ]
        if "frontier" in summary:
            matched = [a for a, v in summary["frontier"].items() if v["matched"]]
            unmatched = [a for a, v in summary["frontier"].items() if not v["matched"]]
            parts += [
                "Matched or beaten on both utility and coverage by some DPO setting: "
                f"{', '.join(matched) or 'none'}; not: {', '.join(unmatched) or 'none'}.",
                "",
            ]
    parts.append(f"Command: `{report['command']}`")
    return "\n".join(parts)


def _plot_utility_vs_diversity(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()

    modes = list(table["mode"].unique())
    figure, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 4.2), squeeze=False)
    primary = "reference" if "reference" in set(table["evaluator"]) else "world_model"
    for axis, mode in zip(axes[0], modes, strict=True):
        part = table[table["mode"] == mode]
        for evaluator, marker in (("reference", "o"), ("world_model", "x")):
            rows = part[part["evaluator"] == evaluator]
            if rows.empty:
                continue
            axis.errorbar(
                rows["coverage"],
                rows["utility_mean"],
                yerr=rows["utility_ci95"],
                fmt=marker,
                label=evaluator.replace("_", " "),
                alpha=0.8,
            )
            if evaluator == primary:
                for _, row in rows.iterrows():
                    axis.annotate(
                        row["agent"],
                        (row["coverage"], row["utility_mean"]),
                        fontsize=8,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        axis.set(
            title=mode,
            xlabel="catalog coverage (share of tracks recommended)",
            ylabel="mean per-step utility",
        )
    axes[0][0].legend()
    figure.tight_layout()
    save_figure(figure, path)


def _plot_frontier(table: pd.DataFrame, path: Path) -> None:
    """Utility against coverage and ILD per mode, the DPO family as a line (primary evaluator)."""
    plt = pyplot()

    primary = "reference" if "reference" in set(table["evaluator"]) else "world_model"
    modes = list(table["mode"].unique())
    figure, axes = plt.subplots(2, len(modes), figsize=(4.5 * len(modes), 8), squeeze=False)
    for column, mode in enumerate(modes):
        rows = table[(table["mode"] == mode) & (table["evaluator"] == primary)].set_index("agent")
        family = rows.loc[[name for name in DPO_FAMILY if name in rows.index]]
        others = rows.drop(index=family.index)
        for axis, diversity in zip(axes[:, column], ("coverage", "ild"), strict=True):
            axis.plot(
                family[diversity], family["utility_mean"], "o-", color="C3", label="DPO family"
            )
            axis.scatter(others[diversity], others["utility_mean"], color="C0", label="others")
            for agent, row in rows.iterrows():
                axis.annotate(
                    str(agent),
                    (row[diversity], row["utility_mean"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
            axis.set(
                title=f"{mode} ({primary.replace('_', ' ')})",
                xlabel="catalog coverage" if diversity == "coverage" else "intra-list diversity",
                ylabel="mean per-step utility",
            )
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def _plot_trajectories(
    trajectories: dict[str, dict[tuple[str, str], list[list[float]]]], path: Path
) -> None:
    plt = pyplot()

    modes = list(trajectories)
    seen = {evaluator for paths in trajectories.values() for _, evaluator in paths}
    primary = "reference" if "reference" in seen else "world_model"
    figure, axes = plt.subplots(1, len(modes), figsize=(4.2 * len(modes), 4.2), squeeze=False)
    for axis, mode in zip(axes[0], modes, strict=True):
        for (agent, evaluator), path_points in trajectories[mode].items():
            if evaluator != primary:
                continue
            points = np.asarray(path_points)
            axis.plot(points[:, 0], points[:, 1], marker=".", label=agent)
        target = DEFAULT_TARGETS[mode]
        axis.scatter(
            [target.valence], [target.arousal], marker="*", s=200, color="black", label="target"
        )
        axis.set(
            title=f"{mode} ({primary.replace('_', ' ')})",
            xlabel="valence",
            ylabel="arousal",
            xlim=(-1, 1),
            ylim=(-1, 1),
        )
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.axvline(0, color="grey", linewidth=0.5)
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


if __name__ == "__main__":
    run(main, Args)
