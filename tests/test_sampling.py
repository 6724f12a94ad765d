"""Draws from discrete distributions with the caller's uniforms."""

from __future__ import annotations

import numpy as np

from amrs_gym.sampling import sample_categorical


def test_many_draws_per_row_are_the_draws_of_repeated_rows() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.random((30, 50)) ** 6
    probabilities[:, :10] = 0.0
    uniforms = rng.random((30, 7))
    many = sample_categorical(probabilities, uniforms)
    one_by_one = sample_categorical(np.repeat(probabilities, 7, axis=0), uniforms.ravel())
    assert many.shape == (30, 7)
    assert np.array_equal(many.ravel(), one_by_one)
    assert (many >= 10).all()  # zero-probability tracks are never drawn
