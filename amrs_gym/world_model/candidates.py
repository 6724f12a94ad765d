"""Candidate features: how a candidate track relates to what the session has played (torch-free).

Three numbers per candidate, in this order (`N_CANDIDATE_FEATURES`): its earlier plays in
the session, its largest cosine similarity to a played track (0 before the first), and its
mean similarity to the last three played tracks. Every rollout path computes them here;
training computes the same three for whole sequences at once (`WorldModel`), and a test holds
the two to each other.
"""

from __future__ import annotations

from typing import cast

import numpy as np


def candidate_features(
    played_tracks: np.ndarray, played: np.ndarray, candidates: np.ndarray, track_unit: np.ndarray
) -> np.ndarray:
    """Features of each candidate (n, k) given each session's played tracks.

    # (n, k, 3) float32

    Args:
        played_tracks: the session's tracks in order, -1 beyond `played`.  # (n, >= played.max())
        played: how many tracks each session has played.  # (n,)
        candidates: candidate track ids.  # (n, k)
        track_unit: unit-length content embedding of every track.  # (n_tracks, dim)
    """
    width = max(int(played.max()), 1)
    history = played_tracks[:, :width]
    known: np.ndarray = np.arange(width)[None, :] < played[:, None]  # (n, width)
    similarity = track_unit[candidates] @ track_unit[np.maximum(history, 0)].transpose(0, 2, 1)
    repeats = ((candidates[:, :, None] == history[:, None, :]) & known[:, None]).sum(-1)
    max_sim = (
        np.where(known[:, None], similarity, -1.0).max(-1).clip(min=0)
        * cast(np.ndarray, known.any(-1))[:, None]
    )
    recent = known & (np.arange(width)[None, :] >= played[:, None] - 3)
    recent_sim = (similarity * recent[:, None]).sum(-1) / np.maximum(recent.sum(-1), 1)[:, None]
    return np.stack([repeats, max_sim, recent_sim], axis=-1).astype(np.float32)
