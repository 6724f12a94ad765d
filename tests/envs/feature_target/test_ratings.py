"""Tests of amrs_gym/envs/feature_target/ratings.py.

The exact distance distribution and thresholds.
"""

from __future__ import annotations

import doctest
import itertools
from typing import Any

import numpy as np
import pytest

from amrs_gym.envs.feature_target import FeatureTargetEnv, ratings
from amrs_gym.envs.feature_target.ratings import (
    distance_counts,
    rating_for_distance,
    rating_thresholds,
)


def brute_force_distances(dims: int, levels: int) -> np.ndarray:
    """Manhattan distance of every (cell, target) pair, by enumeration."""
    cells = np.array(list(itertools.product(range(levels), repeat=dims)))  # (levels**dims, dims)
    distances: np.ndarray = np.abs(cells[:, None, :] - cells[None, :, :]).sum(axis=-1)
    return distances.ravel()


@pytest.mark.parametrize(("dims", "levels"), [(1, 2), (1, 7), (2, 5), (3, 4), (3, 5), (4, 3)])
def test_distance_counts_match_enumeration(dims: int, levels: int) -> None:
    distances = brute_force_distances(dims, levels)
    expected = np.bincount(distances, minlength=dims * (levels - 1) + 1)
    counts = distance_counts(dims, levels)
    assert counts == expected.tolist()
    assert sum(counts) == levels ** (2 * dims)


def test_distance_counts_are_exact_for_large_grids() -> None:
    counts = distance_counts(12, 10)
    assert sum(counts) == 10**24  # beyond float64's exact integers
    assert counts[0] == 10**12


@pytest.mark.parametrize(("dims", "levels"), [(1, 5), (2, 5), (3, 5), (3, 4), (4, 5), (2, 9)])
@pytest.mark.parametrize("percentiles", ["top", "wider"])
def test_thresholds_are_inverted_cdf_percentiles(dims: int, levels: int, percentiles: Any) -> None:
    distances = brute_force_distances(dims, levels)
    edges = ratings.PERCENTILE_PRESETS[percentiles]
    expected = tuple(
        int(np.percentile(distances, edge, method="inverted_cdf")) for edge in edges[1:-1]
    )
    assert rating_thresholds(dims, levels, percentiles) == expected


def test_top_and_wider_thresholds_differ_as_expected() -> None:
    # 2-D, 5 levels: P(D <= 0) = 4 % and P(D <= 1) = 16.8 %.
    assert rating_thresholds(2, 5, "top") == (0, 1, 2, 3)
    assert rating_thresholds(2, 5, "wider") == (1, 1, 2, 3)
    top = FeatureTargetEnv(percentiles="top")
    wider = FeatureTargetEnv(percentiles="wider")
    assert top.thresholds == (0, 1, 2, 3) and wider.thresholds == (1, 1, 2, 3)
    # One step from the target: a near miss for TopTarget, a bullseye for WiderTopTarget.
    assert top.reset(options={"target": (2, 3)})[1]["rating"] == 3
    assert wider.reset(options={"target": (2, 3)})[1]["rating"] == 4
    for dims, levels in [(1, 5), (2, 5), (3, 5), (4, 5), (2, 3), (3, 10)]:
        top_q = rating_thresholds(dims, levels, "top")
        wider_q = rating_thresholds(dims, levels, "wider")
        assert top_q[0] == 0  # levels**dims <= 10000: only the target rates 4
        assert wider_q[0] >= top_q[0]
        assert top_q[1:] == wider_q[1:]  # the bands agree from 15 % up
        assert list(top_q) == sorted(top_q)
    assert rating_thresholds(3, 5, "wider")[0] == 2  # P(D <= 1) = 4.64 % < 5 %


def test_top_threshold_grows_on_huge_grids() -> None:
    # P(D = 0) = 10**-5 < 0.01 %, so distance 1 also falls in the top band.
    assert rating_thresholds(5, 10, "top")[0] >= 1
    assert rating_for_distance(0, rating_thresholds(5, 10, "top")) == 4


def test_custom_percentiles() -> None:
    assert rating_thresholds(2, 5, [0, 1, 2, 3, 4, 100]) == (0, 0, 0, 0)
    assert rating_thresholds(2, 5, (0.0, 16.8, 36.64, 58.4, 77.6, 100.0)) == (1, 2, 3, 4)
    env = FeatureTargetEnv(percentiles=(0, 16.8, 36.64, 58.4, 77.6, 100))
    assert [rating_for_distance(d, env.thresholds) for d in range(9)] == [4, 4, 3, 2, 1, 0, 0, 0, 0]


def test_doctests_run() -> None:
    assert doctest.testmod(ratings).failed == 0
