"""Drawing from discrete distributions with given uniforms, so callers control the random stream."""

from __future__ import annotations

import numpy as np


def sample_categorical(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One draw per uniform from its row of a (n, k) probability matrix, by inverse CDF.

    The uniforms, (n,) for one draw per row or (n, m) for m, are in [0, 1). Rows need not be
    normalised: each uniform is scaled by its row's total. Each row's CDF is summed once,
    however many draws it gets.

    Example:
        >>> sample_categorical(np.array([[0.2, 0.8], [1.0, 0.0]]), np.array([0.5, 0.99]))
        array([1, 0])
        >>> sample_categorical(np.array([[0.2, 0.8]]), np.array([[0.1, 0.5]]))
        array([[0, 1]])
    """
    uniforms = np.asarray(uniforms)
    cumulative = np.cumsum(probabilities, axis=1)
    draws = uniforms.reshape(len(uniforms), -1) * cumulative[:, -1:]  # (n, m)
    below = (cumulative[:, None, :] < draws[:, :, None]).sum(axis=2)
    result: np.ndarray = np.minimum(below, probabilities.shape[1] - 1).reshape(uniforms.shape)
    return result


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Each row of `probabilities` (n, k) raised to 1 / `temperature` and renormalised.

    Below 1 sharper (towards each row's most likely entry), above 1 softer. Computed in log
    space, so tiny probabilities neither underflow nor divide by zero; zeros stay zero.

    Example:
        >>> tempered(np.array([[0.25, 0.75]]), 0.5)
        array([[0.1, 0.9]])
    """
    with np.errstate(divide="ignore"):
        logits = np.log(probabilities) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    result: np.ndarray = weights / weights.sum(axis=1, keepdims=True)
    return result
