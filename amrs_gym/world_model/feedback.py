"""The feedback vector of a context token: what was observed after a track (torch-free)."""

from __future__ import annotations

import numpy as np

#: feedback vector of a context token, in this order.
FEEDBACK_FIELDS = (
    "present",  # 1 when the feedback of this step is known (0: only the track is known)
    "engagement",  # fraction listened, [0, 1]
    "skipped",
    "like",
    "dislike",
    "rated",
    "valence_report",
    "arousal_report",
    "reported",
)
FEEDBACK_DIM = len(FEEDBACK_FIELDS)


def feedback_vector(
    engagement: np.ndarray,
    skipped: np.ndarray,
    rating: np.ndarray,
    valence_report: np.ndarray,
    arousal_report: np.ndarray,
    present: np.ndarray | None = None,
) -> np.ndarray:
    """Encode observed feedback; missing ratings/reports become 0 with their flag off.

    # (..., 9)
    """
    rated = ~np.isnan(rating)
    reported = ~np.isnan(valence_report) & ~np.isnan(arousal_report)
    present = np.ones_like(engagement) if present is None else present
    out = np.stack(
        [
            present,
            engagement,
            skipped.astype(np.float64),
            rated & (rating == 1),
            rated & (rating == 0),
            rated,
            np.where(reported, valence_report, 0.0),
            np.where(reported, arousal_report, 0.0),
            reported,
        ],
        axis=-1,
    ).astype(np.float64)
    masked: np.ndarray = out * present[..., None]
    return masked
