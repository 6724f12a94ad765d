"""Fidelity metrics: how well predicted responses match what held-out listeners did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from amrs_gym.io import pyplot, save_figure
from amrs_gym.world_model.features import SessionTensors
from amrs_gym.world_model.model import WorldModel

METRICS = (
    "engagement_auc",
    "engagement_mae",
    "rating_auc",
    "valence_mae",
    "arousal_mae",
    "valence_r",
    "arousal_r",
    "engagement_ece",
)


@dataclass(frozen=True)
class RowPredictions:
    """Predictions and observed outcomes for the scored rows, flat arrays of equal length."""

    skip_probability: np.ndarray
    expected_engagement: np.ndarray
    like_probability: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    skipped: np.ndarray
    engagement: np.ndarray
    rating: np.ndarray  # nan when not given
    valence_report: np.ndarray  # nan when not given
    arousal_report: np.ndarray  # nan when not given
    row: np.ndarray  # positional index into the evaluated frame


@torch.no_grad()
def predict_rows(model: WorldModel, data: SessionTensors, batch_size: int = 256) -> RowPredictions:
    """Run the model over `data` and keep the scored rows."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(data), batch_size):
        batch = data.index(slice(start, start + batch_size))
        prediction = model(batch)
        mask = batch.scored
        values = {
            "skip_probability": prediction.skip_probability,
            "expected_engagement": prediction.expected_engagement(),
            "like_probability": prediction.like_probability,
            "valence": prediction.valence_mean,
            "arousal": prediction.arousal_mean,
            "skipped": batch.skipped,
            "engagement": batch.engagement,
            "rating": batch.rating,
            "valence_report": batch.valence,
            "arousal_report": batch.arousal,
            "row": batch.row,
        }
        for name, tensor in values.items():
            parts.setdefault(name, []).append(tensor[mask].numpy())
    return RowPredictions(**{name: np.concatenate(chunks) for name, chunks in parts.items()})


def oracle_rows(test: pd.DataFrame, scored: np.ndarray) -> RowPredictions:
    """The reference world's expected outcomes for the scored test rows.

    Read from the latent columns of `test`.
    """
    rows = test[scored]
    return RowPredictions(
        skip_probability=rows["skip_probability"].to_numpy(),
        expected_engagement=rows["expected_engagement"].to_numpy(),
        like_probability=rows["like_probability"].to_numpy(),
        valence=rows["true_valence"].to_numpy(),
        arousal=rows["true_arousal"].to_numpy(),
        skipped=rows["skipped"].to_numpy(),
        engagement=rows["engagement"].to_numpy(),
        rating=rows["rating"].to_numpy(),
        valence_report=rows["valence_report"].to_numpy(),
        arousal_report=rows["arousal_report"].to_numpy(),
        row=np.flatnonzero(scored),
    )


def expected_calibration_error(
    probability: np.ndarray, outcome: np.ndarray, bins: int = 10
) -> float:
    """Mean |predicted - observed| frequency over equal-width probability bins.

    Bins are weighted by their size.
    """
    index = np.minimum((probability * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(probability[members].mean() - outcome[members].mean())
    return float(error)


def _safe_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")


def fidelity_metrics(rows: RowPredictions) -> dict[str, float]:
    """Every METRIC of the fidelity benchmark; metrics of labels that never occur are nan."""
    out = {
        "engagement_auc": _safe_auc(rows.skipped.astype(int), rows.skip_probability),
        "engagement_mae": float(np.abs(rows.expected_engagement - rows.engagement).mean()),
        "engagement_ece": expected_calibration_error(
            rows.skip_probability, rows.skipped.astype(float)
        ),
    }
    rated = ~np.isnan(rows.rating)
    out["rating_auc"] = _safe_auc(rows.rating[rated].astype(int), rows.like_probability[rated])
    for name in ("valence", "arousal"):
        report = getattr(rows, f"{name}_report")
        given = ~np.isnan(report)
        predicted = getattr(rows, name)[given]
        out[f"{name}_mae"] = (
            float(np.abs(predicted - report[given]).mean()) if given.any() else float("nan")
        )
        out[f"{name}_r"] = (
            float(np.corrcoef(predicted, report[given])[0, 1]) if given.sum() > 2 else float("nan")
        )
    return {name: out[name] for name in METRICS}


def gap_closed(model: float, baseline: float, ceiling: float) -> float:
    """Share of the baseline-to-ceiling gap that `model` closes (1 = reaches the ceiling)."""
    gap = ceiling - baseline
    return float((model - baseline) / gap) if gap != 0 else float("nan")


def plot_calibration(models: dict[str, RowPredictions], path: Path, title: str) -> None:
    """Reliability diagram of predicted skip probability, one line per model, as a PNG."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, rows in models.items():
        index = np.minimum((rows.skip_probability * 10).astype(int), 9)
        filled = [b for b in range(10) if (index == b).any()]
        predicted = [rows.skip_probability[index == b].mean() for b in filled]
        observed = [rows.skipped[index == b].mean() for b in filled]
        ece = expected_calibration_error(rows.skip_probability, rows.skipped.astype(float))
        axis.plot(predicted, observed, marker="o", label=f"{name} (ECE {ece:.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    axis.set(xlabel="predicted skip probability", ylabel="observed skip frequency", title=title)
    axis.legend()
    figure.tight_layout()
    save_figure(figure, path, dpi=120)
