"""Cold-start splits: test listeners, or test tracks, never seen in training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class Split:
    """Train / validation / test logs of one cold-start protocol.

    For a track split, `test` holds whole held-out sessions (their history is
    context) and `test_tracks` names the tracks whose rows are scored; `train` and
    `val` have every row of a test track removed.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    kind: str
    test_tracks: np.ndarray | None = None

    def scored_test_rows(self) -> np.ndarray:
        """Boolean mask over `test` rows that a metric should score."""
        if self.test_tracks is None:
            return np.ones(len(self.test), dtype=bool)
        scored: np.ndarray = self.test["track_id"].isin(self.test_tracks).to_numpy()
        return scored


def _fractions_ok(test_fraction: float, val_fraction: float) -> None:
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise ValueError("need 0 < test_fraction, 0 <= val_fraction and test + val < 1")


def split_by_listener(
    logs: pd.DataFrame, test_fraction: float = 0.15, val_fraction: float = 0.1, seed: int = 0
) -> Split:
    """Partition listeners: every session of a test (or validation) listener is held out."""
    _fractions_ok(test_fraction, val_fraction)
    listeners = np.sort(logs["listener_id"].unique())
    order = np.random.default_rng(seed).permutation(listeners)
    n_test = max(1, round(test_fraction * len(order)))
    n_val = round(val_fraction * len(order))
    test, val = set(order[:n_test]), set(order[n_test : n_test + n_val])
    in_test = logs["listener_id"].isin(test)
    in_val = logs["listener_id"].isin(val)
    return Split(
        train=logs[~in_test & ~in_val].reset_index(drop=True),
        val=logs[in_val].reset_index(drop=True),
        test=logs[in_test].reset_index(drop=True),
        kind="listener",
    )


def split_by_track(
    logs: pd.DataFrame,
    n_tracks: int,
    test_fraction: float = 0.15,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_session_fraction: float = 0.2,
) -> Split:
    """Hold out a share of the catalog: its rows never reach training or validation.

    A share of sessions is held out as test context; the rows of test tracks in
    them are the ones scored. Train/val sessions drop every test-track row (the
    remaining rows keep their original positions).
    """
    _fractions_ok(test_fraction, val_fraction)
    rng = np.random.default_rng(seed)
    test_tracks = np.sort(
        rng.choice(n_tracks, size=max(1, round(test_fraction * n_tracks)), replace=False)
    )
    sessions = rng.permutation(np.sort(logs["session_id"].unique()))
    n_test = max(1, round(test_session_fraction * len(sessions)))
    n_val = round(val_fraction * len(sessions))
    test_sessions, val_sessions = set(sessions[:n_test]), set(sessions[n_test : n_test + n_val])
    in_test = logs["session_id"].isin(test_sessions)
    in_val = logs["session_id"].isin(val_sessions)
    seen = ~logs["track_id"].isin(test_tracks)
    return Split(
        train=logs[~in_test & ~in_val & seen].reset_index(drop=True),
        val=logs[in_val & seen].reset_index(drop=True),
        test=logs[in_test].reset_index(drop=True),
        kind="track",
        test_tracks=test_tracks,
    )


def bootstrap_listeners(logs: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Listeners drawn with replacement (as many as there are): the logs an ensemble member sees.

    A listener drawn j > 0 times more is copied with fresh listener and session ids, so each copy
    keeps its own sessions in order (and its earlier sessions as context).
    """
    listeners = np.sort(logs["listener_id"].unique())
    drawn = np.random.default_rng(seed).choice(listeners, size=len(listeners), replace=True)
    copies = pd.Series(drawn).value_counts()
    listener_span = int(logs["listener_id"].max()) + 1
    session_span = int(logs["session_id"].max()) + 1
    parts = []
    for copy in range(int(copies.max())):
        chosen = copies.index[copies.to_numpy() > copy]
        part = logs[logs["listener_id"].isin(chosen)].copy()
        part["listener_id"] += copy * listener_span
        part["session_id"] += copy * session_span
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(
        ["session_id", "position"], kind="stable", ignore_index=True
    )
