"""The OPE benchmark's bars, markdown and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.off_policy import LOG_ESTIMATORS
from benchmarks._common import markdown_table, pyplot, save_figure
from benchmarks.ope.metrics import METRICS

ROLLOUT_ESTIMATORS = ("world_model", "ensemble", "pessimistic")
ESTIMATORS = (*ROLLOUT_ESTIMATORS, *LOG_ESTIMATORS)
SPEARMAN_BAR, REGRET_BAR, GAP_BAR, PESSIMISTIC_BAR, UNCERTAINTY_BAR = 0.9, 0.05, 0.15, 0.8, 0.4
"""Issue 15's bars: the best rollout estimator's Spearman and regret@1 over the zoo, the
pessimistic estimator's largest gap and Spearman over the registered agents, and the rank
correlation of uncertainty with error."""


def _value(metrics: dict[str, Any], label: str, metric: str) -> float:
    return float(metrics.get(label, {}).get(metric, {}).get("value", np.nan))


def bars(report: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Each mode's figures against issue 15's bars (true/false per bar)."""
    out: dict[str, Any] = {}
    for mode, metrics in report["modes"].items():
        part = table[(table["mode"] == mode) & table["registered"]]
        gaps = part[part["estimator"] == "pessimistic"]["error"].abs()
        rollout = [e for e in ROLLOUT_ESTIMATORS if e in metrics]
        best = max(rollout, key=lambda e: _value(metrics, e, "spearman"))
        spearman = _value(metrics, best, "spearman")
        pessimistic = _value(metrics, "pessimistic_registered", "spearman")
        out[mode] = {
            "pessimistic_spearman_registered": pessimistic,
            "pessimistic_spearman_at_least_0.8": pessimistic >= PESSIMISTIC_BAR,
            "pessimistic_largest_gap_registered": float(gaps.max()),
            "pessimistic_gaps_within_0.15": bool((gaps <= GAP_BAR).all()),
            "best_rollout_estimator": best,
            "best_rollout_spearman": spearman,
            "best_rollout_regret_at_1": _value(metrics, best, "regret_at_1"),
            "best_rollout_spearman_at_least_0.9": spearman >= SPEARMAN_BAR,
            "best_rollout_regret_at_1_at_most_0.05": _value(metrics, best, "regret_at_1")
            <= REGRET_BAR,
            "beats_fqe_on_spearman": spearman > _value(metrics, "fqe", "spearman"),
            "beats_snips_on_spearman": spearman > _value(metrics, "snips", "spearman"),
        }
    beats = [m["beats_fqe_on_spearman"] and m["beats_snips_on_spearman"] for m in out.values()]
    out["beats_fqe_and_snips_in_3_of_4_modes"] = sum(beats) >= 3
    rho = report["uncertainty_vs_error"]["all"]["spearman"]
    out["uncertainty_vs_error_at_least_0.4"] = bool(rho >= UNCERTAINTY_BAR)
    return out


def _cell(metrics: dict[str, Any], label: str, metric: str) -> str:
    entry = metrics.get(label, {}).get(metric)
    if entry is None:
        return ""
    low, high = entry["ci95"]
    return f"{entry['value']:.2f} [{low:.2f}, {high:.2f}]"


def _metric_table(report: dict[str, Any], metric: str, suffix: str = "") -> str:
    modes = list(report["modes"])
    rows = [
        [estimator, *(_cell(report["modes"][m], estimator + suffix, metric) for m in modes)]
        for estimator in ESTIMATORS
    ]
    return markdown_table(["estimator", *modes], rows)


def markdown(table: pd.DataFrame, report: dict[str, Any]) -> str:
    """The report: metrics per estimator and mode, the registered agents' gaps, the bars."""
    modes = list(report["modes"])
    sizes = ", ".join(
        f"{m} {len(report['modes'][m].get('world_model', {}).get('policies', []))}" for m in modes
    )
    fqe = report["fqe"]
    q_function = "track content" if fqe["q_function"] == "content" else "one output per track"
    lines = [
        f"Per-step utility; rollout estimators and the truth: {report['episodes']} episodes per "
        f"policy; pessimism lambda = {report['pessimism']}; FQE: {q_function}, "
        f"{fqe['n_steps']} steps. 95% bootstrap intervals in brackets.",
        "",
        f"## The zoo (policies every estimator scored: {sizes})",
        "",
    ]
    for metric in ("spearman", "regret_at_1", "normalised_abs_error"):
        lines += [f"{metric.replace('_', ' ')}:", "", _metric_table(report, metric), ""]
    lines += ["## The registered agents", ""]
    for metric in ("spearman", "regret_at_1"):
        lines += [
            f"{metric.replace('_', ' ')}:",
            "",
            _metric_table(report, metric, "_registered"),
            "",
        ]
    registered = table[table["registered"]]
    for mode in modes:
        part = registered[registered["mode"] == mode]
        gaps = part.pivot(index="policy", columns="estimator", values="error")
        truth = part.groupby("policy")["truth"].first()
        columns = [e for e in ESTIMATORS if e in gaps.columns]
        rows = [
            [policy, f"{truth[policy]:.3f}"]
            + [
                "" if pd.isna(gaps.loc[policy, e]) else f"{gaps.loc[policy, e]:+.2f}"
                for e in columns
            ]
            for policy in gaps.index
        ]
        lines += [
            f"Estimate minus truth per registered agent, {mode}:",
            "",
            markdown_table(["agent", "truth", *columns], rows),
            "",
        ]
    probes = report["uncertainty_vs_error"]
    modes = [m for m in probes if m != "all"]
    rows = [
        [
            name,
            f"{entry['spearman']:.3f}",
            f"{entry['pairs']:,}",
            f"{entry['episodes']['spearman']:.3f}" if "episodes" in entry else "",
        ]
        for name, entry in probes.items()
    ]
    terms = list(dict.fromkeys(t for m in modes for t in probes[m]["terms"]))
    term_rows = [
        [term, *(_pair_and_episode(probes[m]["terms"].get(term)) for m in modes)] for term in terms
    ]
    lines += [
        "Rank correlation of the ensemble's utility uncertainty with the mixture's absolute error "
        "against the reference world's expected utility, over the (state, track) pairs the "
        "registered agents visit there (the bar), and over their episodes (an episode's mean "
        "uncertainty against the error of its mean utility):",
        "",
        markdown_table(["mode", "Spearman (pairs)", "pairs", "Spearman (episodes)"], rows),
        "",
        "Where the error is: each utility term's mean absolute error per pair / of its episode "
        "mean (a term whose errors cancel along an episode weighs less in a policy's value):",
        "",
        markdown_table(["term", *modes], term_rows),
        "",
        "Across the zoo, rank correlation of a policy's mean utility uncertainty (along its "
        "ensemble episodes) with the ensemble's overestimate of it: "
        + ", ".join(
            f"{mode} {entry['spearman']:.2f}"
            for mode, entry in report["uncertainty_vs_gap"].items()
        )
        + ".",
        "",
        "## Bars (issue 15)",
        "",
        markdown_table(
            ["mode", "bar", "value"],
            [
                [mode, key, value]
                for mode, entry in report["bars"].items()
                if isinstance(entry, dict)
                for key, value in entry.items()
            ]
            + [["all", k, v] for k, v in report["bars"].items() if not isinstance(v, dict)],
        ),
        "",
        f"Command: `{report['command']}`",
    ]
    return "\n".join(lines)


def plot_scatter(table: pd.DataFrame, path: Path) -> None:
    """Estimate against truth, one panel per estimator, one colour per mode.

    The axes span the true values widened by their range on each side; an estimate beyond is
    drawn at the edge and counted in its panel's title (one wild estimate would squash the rest).
    """
    plt = pyplot()
    estimators = [e for e in ESTIMATORS if e in set(table["estimator"])]
    columns = 3
    rows = -(-len(estimators) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.6 * rows), squeeze=False)
    finite = table[np.isfinite(table["estimate"])]
    span = float(finite["truth"].max() - finite["truth"].min()) or 1.0
    low, high = finite["truth"].min() - span, finite["truth"].max() + span
    for axis, estimator in zip(axes.flat, estimators, strict=False):
        mine = finite[finite["estimator"] == estimator]
        for mode, part in mine.groupby("mode", sort=False):
            axis.scatter(part["truth"], part["estimate"].clip(low, high), label=str(mode), s=10)
        axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
        beyond = int(((mine["estimate"] < low) | (mine["estimate"] > high)).sum())
        title = f"{estimator} ({beyond} beyond the axes)" if beyond else estimator
        axis.set(title=title, xlabel="true value (utility / step)", ylabel="estimate")
        axis.set_ylim(low - 0.05 * span, high + 0.05 * span)
    for axis in list(axes.flat)[len(estimators) :]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)


def plot_metrics(report: dict[str, Any], path: Path) -> None:
    """Each metric over the zoo, per estimator (bars) and mode (groups)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4.5 * len(METRICS), 3.8))
    modes = list(report["modes"])
    width = 0.8 / len(ESTIMATORS)
    for axis, metric in zip(axes, METRICS, strict=True):
        for i, estimator in enumerate(ESTIMATORS):
            heights = [_value(report["modes"][m], estimator, metric) for m in modes]
            axis.bar(np.arange(len(modes)) + i * width, heights, width, label=estimator)
        axis.set_xticks(np.arange(len(modes)) + 0.4 - width / 2, modes)
        axis.set_title(f"{metric.replace('_', ' ')} (zoo)")
    axes[0].legend(fontsize=6, ncol=2)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)


def plot_calibration(pairs: dict[str, np.ndarray], path: Path) -> None:
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


def _pair_and_episode(error: dict[str, float] | None) -> str:
    """A term's mean absolute error per pair / of its episode mean ('' if the mode has none)."""
    return "" if error is None else f"{error['pair']:.3f} / {error['episode']:.3f}"


__all__ = ["ESTIMATORS", "bars", "markdown", "plot_calibration", "plot_metrics", "plot_scatter"]
