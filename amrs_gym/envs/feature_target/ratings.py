"""How the thesis's simulated users rate.

The exact distribution of grid distances to a hidden target, and the percentile thresholds that turn
a distance into a rating 0..4.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

import numpy as np

MAX_RATING = 4
"""Best rating; ratings are integers 0..MAX_RATING."""
PercentilePreset = Literal["top", "wider"]
PERCENTILE_PRESETS: dict[PercentilePreset, tuple[float, ...]] = {
    "top": (0.0, 0.01, 15.0, 30.0, 50.0, 100.0),
    "wider": (0.0, 5.0, 15.0, 30.0, 50.0, 100.0),
}
"""Percentile band edges (in %) of the thesis's TopTarget and WiderTopTarget users."""


def is_int(value: object) -> bool:
    """True for Python and NumPy integers, False for bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


MAX_DIMS = 64
"""Most features of a grid: the exact rating thresholds take over a second beyond 64 x 100."""
MAX_LEVELS = 100
"""Most levels per feature."""


def check_grid(dims: object, levels: object) -> None:
    """Refuse a grid the exact distance distribution cannot be computed for in reasonable time."""
    if not is_int(dims) or not 1 <= dims <= MAX_DIMS:  # type: ignore[operator]
        raise ValueError(f"dims must be an integer in 1..{MAX_DIMS}, got {dims!r}")
    if not is_int(levels) or not 2 <= levels <= MAX_LEVELS:  # type: ignore[operator]
        raise ValueError(f"levels must be an integer in 2..{MAX_LEVELS}, got {levels!r}")


def distance_counts(dims: int, levels: int) -> list[int]:
    """Exact distribution of Manhattan distances on the grid {0..levels-1}^dims.

    One coordinate of a uniformly random cell and a uniformly random target
    differs by 0 in `levels` of the `levels**2` pairs and by k >= 1 in
    `2 * (levels - k)` pairs. The coordinates are independent, so the counts of
    the Manhattan distance are the `dims`-fold convolution of that 1-D count
    vector. Integers are exact at any size.

    Args:
        dims: Number of features (grid dimensions), >= 1.
        levels: Number of levels per feature, >= 2.

    Returns:
        `counts[d]` = number of (cell, target) pairs at distance d, for
        d = 0..dims*(levels-1); the counts sum to `levels**(2*dims)`.

    Example:
        >>> distance_counts(1, 3)
        [3, 4, 2]
    """
    check_grid(dims, levels)
    one_dim = np.array([levels] + [2 * (levels - k) for k in range(1, levels)], dtype=object)
    counts = np.array([1], dtype=object)
    for _ in range(int(dims)):
        counts = np.convolve(counts, one_dim)
    return [int(c) for c in counts]


def percentile_edges(
    percentiles: PercentilePreset | Sequence[float],
) -> tuple[float, ...]:
    """Validate `percentiles` and return the 6 band edges in %."""
    if isinstance(percentiles, str):
        if percentiles not in PERCENTILE_PRESETS:
            raise ValueError(
                f"unknown percentiles preset {percentiles!r}; expected one of "
                f"{', '.join(PERCENTILE_PRESETS)} or a sequence of {MAX_RATING + 2} numbers"
            )
        return PERCENTILE_PRESETS[percentiles]
    try:
        edges = tuple(float(p) for p in percentiles)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"percentiles must be 'top', 'wider' or a sequence of numbers, got {percentiles!r}"
        ) from error
    if len(edges) != MAX_RATING + 2:
        raise ValueError(
            f"percentiles needs {MAX_RATING + 2} band edges (one band per rating 0..{MAX_RATING}), "
            f"got {len(edges)}: {edges}"
        )
    if not all(math.isfinite(p) for p in edges):
        raise ValueError(f"percentiles must be finite, got {edges}")
    if edges[0] != 0.0 or edges[-1] != 100.0:
        raise ValueError(f"percentiles must start at 0 and end at 100, got {edges}")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"percentiles must be strictly increasing, got {edges}")
    return edges


def rating_thresholds(
    dims: int, levels: int, percentiles: PercentilePreset | Sequence[float] = "wider"
) -> tuple[int, ...]:
    """Distance thresholds that turn percentile bands into ratings.

    With edges `[0, p1, p2, p3, p4, 100]` (in %) and `F(d)` the exact fraction of
    (cell, target) pairs at distance <= d (`distance_counts`), the threshold of
    edge `p_j` is the inverted-CDF percentile `q_j = min{d : F(d) >= p_j / 100}`
    (computed in exact rational arithmetic). A distance `d` then gets

        rating = 4 - #{j in 1..4 : d > q_j},

    that is 4 for `d <= q_1`, 3 for `q_1 < d <= q_2`, ..., 0 for `d > q_4`.
    Equivalently, `d` gets the band whose `[p_(4-rating), p_(5-rating))` holds
    the fraction of pairs strictly closer than `d`, `F(d - 1)`. Distance 0 has
    no pair strictly closer, so it always gets rating 4. Thresholds can repeat;
    the band between two equal thresholds is then empty.

    Args:
        dims: Number of features (grid dimensions), >= 1.
        levels: Number of levels per feature, >= 2.
        percentiles: `"top"`, `"wider"` or 6 strictly increasing edges from 0 to 100.

    Returns:
        `(q_1, q_2, q_3, q_4)`, non-decreasing distances.

    Example:
        >>> rating_thresholds(2, 5, "top"), rating_thresholds(2, 5, "wider")
        ((0, 1, 2, 3), (1, 1, 2, 3))
    """
    edges = percentile_edges(percentiles)
    counts = distance_counts(dims, levels)
    total = sum(counts)
    # Cumulative counts: cumulative[d] / total = F(d).
    cumulative = list(np.cumsum(np.array(counts, dtype=object)))
    thresholds = []
    for edge in edges[1:-1]:
        # str() keeps the decimal the user wrote: Fraction("0.01") == 1/100 exactly.
        fraction = Fraction(str(edge)) / 100
        thresholds.append(next(d for d, c in enumerate(cumulative) if c >= fraction * total))
    return tuple(thresholds)


def rating_for_distance(distance: int, thresholds: Sequence[int]) -> int:
    """Rating 0..4 of a Manhattan distance, given `rating_thresholds` output."""
    return MAX_RATING - sum(1 for threshold in thresholds if distance > threshold)
