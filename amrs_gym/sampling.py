"""Drawing from discrete distributions with given uniforms, so callers control the random stream."""

from __future__ import annotations

import numpy as np


def sample_categorical(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix, by inverse CDF of the uniforms.

    The uniforms (n,) are in [0, 1). Rows need not be normalised: each uniform is scaled by its
    row's total.

    Example:
        >>> sample_categorical(np.array([[0.2, 0.8], [1.0, 0.0]]), np.array([0.5, 0.99]))
        array([1, 0])
    """
    cumulative = np.cumsum(probabilities, axis=1)
    draws = uniforms[:, None] * cumulative[:, -1:]
    result: np.ndarray = np.minimum((cumulative < draws).sum(axis=1), probabilities.shape[1] - 1)
    return result
