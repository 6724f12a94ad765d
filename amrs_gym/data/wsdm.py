"""The WSDM Cup 2019 skip-prediction metrics on MSSD.

Average accuracy (AA) per session, its mean (MAA), first-track accuracy, accuracy and AUC of the
hidden second halves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def average_accuracy(correct: np.ndarray) -> float:
    """The WSDM Cup's average accuracy of one session's ordered predictions.

    AA = (1/T) * sum_i A(i) * L(i), where A(i) is the accuracy of the first i predictions and
    L(i) is 1 when prediction i is correct.
    """
    hits = np.asarray(correct, dtype=np.float64)
    if hits.size == 0:
        raise ValueError("a session needs at least one prediction")
    running = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(np.mean(running * hits))


def session_average_accuracy(
    session: np.ndarray, position: np.ndarray, correct: np.ndarray
) -> pd.Series:
    """`average_accuracy` of every session (indexed by session), predictions ordered by position."""
    frame = pd.DataFrame(
        {"session": session, "position": position, "hit": np.asarray(correct, float)}
    )
    frame = frame.sort_values(["session", "position"], kind="stable")
    groups = frame.groupby("session", sort=True)["hit"]
    running = groups.cumsum() / (groups.cumcount() + 1)
    return (running * frame["hit"]).groupby(frame["session"], sort=True).mean()


def mean_average_accuracy(session: np.ndarray, position: np.ndarray, correct: np.ndarray) -> float:
    """The WSDM Cup's MAA: the mean over sessions of `average_accuracy`."""
    return float(session_average_accuracy(session, position, correct).mean())


def skip_metrics(
    second: pd.DataFrame, probability: np.ndarray, skipped: np.ndarray
) -> dict[str, float]:
    """MAA, first-track accuracy, accuracy and AUC of skip probabilities for second-half rows.

    `second` has session_id and position of each row; a prediction is `probability >= 0.5`.
    """
    correct = (probability >= 0.5) == skipped.astype(bool)
    session, position = second["session_id"].to_numpy(), second["position"].to_numpy()
    first = position == second.groupby("session_id")["position"].transform("min").to_numpy()
    labels = skipped.astype(int)
    auc = float(roc_auc_score(labels, probability)) if len(np.unique(labels)) == 2 else float("nan")
    return {
        "maa": mean_average_accuracy(session, position, correct),
        "first_acc": float(correct[first].mean()),
        "acc": float(correct.mean()),
        "auc": auc,
    }


def accuracy_by_step(
    second: pd.DataFrame, probability: np.ndarray, skipped: np.ndarray
) -> np.ndarray:
    """Accuracy at each step of the second half (0 = its first track), nan where no rows."""
    step = second["position"].to_numpy() - second["session_length"].to_numpy() // 2
    correct = (probability >= 0.5) == skipped.astype(bool)
    out = np.full(int(step.max()) + 1, np.nan)
    for s in range(len(out)):
        if (step == s).any():
            out[s] = correct[step == s].mean()
    return out
