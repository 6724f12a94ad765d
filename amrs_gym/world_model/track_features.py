"""The track features a world model reads: the catalog's content and, optionally, popularity.

A production policy plays the tracks it expects to please more often, so how often the training
logs show a track says something about it that its content does not. A world model that reads only
content regresses every track towards what its content predicts: on the shipped bundle's
validation listeners it overrates the engagement of tracks the training logs show fewer than 50
times by +0.06 and underrates those shown over 200 times by -0.07 (benchmarks/NOTES.md, "The
world model's tracks: popularity in the logs"). `WorldModelConfig.track_popularity` appends the
popularity as one more feature column. Content similarity (the candidate features) leaves it out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amrs_gym.world_model.config import WorldModelConfig


def track_plays(logs: pd.DataFrame, n_tracks: int) -> np.ndarray:
    """How often `logs` play each track (int64, one count per catalog row)."""
    tracks = logs["track_id"].to_numpy(dtype=np.int64)
    plays: np.ndarray = np.bincount(tracks, minlength=n_tracks)[:n_tracks]
    return plays


def track_popularity(logs: pd.DataFrame, n_tracks: int) -> np.ndarray:
    """Each track's plays in `logs` as log(1 + plays), standardised over the catalog.

    # (n_tracks,) float32; zeros if every track is played equally often
    """
    popularity = np.log1p(track_plays(logs, n_tracks).astype(np.float64))
    spread = popularity.std()
    centred = popularity - popularity.mean()
    standardised: np.ndarray = (centred / spread if spread > 0 else centred).astype(np.float32)
    return standardised


def model_track_features(
    content: np.ndarray, config: WorldModelConfig, training_logs: pd.DataFrame | None = None
) -> np.ndarray:
    """The track features a model of `config` reads.

    The catalog's `content` (n_tracks, n_features), then the tracks' popularity in
    `training_logs` if `config.track_popularity`.

    Raises:
        ValueError: popularity asked for without training logs.
    """
    content = np.asarray(content, dtype=np.float32)
    if not config.track_popularity:
        return content
    if training_logs is None:
        raise ValueError("track_popularity needs the training logs to count plays in")
    features: np.ndarray = np.c_[content, track_popularity(training_logs, len(content))]
    return features


def content_columns(features: np.ndarray, config: WorldModelConfig) -> np.ndarray:
    """The catalog's content in a model's track features (popularity, the last column, left out)."""
    return features[:, :-1] if config.track_popularity else features


def content_unit(features: np.ndarray, config: WorldModelConfig) -> np.ndarray:
    """Unit-length content rows of a model's track features.

    What the candidates' similarity to the listener's history is computed from.
    """
    content = content_columns(features, config)
    norms = np.maximum(np.linalg.norm(content, axis=1, keepdims=True), 1e-8)
    unit: np.ndarray = (content / norms).astype(np.float32)
    return unit
