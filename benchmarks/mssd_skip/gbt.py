"""The baselines.

Gradient-boosted trees on first-half session aggregates, position and track statistics (`gbt`), and
repeating the last known skip (`last_known`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from amrs_gym.data.mssd import wsdm_halves
from benchmarks.mssd_skip.data import CONTEXT_TYPES, Data, second_half_mask
from benchmarks.mssd_skip.features import TrackStatistics, feedback_columns


@dataclass(frozen=True)
class GbtSettings:
    """The gradient-boosted-trees baseline (HistGradientBoostingClassifier).

    Chosen on the same held-out training sessions as the world model. Early stopping holds out
    whole sessions (scikit-learn's own draws random rows, so one session lands on both sides).
    """

    learning_rate: float = 0.05
    """Shrinkage."""
    max_leaf_nodes: int = 15
    """Leaves per tree."""
    min_samples_leaf: int = 80
    """Fewest rows in a leaf."""
    l2_regularization: float = 1.0
    """L2 penalty on leaf values."""
    max_iter: int = 2000
    """Most boosting iterations (early stopping ends far sooner)."""
    n_iter_no_change: int = 30
    """Iterations without a better held-out-session loss before stopping."""
    members: int = 3
    """Cross-fitted members per seed (held-out sessions as the world model's), probabilities
    averaged."""


def predict_last_known(evaluation: pd.DataFrame) -> pd.DataFrame:
    """Repeat the last skip_2 of each session's first half (the majority class when it is empty)."""
    first, second = wsdm_halves(evaluation)
    last = first.groupby("session_id")["skipped"].last()
    default = float(first["skipped"].mean() >= 0.5) if len(first) else 1.0
    out = second[["session_id", "position"]].copy()
    out["probability"] = last.reindex(second["session_id"]).fillna(default).astype(float).to_numpy()
    return out.reset_index(drop=True)


def gbt_features(
    train: pd.DataFrame, frame: pd.DataFrame, folds: np.ndarray | None
) -> pd.DataFrame:
    """One row per second-half track of `frame`.

    First-half aggregates, position, track statistics.

    Built from `wsdm_halves(frame)` only, so no second-half behaviour column can enter.
    """
    first, second = wsdm_halves(frame)
    first = pd.concat([first, feedback_columns(first)], axis=1)
    first["fb_skip_2"] = first["skipped"].astype(float)
    grouped = first.groupby("session_id")
    rates = [c for c in first.columns if c.startswith("fb_")]
    session = grouped[rates].mean().add_suffix("_rate")
    last = grouped[
        ["fb_skip_1", "fb_skip_2", "fb_skip_3", "fb_not_skipped", "fb_end_fwdbtn"]
    ].last()
    session = session.join(last.add_suffix("_last"))
    session["skip_2_last3"] = grouped["fb_skip_2"].apply(lambda s: s.iloc[-3:].mean())
    session["n_first"] = grouped.size()
    session["context_code"] = (
        grouped["context_type"]
        .last()
        .astype(str)
        .map({c: i for i, c in enumerate(CONTEXT_TYPES)})
        .fillna(-1)
    )
    rows = session.reindex(second["session_id"].to_numpy()).reset_index(drop=True)
    rows["session_length"] = second["session_length"].to_numpy()
    rows["premium"] = second["premium"].to_numpy().astype(float)
    rows["hour_of_day"] = second["hour_of_day"].to_numpy()
    rows["position"] = second["position"].to_numpy()
    rows["step"] = rows["position"] - rows["session_length"] // 2
    rows["relative_position"] = rows["position"] / rows["session_length"]
    stats = TrackStatistics(train)
    track = stats.rows(train, second, folds)
    for i, name in enumerate(TrackStatistics.columns):
        rows[f"track_{name}"] = track[:, i]
    # the same track earlier in the session's first half, and whether it was skipped there
    seen = first.groupby(["session_id", "track_id"])["skipped"].mean()
    key = pd.MultiIndex.from_arrays(
        [second["session_id"].to_numpy(), second["track_id"].to_numpy()]
    )
    earlier = seen.reindex(key).to_numpy()
    rows["track_in_first_half"] = ~np.isnan(earlier)
    rows["track_first_half_skip"] = np.nan_to_num(earlier, nan=-1.0)
    rows["session_id"] = second["session_id"].to_numpy()
    rows["position_key"] = second["position"].to_numpy()
    return rows


def _gbt_labels(frame: pd.DataFrame) -> np.ndarray:
    """skip_2 of the second-half rows, in the order of `wsdm_halves` (and of `gbt_features`)."""
    ordered = frame.sort_values(["session_id", "position"], kind="stable")
    return ordered.loc[second_half_mask(ordered), "skipped"].to_numpy()


def fit_gbt(
    data: Data, settings: GbtSettings, seed: int, member: int = 0
) -> HistGradientBoostingClassifier:
    """Fit on the training sessions' second halves; early stopping on held-out training sessions.

    The held-out sessions are the world model's for the same (seed, member).
    """
    features = gbt_features(data.train, data.train, data.folds)
    labels = _gbt_labels(data.train)
    held_out = features["session_id"].isin(data.validation_sessions(seed, member)).to_numpy()
    inputs = features.drop(columns=["session_id", "position_key"])
    model = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        early_stopping=True,
        n_iter_no_change=settings.n_iter_no_change,
        random_state=seed * 1000 + member,
    )
    with threadpool_limits(1):  # OpenMP threads crawl on a shared machine
        model.fit(
            inputs[~held_out], labels[~held_out], X_val=inputs[held_out], y_val=labels[held_out]
        )
    return model


def predict_gbt(
    model: HistGradientBoostingClassifier, train: pd.DataFrame, evaluation: pd.DataFrame
) -> pd.DataFrame:
    """Skip probability of every second-half row of `evaluation` (track statistics from `train`)."""
    features = gbt_features(train, evaluation, None)
    out = pd.DataFrame({"session_id": features["session_id"], "position": features["position_key"]})
    with threadpool_limits(1):
        out["probability"] = model.predict_proba(
            features.drop(columns=["session_id", "position_key"])
        )[:, 1]
    return out
