"""Turning logged sessions into padded tensors for the world model.

A session of T tracks becomes T context tokens (track + its observed feedback)
preceded by a start token (mode, cohort, starting report) and, when the listener
has an earlier session in the same logs, the last tracks of that session
(`segment` 0: what the listener did before). The model predicts track t's outcome
from every token before it; only current-session rows (`segment` 1) are scored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import torch

from amrs_gym.world_model.feedback import FEEDBACK_DIM, FEEDBACK_FIELDS, feedback_vector


@dataclass
class SessionTensors:
    """A padded batch of sessions: inputs and (masked) targets."""

    track: torch.Tensor  # (batch, seq_len) long, 0 where padded
    position: torch.Tensor  # (batch, seq_len) long, position within the token's own session
    segment: torch.Tensor  # (batch, seq_len) long, 0 previous session, 1 current session
    feedback: torch.Tensor  # (batch, seq_len, FEEDBACK_DIM + extra)
    mode: torch.Tensor  # (batch,) long
    cohort: torch.Tensor  # (batch,) long
    start: torch.Tensor  # (batch, 2) starting valence/arousal report
    valid: torch.Tensor  # (batch, seq_len) bool, real tokens (either segment)
    skipped: torch.Tensor  # (batch, seq_len) float
    engagement: torch.Tensor  # (batch, seq_len) float
    rating: torch.Tensor  # (batch, seq_len) float, nan when not given
    valence: torch.Tensor  # (batch, seq_len) float, nan when not given
    arousal: torch.Tensor  # (batch, seq_len) float, nan when not given
    scored: (
        torch.Tensor
    )  # (batch, seq_len) bool, current-session rows that count in losses and metrics
    row: (
        torch.Tensor
    )  # (batch, seq_len) long, positional index of the token's row in the input frame, -1 pad
    propensity: torch.Tensor  # (batch, seq_len) float, the logging policy's, nan when unknown

    def __len__(self) -> int:
        return int(self.track.shape[0])

    def index(self, rows: torch.Tensor | slice) -> SessionTensors:
        """The sessions at `rows`, with padding beyond their longest sequence cut off."""
        valid = self.valid[rows]
        width = int(valid.any(0).nonzero().max()) + 1 if valid.any() else 1
        return SessionTensors(
            **{
                f.name: getattr(self, f.name)[rows]
                if getattr(self, f.name).dim() == 1 or f.name == "start"
                else getattr(self, f.name)[rows][:, :width]
                for f in fields(self)
            }
        )

    @property
    def lengths(self) -> torch.Tensor:
        """Tokens per sequence (previous-session context included).

        # (batch,)
        """
        return self.valid.sum(1)


def sessions_to_tensors(
    logs: pd.DataFrame,
    mode_column: str = "mode",
    mode_values: tuple[str, ...] = ("energize", "focus", "calm", "sleep"),
    cohort_column: str = "cohort",
    cohort_values: tuple[str, ...] = ("consumer", "clinical"),
    extra_feedback: tuple[str, ...] = (),
    hidden_feedback: np.ndarray | None = None,
    scored: np.ndarray | None = None,
    previous_tracks: int = 40,
) -> SessionTensors:
    """Pad sessions (sorted by session_id then position) into tensors.

    Args:
        logs: rows in the log schema; `valence_start`/`arousal_start` may be absent (zeros).
        mode_column: the column giving the session's mode.
        mode_values: the categories of `mode_column`.
        cohort_column: the column giving the session's cohort.
        cohort_values: the categories of `cohort_column`.
        extra_feedback: further numeric per-row columns appended to the feedback vector.
        hidden_feedback: per-row bool, True where a row's feedback must not be shown as input.
        scored: per-row bool, rows that count in losses and metrics (default all).
        previous_tracks: how many of the listener's most recent earlier tracks (from the sessions
            before this one in `logs`, newest last) to prepend; 0 turns cross-session context off.
    """
    order = np.lexsort((logs["position"].to_numpy(), logs["session_id"].to_numpy()))
    keep = np.ones(len(logs), bool) if scored is None else np.asarray(scored, bool)[order]
    hidden = (
        np.zeros(len(logs), bool)
        if hidden_feedback is None
        else np.asarray(hidden_feedback, bool)[order]
    )
    logs = logs.iloc[order]
    session = logs["session_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    lengths = np.diff(np.r_[starts, len(session)])
    # the listener's earlier sessions (in session_id order) supply up to `previous_tracks`
    # context rows
    listener = (
        logs["listener_id"].to_numpy()[starts]
        if "listener_id" in logs.columns
        else np.arange(len(starts))
    )
    by_listener = np.lexsort((session[starts], listener))
    previous = np.full(len(starts), -1)
    same = listener[by_listener][1:] == listener[by_listener][:-1]
    previous[by_listener[1:][same]] = by_listener[:-1][same]
    source, step, row, segment = [], [], [], []
    for b in range(len(starts)):
        parts: list[tuple[np.ndarray, int]] = []
        budget, p = previous_tracks, previous[b]
        while budget > 0 and p >= 0:  # walk back through earlier sessions, newest first
            take = min(budget, lengths[p])
            parts.insert(0, (np.arange(starts[p] + lengths[p] - take, starts[p] + lengths[p]), 0))
            budget, p = budget - take, previous[p]
        parts.append((np.arange(starts[b], starts[b] + lengths[b]), 1))
        offset = 0
        for indices, seg in parts:
            source.append(indices)
            step.append(np.arange(offset, offset + len(indices)))
            row.append(np.full(len(indices), b))
            segment.append(np.full(len(indices), seg))
            offset += len(indices)
    source_rows, step_index, batch_row = (
        np.concatenate(source),
        np.concatenate(step),
        np.concatenate(row),
    )
    segments = np.concatenate(segment)
    batch, seq_len = len(starts), int(step_index.max()) + 1
    positions = logs["position"].to_numpy()[source_rows]
    is_current = segments == 1

    def pad(values: np.ndarray, fill: float, dtype: torch.dtype) -> torch.Tensor:
        out = np.full((batch, seq_len, *values.shape[1:]), fill, dtype=np.float64)
        out[batch_row, step_index] = values
        return torch.as_tensor(out, dtype=dtype)

    def column(name: str) -> np.ndarray:
        values: np.ndarray = logs[name].to_numpy(dtype=np.float64, na_value=np.nan)[source_rows]
        return values

    rating = column("rating")
    valence, arousal = column("valence_report"), column("arousal_report")
    engagement = column("engagement")
    skipped = logs["skipped"].to_numpy().astype(np.float64)[source_rows]
    shown = ~hidden[source_rows]
    fb = feedback_vector(
        engagement, skipped, rating, valence, arousal, present=shown.astype(np.float64)
    )
    if extra_feedback:
        extra = np.stack([column(c) for c in extra_feedback], axis=1) * shown[:, None]
        fb = np.concatenate([fb, extra], axis=1)
    first = logs.iloc[starts]

    def codes(name: str, values: tuple[str, ...]) -> torch.Tensor:
        if name not in logs.columns:
            return torch.zeros(batch, dtype=torch.long)
        lookup = {v: i for i, v in enumerate(values)}
        return torch.as_tensor([lookup.get(str(v), 0) for v in first[name]], dtype=torch.long)

    if "valence_start" in logs.columns:
        start = np.stack(
            [first["valence_start"].to_numpy(float), first["arousal_start"].to_numpy(float)], 1
        )
    else:
        start = np.zeros((batch, 2))
    return SessionTensors(
        track=pad(logs["track_id"].to_numpy()[source_rows], 0, torch.long),
        position=pad(positions, 0, torch.long),
        segment=pad(segments, 1, torch.long),
        feedback=pad(fb, 0.0, torch.float32),
        mode=codes(mode_column, mode_values),
        cohort=codes(cohort_column, cohort_values),
        start=torch.as_tensor(start, dtype=torch.float32),
        valid=pad(np.ones(len(source_rows)), 0, torch.bool),
        skipped=pad(skipped, 0.0, torch.float32),
        engagement=pad(engagement, 0.0, torch.float32),
        rating=pad(rating, np.nan, torch.float32),
        valence=pad(valence, np.nan, torch.float32),
        arousal=pad(arousal, np.nan, torch.float32),
        scored=pad((keep[source_rows] & is_current).astype(np.float64), 0, torch.bool),
        row=pad(order[source_rows], -1, torch.long),
        propensity=pad(
            column("propensity")
            if "propensity" in logs.columns
            else np.full(len(source_rows), np.nan),
            np.nan,
            torch.float32,
        ),
    )


__all__ = [
    "FEEDBACK_DIM",
    "FEEDBACK_FIELDS",
    "SessionTensors",
    "feedback_vector",
    "sessions_to_tensors",
]
