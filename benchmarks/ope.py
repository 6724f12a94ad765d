"""Off-policy evaluation against the truth: do the simulator's estimates rank policies rightly?

For each mode, every registered agent (trained, or loaded from the cache the leaderboard shares)
gets its true value, the mean per-step utility of its episodes in the reference world, and the
estimate of each world-model estimator, over the same starting sessions and seeds:

| estimator | what plays the episodes |
| --- | --- |
| `world_model` | the bundle's one world model (the ensemble's first member) |
| `ensemble` | the ensemble's mixture |
| `pessimistic` | the ensemble; reward = utility - lambda * utility uncertainty (`--pessimism`) |

Metrics as DOPE defines them (Fu et al. 2021), per mode and estimator: normalised absolute error
(mean |estimate - truth| over policies / (max - min true value)), Spearman rank correlation,
regret@1 and regret@5 (the best true value minus the best true value among the estimator's top k,
/ (max - min)), each with a 95% interval from bootstrap resamples of the episodes (paired across
policies and estimators), over the agents every estimator scored. A session-aware agent that
scores with the model it plays in (`greedy`) is a different policy in each simulator: only the
one world model scores it (`world_model_all_agents` adds it to that estimator's metrics).

    python -m benchmarks.ope --out results/ope             # 1000 episodes per cell
    python -m benchmarks.ope --quick --out results/ope     # 100 episodes, quick training

It also measures whether the uncertainty means something: over the (state, track) pairs the
agents visit in the reference world (the ensemble observing), the rank correlation between the
members' utility uncertainty and the mixture's absolute error against the reference world's own
expected utility.

Writes ope.csv (one row per mode, agent, estimator), ope.json (the metrics), ope.md, scatter.png
(estimate against truth), metrics.png and uncertainty.png (error by uncertainty decile). Not yet
here (issue 15): importance-sampling, doubly robust and FQE estimators, and a zoo of 30+ policies
per mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from agents.cache import train_or_load
from agents.evaluation import rollout
from agents.protocol import Agent
from amrs_gym.io import atomic_write, prepare_output_dir
from amrs_gym.reward import DEFAULT_PESSIMISM, MAX_PESSIMISM
from amrs_gym.simulator import ListeningSessions, SessionConfig
from benchmarks._common import cli, markdown_table, provenance, pyplot, save_figure, write_outputs
from benchmarks.zoo import ZooArgs, map_modes

ESTIMATORS = ("world_model", "ensemble", "pessimistic")
SIMULATOR_BOUND = ("greedy",)
"""Agents whose policy is the simulator's own argmax: the same policy only in the one world
model (the reference evaluator observes with it too)."""
METRICS = ("normalised_abs_error", "spearman", "regret_at_1", "regret_at_5")


@dataclass
class Args(ZooArgs):
    """Settings of the off-policy-evaluation benchmark."""

    out_dir: str = "results/ope"
    """Where the tables and plots go."""
    cache_dir: str = "results/agents"
    """Trained agents are read from (and written to) here, shared with the leaderboard."""
    episodes: int | None = field(default=None, metadata={"min": 2})
    """Episodes per agent, mode and estimator (default 1000, 100 with --quick)."""
    pessimism: float = field(default=DEFAULT_PESSIMISM, metadata={"min": 0, "max": MAX_PESSIMISM})
    """lambda of the pessimistic estimator (default: amrs_gym.reward.DEFAULT_PESSIMISM)."""
    resamples: int = field(default=1000, metadata={"min": 10})
    """Bootstrap resamples of the episodes for the metrics' intervals."""

    def __post_init__(self) -> None:
        super().__post_init__()
        bundle = self.simulator()
        if not bundle.has_truth:
            raise ValueError(
                f"bundle {bundle.path} has no reference world: off-policy estimates cannot be "
                "scored against a truth"
            )
        if len(bundle.members) < 2:
            raise ValueError(
                f"bundle {bundle.path} has no ensemble (build it with --members 5): the ensemble "
                "estimators need one"
            )


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """Per-episode utilities of every agent in the truth and in each estimator of one mode."""
    torch.set_num_threads(1)
    episodes = args.episodes or (100 if args.quick else 1000)
    data = args.training_data(mode)
    trained, _ = train_or_load(args.runnable_agents(), data, Path(args.cache_dir), progress=False)
    base = SessionConfig(mode, utility=data.utility, bundle=args.simulator())
    simulators = {
        "world_model": base,
        "ensemble": replace(base, ensemble=True),
        "pessimistic": replace(base, pessimism=args.pessimism),
    }
    values: dict[tuple[str, str], list[float]] = {}
    pairs: list[np.ndarray] = []
    for name, agent in trained.items():
        result = rollout(agent, base, "reference", episodes, args.seed)
        values[(name, "truth")] = result.episodes.utility.mean(axis=1).tolist()
        if name not in SIMULATOR_BOUND:
            pairs.append(uncertainty_and_error(agent, simulators["ensemble"], episodes, args.seed))
        for estimator, sessions in simulators.items():
            if name in SIMULATOR_BOUND and estimator != "world_model":
                continue
            result = rollout(agent, sessions, "world_model", episodes, args.seed)
            values[(name, estimator)] = result.episodes.utility.mean(axis=1).tolist()
    return {"mode": mode, "values": values, "episodes": episodes, "pairs": np.concatenate(pairs)}


def uncertainty_and_error(
    agent: Agent, config: SessionConfig, episodes: int, seed: int
) -> np.ndarray:
    """(uncertainty, |error|) of every (state, track) pair the agent visits in the reference world.

    The ensemble observes the truth's outcomes; before each step, the members' standard deviation
    of the played track's one-step utility, and how far the mixture's expected utility of it lies
    from the reference world's own expected utility (from the latent state). # (steps, 2)
    """
    rows: list[np.ndarray] = []

    def record(sessions: ListeningSessions, actions: np.ndarray) -> None:
        played = actions[:, None]
        error = sessions.predicted_utility(played) - sessions.reference_utility(played)
        rows.append(np.stack([sessions.utility_uncertainty(played)[:, 0], np.abs(error[:, 0])]))

    rollout(agent, config, "reference", episodes, seed, watch=record)
    return np.concatenate(rows, axis=1).T


def dope_metrics(estimate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """DOPE's metrics of estimates against true values, one entry per policy.

    Example:
        >>> m = dope_metrics(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 1.0]))
        >>> m["spearman"], round(m["normalised_abs_error"], 3), m["regret_at_1"]
        (0.5, 0.5, 0.5)
    """
    span = float(truth.max() - truth.min()) or 1.0
    order = np.argsort(-estimate, kind="stable")
    best = float(truth.max())
    rho = spearmanr(estimate, truth).statistic if len(truth) > 2 else np.nan
    return {
        "normalised_abs_error": float(np.abs(estimate - truth).mean() / span),
        "spearman": float(rho),
        "regret_at_1": (best - float(truth[order[:1]].max())) / span,
        "regret_at_5": (best - float(truth[order[:5]].max())) / span,
    }


def score(values: dict[tuple[str, str], list[float]], resamples: int, seed: int) -> dict[str, Any]:
    """Each estimator's metrics, with bootstrap 95% intervals.

    Over the agents every estimator scored (one set for all), and the one world model's also over
    all the agents it scored.
    """
    scored = {e: [a for (a, x) in values if x == e] for e in ESTIMATORS}
    common = [a for a in scored["world_model"] if all(a in n for n in scored.values() if n)]
    sets = {estimator: common for estimator in ESTIMATORS if scored[estimator]}
    if set(scored["world_model"]) != set(common):
        sets["world_model_all_agents"] = scored["world_model"]
    out: dict[str, Any] = {}
    for label, names in sets.items():
        estimator = label.removesuffix("_all_agents")
        if len(names) < 2:
            continue
        truth = np.array([values[(a, "truth")] for a in names])  # (policies, episodes)
        estimate = np.array([values[(a, estimator)] for a in names])
        point = dope_metrics(estimate.mean(1), truth.mean(1))
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, truth.shape[1], (resamples, truth.shape[1]))
        samples = [dope_metrics(estimate[:, d].mean(1), truth[:, d].mean(1)) for d in draws]
        out[label] = {
            "agents": names,
            **{
                metric: {
                    "value": point[metric],
                    "ci95": np.nanpercentile([s[metric] for s in samples], [2.5, 97.5]).tolist(),
                }
                for metric in METRICS
            },
        }
    return out


def main(args: Args) -> dict[str, Any]:
    """Run every mode, then write the table, the metrics and the plots."""
    out = prepare_output_dir(args.out_dir)
    prepare_output_dir(args.cache_dir, "--cache")
    started = time.perf_counter()
    results = map_modes(run_one, args, args.modes, args.workers)
    rows = []
    for r in results:
        for (agent, estimator), per_episode in r["values"].items():
            if estimator == "truth":
                continue
            truth = float(np.mean(r["values"][(agent, "truth")]))
            estimate = float(np.mean(per_episode))
            rows.append(
                {
                    "mode": r["mode"],
                    "agent": agent,
                    "estimator": estimator,
                    "estimate": estimate,
                    "truth": truth,
                    "error": estimate - truth,
                }
            )
    table = pd.DataFrame(rows)
    report: dict[str, Any] = {
        "modes": {r["mode"]: score(r["values"], args.resamples, args.seed) for r in results},
        "uncertainty_vs_error": {
            **{r["mode"]: rank_correlation(r["pairs"]) for r in results},
            "all": rank_correlation(np.concatenate([r["pairs"] for r in results])),
        },
        "episodes": results[0]["episodes"],
        "pessimism": args.pessimism,
        "bundle": args.simulator().fingerprint,
        "wall_seconds": time.perf_counter() - started,
        **provenance(args),
    }
    atomic_write(out / "ope.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    write_outputs(out, "ope", report, _markdown(table, report))
    _plot_scatter(table, out / "scatter.png")
    _plot_metrics(report, out / "metrics.png")
    _plot_calibration({r["mode"]: r["pairs"] for r in results}, out / "uncertainty.png")
    return report


def rank_correlation(pairs: np.ndarray) -> dict[str, float]:
    """Spearman's rho between uncertainty and absolute error over (state, track) pairs."""
    rho = spearmanr(pairs[:, 0], pairs[:, 1]).statistic if len(pairs) > 2 else np.nan
    return {"spearman": float(rho), "pairs": len(pairs)}


def _markdown(table: pd.DataFrame, report: dict[str, Any]) -> str:
    lines = [
        f"Per-step utility, {report['episodes']} episodes per cell; pessimism lambda = "
        f"{report['pessimism']}. Metrics with bootstrap 95% intervals.",
        "",
    ]
    for mode, metrics in report["modes"].items():
        lines += [f"## {mode}", ""]
        header = ["estimator", *METRICS]
        body = [
            [
                estimator,
                *(
                    f"{m[metric]['value']:.3f} [{m[metric]['ci95'][0]:.2f}, "
                    f"{m[metric]['ci95'][1]:.2f}]"
                    for metric in METRICS
                ),
            ]
            for estimator, m in metrics.items()
        ]
        lines += [markdown_table(header, body), ""]
        part = table[table["mode"] == mode].pivot(
            index="agent", columns="estimator", values="error"
        )
        truth = table[table["mode"] == mode].groupby("agent")["truth"].first()
        gaps = [
            [agent, f"{truth[agent]:.3f}"]
            + [
                "" if pd.isna(part.loc[agent].get(e)) else f"{part.loc[agent, e]:+.3f}"
                for e in ESTIMATORS
            ]
            for agent in part.index
        ]
        lines += [
            "Estimate minus truth (the exploitation gap) per agent:",
            "",
            markdown_table(["agent", "truth", *ESTIMATORS], gaps),
            "",
        ]
    rows = [
        [name, f"{entry['spearman']:.3f}", f"{entry['pairs']:,}"]
        for name, entry in report["uncertainty_vs_error"].items()
    ]
    lines += [
        "Rank correlation of the ensemble's utility uncertainty with the mixture's absolute error "
        "against the reference world's expected utility, over the (state, track) pairs the agents "
        "visit there:",
        "",
        markdown_table(["mode", "Spearman", "pairs"], rows),
        "",
        f"Command: `{report['command']}`",
    ]
    return "\n".join(lines)


def _plot_scatter(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, len(ESTIMATORS), figsize=(4 * len(ESTIMATORS), 4), sharey=True)
    low, high = table[["estimate", "truth"]].min().min(), table[["estimate", "truth"]].max().max()
    for axis, estimator in zip(axes, ESTIMATORS, strict=True):
        for mode, part in table[table["estimator"] == estimator].groupby("mode", sort=False):
            axis.scatter(part["truth"], part["estimate"], label=str(mode), s=18)
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        axis.set(title=estimator.replace("_", " "), xlabel="true value (reference world)")
    axes[0].set_ylabel("estimate")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)


def _plot_calibration(pairs: dict[str, np.ndarray], path: Path) -> None:
    """Mean absolute error per decile of uncertainty, one line per mode."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 4))
    for mode, part in pairs.items():
        edges = np.quantile(part[:, 0], np.linspace(0, 1, 11))
        bins = np.clip(np.searchsorted(edges, part[:, 0], side="right") - 1, 0, 9)
        centres = [part[bins == b, 0].mean() for b in range(10) if (bins == b).any()]
        errors = [part[bins == b, 1].mean() for b in range(10) if (bins == b).any()]
        axis.plot(centres, errors, marker="o", label=mode)
    axis.set(
        xlabel="ensemble's utility uncertainty (members' std)",
        ylabel="|mixture - true expected utility|",
        title="Does uncertainty predict the error?",
    )
    axis.legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)


def _plot_metrics(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.5))
    modes = list(report["modes"])
    width = 0.8 / len(ESTIMATORS)
    for axis, metric in zip(axes, METRICS, strict=True):
        for i, estimator in enumerate(ESTIMATORS):
            heights = [
                report["modes"][m].get(estimator, {}).get(metric, {}).get("value", np.nan)
                for m in modes
            ]
            axis.bar(np.arange(len(modes)) + i * width, heights, width, label=estimator)
        axis.set_xticks(np.arange(len(modes)) + width, modes)
        axis.set_title(metric.replace("_", " "))
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=110)


if __name__ == "__main__":
    main(cli(Args))
