"""What models read of MSSD sessions.

Per-track statistics from training sessions only (this copy of MSSD has no track content features),
and the behaviour columns of a context token.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from benchmarks.mssd_skip.data import CONTEXT_TYPES, TRACK_FOLDS

REASONS_START = ("fwdbtn", "trackdone", "clickrow", "backbtn")
REASONS_END = ("fwdbtn", "trackdone", "endplay", "backbtn")
TRACK_RATES = ("skip_1", "skip_2", "skip_3", "not_skipped")
"""Outcomes whose smoothed per-track rates describe a track."""


class TrackStatistics:
    """Per-track features from training sessions only: MSSD ships no track content here.

    A track is described by log(1 + plays), its skip_1/skip_2/skip_3/not_skipped rates and
    its mean relative session position, each smoothed towards the global value with
    `prior_plays` pseudo-plays, centred on the global value and scaled. A track never seen in
    training gets the prior with 0 plays (a zero vector). Rows of training sessions get
    out-of-fold statistics (from the other folds' sessions) so a row never sees its own label.
    """

    folds = TRACK_FOLDS
    prior_plays = 5.0
    columns = ("seen", "log_plays", *TRACK_RATES, "relative_position")

    def __init__(self, train: pd.DataFrame):
        values = self._values(train)
        self.prior = values[:, 1:].mean(axis=0)  # global rates and mean relative position
        self.scale = np.array([0.25, 0.25, 0.25, 0.25, 0.15])

    @staticmethod
    def _values(frame: pd.DataFrame) -> np.ndarray:
        relative = frame["position"].to_numpy() / np.maximum(
            frame["session_length"].to_numpy() - 1, 1
        )
        rates = [frame[c].to_numpy(dtype=np.float64) for c in TRACK_RATES]
        return np.stack(
            [np.ones(len(frame)), *rates, relative], axis=1
        )  # (rows, 1 + 5): plays, sums

    def _features(self, sums: np.ndarray) -> np.ndarray:
        plays = sums[:, 0]
        smoothed = (sums[:, 1:] + self.prior_plays * self.prior) / (
            plays[:, None] + self.prior_plays
        )
        return np.concatenate(
            [
                (plays > 0)[:, None],
                np.log1p(plays)[:, None] / 2.0,
                (smoothed - self.prior) / self.scale,
            ],
            axis=1,
        ).astype(np.float32)

    def rows(
        self, train: pd.DataFrame, frame: pd.DataFrame, folds: np.ndarray | None
    ) -> np.ndarray:
        """Features of every row of `frame` (n_rows, 7) from the sessions of `train`.

        Args:
            train: The training sessions (every column).
            frame: Rows to describe (only `track_id`, and `session_id` when `folds` is given, are
                read).
            folds: Fold of each training session id when `frame` holds training sessions
                (out-of-fold statistics), else None (statistics of all of `train`).
        """
        values = self._values(train)
        n_tracks = int(max(train["track_id"].max(), frame["track_id"].max())) + 1
        total = np.zeros((n_tracks, values.shape[1]))
        np.add.at(total, train["track_id"].to_numpy(), values)
        track = frame["track_id"].to_numpy()
        sums = total[track]
        if folds is not None:
            train_fold = folds[train["session_id"].to_numpy()]
            by_fold = np.zeros((self.folds, n_tracks, values.shape[1]))
            np.add.at(by_fold, (train_fold, train["track_id"].to_numpy()), values)
            sums = sums - by_fold[folds[frame["session_id"].to_numpy()], track]
        return self._features(sums)


def feedback_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric behaviour and session columns appended to a context token's feedback.

    Only ever shown for rows whose feedback is known (`sessions_to_tensors` zeroes them for
    hidden rows). The base feedback already holds engagement and skip_2.
    """
    out = {
        "skip_1": frame["skip_1"],
        "skip_3": frame["skip_3"],
        "not_skipped": frame["not_skipped"],
        "context_switch": frame["context_switch"],
        "no_pause": frame["no_pause_before_play"],
        "short_pause": frame["short_pause_before_play"],
        "long_pause": frame["long_pause_before_play"],
        "seek_forward": np.log1p(frame["hist_user_behavior_n_seekfwd"]),
        "seek_back": np.log1p(frame["hist_user_behavior_n_seekback"]),
        "shuffle": frame["hist_user_behavior_is_shuffle"],
        "hour": frame["hour_of_day"] / 23.0,
        "premium": frame["premium"],
        "length": frame["session_length"] / 20.0,
    }
    start = frame["hist_user_behavior_reason_start"].astype(str)
    end = frame["hist_user_behavior_reason_end"].astype(str)
    for reason in REASONS_START:
        out[f"start_{reason}"] = start == reason
    for reason in REASONS_END:
        out[f"end_{reason}"] = end == reason
    context = frame["context_type"].astype(str)
    for name in CONTEXT_TYPES:
        out[f"context_{name}"] = context == name
    return pd.DataFrame(
        {f"fb_{k}": np.asarray(v, dtype=np.float64) for k, v in out.items()}, index=frame.index
    )


def session_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """Mode (context type of the session's first track) and cohort (premium) per row."""
    first = frame.sort_values(["session_id", "position"]).groupby("session_id").first()
    mode = first["context_type"].astype(str)
    cohort = first["premium"].astype(bool).map(str)
    ids = frame["session_id"].to_numpy()
    return pd.DataFrame(
        {"mode": mode.loc[ids].to_numpy(), "cohort": cohort.loc[ids].to_numpy()}, index=frame.index
    )


def pair_ids(frame: pd.DataFrame) -> np.ndarray:
    """One token id per (session, track) pair; a track repeated within a session keeps its id.

    Track features then differ by session: out-of-fold statistics for training sessions.
    """
    return frame.groupby(["session_id", "track_id"], sort=False).ngroup().to_numpy()


def track_table(pairs: np.ndarray, features: np.ndarray) -> torch.Tensor:
    """The feature table of the token ids `pairs`, row `pairs[i]` holding `features[i]`."""
    table = np.zeros((int(pairs.max()) + 1, features.shape[1]), dtype=np.float32)
    table[pairs] = features
    return torch.as_tensor(table)  # (n_pairs, len(TrackStatistics.columns))
