"""Candidate features: how a candidate track relates to what the session has played (torch-free).

Three numbers per candidate, in this order (`N_CANDIDATE_FEATURES`): its earlier plays in
the session, its largest cosine similarity to a played track (0 before the first), and its
mean similarity to the last three played tracks. Every rollout path computes them here;
training computes the same three for whole sequences at once (`WorldModel`), and a test holds
the two to each other. A model with `production_propensity` reads a fourth: the production
policy's propensity of the candidate (`propensity_feature`).
"""

from __future__ import annotations

from typing import cast

import numpy as np

PROPENSITY_RANGE = (-8.0, 5.0)
"""Bounds of `propensity_feature` (e^-8 to e^5 times the uniform propensity)."""


def propensity_feature(propensity: np.ndarray, n_tracks: int) -> np.ndarray:
    """The logging policy's propensity of a candidate as the model reads it.

    log(n_tracks x propensity), clipped to `PROPENSITY_RANGE`: 0 is as likely as a uniform
    draw. Unknown (NaN) propensities read as 0. Same shape as `propensity`, float32.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log(n_tracks * np.asarray(propensity, dtype=np.float64))
    feature = np.asarray(np.clip(value, *PROPENSITY_RANGE))
    feature[np.isnan(feature)] = 0.0  # half the time of nan_to_num on a step's few candidates
    return feature.astype(np.float32)


def append_propensity(
    features: np.ndarray, propensity: np.ndarray | None, n_tracks: int
) -> np.ndarray:
    """`features` (n, k, f) with each candidate's `propensity_feature` as one more column.

    Raises:
        ValueError: no propensity given (a model that reads it cannot predict without it).
    """
    if propensity is None:
        raise ValueError(
            "this world model reads the production policy's propensity of each candidate "
            "(production_propensity=True): pass it as `propensity` (the simulator does, from "
            "the bundle's production policy or `SessionConfig.production`)"
        )
    column = propensity_feature(propensity, n_tracks)
    if column.shape != features.shape[:-1]:
        raise ValueError(
            f"propensity has shape {column.shape}, the candidates {features.shape[:-1]}"
        )
    return np.concatenate([features, column[..., None]], axis=-1)


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
