"""The observation an agent sees: the session's state as the world model observes it."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

CONTEXT_BOUND = 10.0
"""The context vector is clipped to [-CONTEXT_BOUND, CONTEXT_BOUND]."""

#: observation layout before the world model's context vector (index, name).
OBS_FIELDS = (
    "mode_energize",
    "mode_focus",
    "mode_calm",
    "mode_sleep",
    "cohort_consumer",
    "cohort_clinical",
    "time_in_session",
    "valence_estimate",
    "arousal_estimate",
    "target_valence",
    "target_arousal",
    "distance_to_target",
    "last_engagement",
    "last_skipped",
    "last_like_probability",
)
TIME_INDEX = OBS_FIELDS.index("time_in_session")
LAST_SKIPPED_INDEX = OBS_FIELDS.index("last_skipped")


def observation_size(context_size: int, profile_size: int = 0) -> int:
    """Length of the observation.

    For a model with this context size and a catalog with this embedding (and profile) size.
    """
    return len(OBS_FIELDS) + context_size + profile_size


def observation_space(context_size: int, profile_size: int = 0) -> spaces.Box:
    """The flat float32 observation Box (layout: OBS_FIELDS, the context vector, the profile)."""
    low = np.array(
        [0] * 7
        + [-1, -1, -1, -1, 0, 0, 0, 0]
        + [-CONTEXT_BOUND] * context_size
        + [-1] * profile_size,
        dtype=np.float32,
    )
    high = np.array(
        [1] * 7
        + [1, 1, 1, 1, 2 * np.sqrt(2), 1, 1, 1]
        + [CONTEXT_BOUND] * context_size
        + [1] * profile_size,
        dtype=np.float32,
    )
    return spaces.Box(low, high, dtype=np.float32)


def build_observations(
    mode: int,
    cohort: np.ndarray,
    time_fraction: np.ndarray,
    affect: np.ndarray,
    target: np.ndarray,
    last: np.ndarray,
    context: np.ndarray,
    profile: np.ndarray,
) -> np.ndarray:
    """Observations of n sessions.

    # (n, len(OBS_FIELDS) + context size + profile size) float32

    Args:
        mode: index of the mode (every session shares it).
        cohort: index of each session's cohort.  # (n,)
        time_fraction: step / episode length.  # (n,)
        affect: the world model's valence/arousal estimate.  # (n, 2)
        target: the mode's target valence/arousal.  # (2,)
        last: last step's engagement, skipped, like probability.  # (n, 3)
        context: the world model's context vector.  # (n, context size)
        profile: the listener's profile from their logged history.  # (n, profile size)
    """
    n, width = len(cohort), context.shape[1]
    obs = np.zeros((n, len(OBS_FIELDS) + width + profile.shape[1]), dtype=np.float32)
    obs[:, mode] = 1.0
    obs[np.arange(n), 4 + cohort] = 1.0
    obs[:, 6] = time_fraction
    obs[:, 7:9] = affect
    obs[:, 9:11] = target
    obs[:, 11] = np.hypot(*(affect - target).T)
    obs[:, 12:15] = last
    obs[:, 15 : 15 + width] = np.clip(context, -CONTEXT_BOUND, CONTEXT_BOUND)
    obs[:, 15 + width :] = profile
    return obs
