"""The fidelity report card of a bundle: how well its world model predicts held-out listeners.

Scored on the test listeners' logs (never trained on), against the history-free twin (same
inputs, no session history: what history buys) and, where the logs came from a reference world,
the oracle (the world's own expected outcomes: the ceiling no observer can pass).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amrs_gym.world_model.evaluation import (
    METRICS,
    fidelity_metrics,
    gap_closed,
    oracle_rows,
    plot_calibration,
    predict_rows,
)
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel

LOWER_IS_BETTER = ("engagement_mae", "valence_mae", "arousal_mae", "engagement_ece")
ORACLE_COLUMNS = (
    "skip_probability",
    "expected_engagement",
    "like_probability",
    "true_valence",
    "true_arousal",
)


def fidelity_card(
    model: WorldModel, twin: WorldModel, test: pd.DataFrame, plot: Path | None = None
) -> dict[str, Any]:
    """Fidelity metrics of `model`, `twin` and (when `test` has the latent columns) the oracle.

    `plot`: where to write the calibration diagram (PNG), if anywhere.
    """
    scored = np.ones(len(test), dtype=bool)
    tensors = sessions_to_tensors(test, scored=scored)
    rows = {
        "world_model": predict_rows(model, tensors),
        "history_free": predict_rows(twin, tensors),
    }
    if set(ORACLE_COLUMNS) <= set(test.columns):
        rows["oracle"] = oracle_rows(test, scored)
    metrics = {name: fidelity_metrics(r) for name, r in rows.items()}
    labelled = [m for m in METRICS if np.isfinite(metrics["world_model"][m])]
    card: dict[str, Any] = {
        name: {m: (values[m] if m in labelled else None) for m in METRICS}
        for name, values in metrics.items()
    }
    card["not_scored"] = {
        m: "the test listeners' logs hold no labels for it" for m in METRICS if m not in labelled
    }
    card["rows_scored"] = len(rows["world_model"].skipped)
    card["test_listeners"] = int(test["listener_id"].nunique())
    card["world_model_better"] = {
        m: _better(m, metrics["world_model"][m], metrics["history_free"][m]) for m in labelled
    }
    if "oracle" in card:
        closed = {
            m: gap_closed(
                metrics["world_model"][m], metrics["history_free"][m], metrics["oracle"][m]
            )
            for m in ("engagement_auc", "valence_mae", "arousal_mae")
            if m in labelled
        }
        card["gap_closed"] = {m: (v if np.isfinite(v) else None) for m, v in closed.items()}
    if plot is not None:
        plot_calibration(rows, plot, "Calibration on held-out listeners")
    return card


def _better(metric: str, model: float, twin: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return model < twin
    return model > twin


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def card_markdown(card: dict[str, Any]) -> str:
    """The card as markdown: one row per model, the gap closed where there is an oracle."""
    models = [name for name in ("world_model", "history_free", "oracle") if name in card]
    lines = [
        f"Held-out (test) listeners: {card['test_listeners']:,}, rows scored: "
        f"{card['rows_scored']:,}. Skip AUC = engagement_auc; MAE and ECE: lower is better.",
        "",
        "| model | " + " | ".join(METRICS) + " |",
        "| --- |" + " --- |" * len(METRICS),
    ]
    lines += [
        f"| {name} | " + " | ".join(_number(card[name][m], 4) for m in METRICS) + " |"
        for name in models
    ]
    lines += [f"- {m}: not scored: {why}" for m, why in card.get("not_scored", {}).items()]
    if "gap_closed" in card:
        closed = ", ".join(f"{m} {_number(value, 2)}" for m, value in card["gap_closed"].items())
        lines += ["", f"Share of the history-free-to-oracle gap the world model closes: {closed}."]
    else:
        lines += ["", "No oracle: these logs did not come from a reference world."]
    return "\n".join(lines)
