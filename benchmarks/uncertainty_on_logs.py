"""Does the ensemble's disagreement track its error? A check on held-out logs alone.

The reference world can say where the simulator is wrong; a platform cannot. What it can check
is the logs of listeners the world model never trained on: for every logged step, each member of
the bundle's ensemble predicts the listener's response to the logged track (with the listener's
logged history as context), and the members' spread is set beside the mixture's error against
what the listener did. Per mode and output (engagement, skip, like where rated, valence and
arousal where reported), the rank correlation of spread and absolute error, and both by quintile
of the production policy's propensity of the logged track (where the logs have propensities): an
uncertainty worth penalising grows with the error, and the error grows where production rarely
goes. Also by quintile, the mixture's bias (prediction minus log): where it falls with the
propensity, production chose by something the logs do not carry, and the model, fitted to what
production chose, is optimistic about what it did not (confounding, which members share).
benchmarks/NOTES.md, "What the penalty measures" and "Why no penalty closes the gaps", read the
shipped bundle's tables.

    python -m benchmarks.uncertainty_on_logs --out results/uncertainty_on_logs   # about 20 s
    python -m benchmarks.uncertainty_on_logs --bundle mine/bundle --out mine/uncertainty_on_logs

Validation listeners by default: any weight chosen from this table is chosen on listeners the
test never scores (`--listeners test` reads the held-out test listeners, as the fidelity card).
Writes uncertainty_on_logs.json, uncertainty_on_logs.md and uncertainty_on_logs.png into --out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES
from amrs_gym.world_model.checkpoint import load_checkpoint
from amrs_gym.world_model.evaluation import predict_rows
from amrs_gym.world_model.features import sessions_to_tensors
from benchmarks._common import (
    check_fields,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)
from benchmarks.ope.metrics import spearman

NAME = "uncertainty_on_logs"
OUTPUTS = {  # output: (the members' prediction, what the log shows)
    "engagement": ("expected_engagement", "engagement"),
    "skip": ("skip_probability", "skipped"),
    "like": ("like_probability", "rating"),
    "valence": ("valence", "valence_report"),
    "arousal": ("arousal", "arousal_report"),
}


@dataclass
class Args:
    """Settings of the check."""

    out_dir: str = "results/uncertainty_on_logs"
    """Where the outputs go."""
    bundle: str | None = None
    """Simulator bundle directory with an ensemble (default: the shipped one)."""
    listeners: Literal["validation", "test"] = "validation"
    """Whose logs: the validation listeners (never trained on; safe to choose weights on) or the
    held-out test listeners."""
    sessions: int | None = field(default=None, metadata={"min": 1})
    """Read only the first N sessions (none: all)."""
    quantiles: int = field(default=5, metadata={"min": 2, "max": 20})
    """Propensity bins (equal counts)."""

    def __post_init__(self) -> None:
        check_fields(self)
        bundle = defaults.bundle_or_shipped(self.bundle)  # a bad bundle is refused now, in one line
        if len(bundle.members) < 2:
            raise ValueError(
                f"--bundle {self.bundle or 'shipped'}: has one world model and no ensemble "
                "members (build it with `train --members K`, K >= 2)"
            )


def member_predictions(
    args: Args,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]:
    """Every member's predictions, what the logs show, and the scored log rows, in one order.

    Predictions: output -> (K, rows); what the logs show: output -> (rows,), NaN where nothing.
    """
    torch.set_num_threads(1)
    bundle = defaults.bundle_or_shipped(args.bundle)
    frame = bundle.split.val if args.listeners == "validation" else bundle.split.test
    if args.sessions is not None:
        keep = frame["session_id"].drop_duplicates().sort_values().head(args.sessions)
        frame = frame[frame["session_id"].isin(keep)].reset_index(drop=True)
    tensors = sessions_to_tensors(frame)
    predicted: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUTS}
    for path in bundle.members:
        model, _ = load_checkpoint(path, bundle.catalog)
        rows = predict_rows(model, tensors)
        for name, (prediction, _) in OUTPUTS.items():
            predicted[name].append(getattr(rows, prediction))
    observed = {name: getattr(rows, outcome) for name, (_, outcome) in OUTPUTS.items()}
    scored = frame.iloc[rows.row].reset_index(drop=True)
    return {name: np.stack(values) for name, values in predicted.items()}, observed, scored


def spread_and_error(
    members: np.ndarray, observed: np.ndarray, propensity: np.ndarray | None, quantiles: int
) -> dict[str, Any]:
    """The members' spread (ddof 0) against the mixture's absolute error, over observed rows.

    members (K, rows); observed (rows,), NaN where the log shows nothing. The Spearman
    correlation over rows, the means, and both per propensity bin (lowest first) if given, with
    the mixture's bias (prediction minus log): a bias that falls as the propensity rises is the
    logs' confounding (production chose by what the model cannot see), which every member shares.
    """
    seen = ~np.isnan(observed)
    predicted, observed = members[:, seen], observed[seen]
    spread = predicted.std(axis=0)
    bias = predicted.mean(axis=0) - observed
    error = np.abs(bias)
    result: dict[str, Any] = {
        "rows": int(seen.sum()),
        "spearman": float(spearman(spread[:, None], error[:, None])[0]),
        "mean_spread": float(spread.mean()) if seen.any() else float("nan"),
        "mean_error": float(error.mean()) if seen.any() else float("nan"),
        "mean_bias": float(bias.mean()) if seen.any() else float("nan"),
    }
    if propensity is not None and seen.sum() >= quantiles:
        propensity = propensity[seen]
        bins = np.array_split(np.argsort(propensity, kind="stable"), quantiles)
        result["by_propensity"] = [
            {
                "median_propensity": float(np.median(propensity[b])),
                "mean_spread": float(spread[b].mean()),
                "mean_error": float(error[b].mean()),
                "mean_bias": float(bias[b].mean()),
            }
            for b in bins
        ]
    return result


def main(args: Args) -> dict[str, Any]:
    """Score every member on the chosen listeners' logs and write the tables and the plot."""
    out = prepare_output_dir(args.out_dir)
    members, observed, scored = member_predictions(args)
    has_propensity = "propensity" in scored and not scored["propensity"].isna().any()
    modes: dict[str, dict[str, Any]] = {}
    for mode in [m for m in MODES if (scored["mode"] == m).any()]:
        rows = (scored["mode"] == mode).to_numpy()
        propensity = scored["propensity"].to_numpy(float)[rows] if has_propensity else None
        modes[mode] = {
            name: spread_and_error(
                members[name][:, rows],
                observed[name][rows],
                propensity,
                args.quantiles,
            )
            for name in OUTPUTS
        }
    report = {
        "listeners": args.listeners,
        "members": int(members["engagement"].shape[0]),
        "modes": modes,
        **provenance(args),
    }
    write_outputs(out, NAME, report, _markdown(report, has_propensity))
    if has_propensity:
        _plot(modes, out / f"{NAME}.png")
    return report


def _markdown(report: dict[str, Any], has_propensity: bool) -> str:
    modes = report["modes"]
    rows = [
        [name, *(f"{_rho(modes[m][name]['spearman'])} ({modes[m][name]['rows']:,})" for m in modes)]
        for name in OUTPUTS
    ]
    parts = [
        f"The {report['members']} members on the {report['listeners']} listeners' logged steps: "
        "rank correlation of the members' spread with the mixture's absolute error (rows scored).",
        "",
        markdown_table(["output", *modes], rows),
    ]
    if has_propensity:
        parts += [
            "",
            "Mean absolute error by propensity bin of the logged track, lowest first:",
            "",
            markdown_table(
                ["output", *modes], _by_bin(modes, ("engagement", "skip"), "mean_error")
            ),
            "",
            "Mean bias (prediction minus log) by propensity bin, lowest first. A bias that falls "
            "from positive to negative means the model is optimistic about the tracks production "
            "rarely plays and pessimistic about its favourites: production chose by what the logs "
            "do not show (confounding). Members fitted to the same logs share it, and a penalty "
            "on their spread cannot see what they share:",
            "",
            markdown_table(
                ["output", *modes], _by_bin(modes, ("engagement", "like"), "mean_bias", "+.3f")
            ),
        ]
    else:
        parts += ["", "The logs have no (or incomplete) propensities: no propensity bins."]
    return "\n".join(parts)


def _by_bin(
    modes: dict[str, dict[str, Any]], outputs: tuple[str, ...], key: str, spec: str = ".3f"
) -> list[list[str]]:
    """One row per output: `key` of each propensity bin, lowest first, per mode."""
    return [
        [
            name,
            *(
                " -> ".join(format(b[key], spec) for b in modes[m][name].get("by_propensity", []))
                or "-"
                for m in modes
            ),
        ]
        for name in outputs
    ]


def _rho(value: float) -> str:
    return "undefined" if np.isnan(value) else f"{value:.2f}"


def _plot(modes: dict[str, dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ylabels = {
        "mean_error": "engagement |error|",
        "mean_spread": "members' engagement spread",
        "mean_bias": "engagement bias (prediction - log)",
    }
    for mode, outputs in modes.items():
        bins = outputs["engagement"].get("by_propensity", [])
        x = np.arange(1, len(bins) + 1)
        colour = None
        for axis, key in zip(axes, ylabels, strict=True):
            line = axis.plot(x, [b[key] for b in bins], marker="o", label=mode, color=colour)
            colour = line[0].get_color()
    for axis, ylabel in zip(axes, ylabels.values(), strict=True):
        axis.set(xlabel="propensity bin (lowest first)", ylabel=ylabel)
    axes[2].axhline(0, color="grey", linewidth=0.8)
    axes[0].legend()
    figure.tight_layout()
    save_figure(figure, path)


if __name__ == "__main__":
    run(main, Args)
