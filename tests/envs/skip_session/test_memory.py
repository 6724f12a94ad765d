"""Tests of amrs_gym/envs/skip_session/memory.py.

The logged pairs and their exact nearest neighbours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amrs_gym.catalog import Catalog
from amrs_gym.envs.skip_session import SLOT_SIZE, LoggedPairs, StartHistories
from tests.skip_logs import N_TRACKS, make_logs


def test_ties_go_to_the_lowest_rows(hand_made: pd.DataFrame, catalog: Catalog) -> None:
    pairs = LoggedPairs.from_logs(hand_made, catalog)
    state = pairs.states[np.flatnonzero(pairs.track_ids == 1)[0]]  # "track 0, kept"
    rows, distances = pairs.nearest(state, 1, 3)
    identical = np.flatnonzero((pairs.states == state).all(axis=1) & (pairs.track_ids == 1))
    assert len(identical) == 12
    np.testing.assert_array_equal(rows, identical[:3])
    assert not distances.any()


def test_logged_states_hold_the_previous_tracks(hand_made: pd.DataFrame, catalog: Catalog) -> None:
    logs = make_logs([(7, 3, False, 1.0), (7, 9, True, 0.1), (7, 4, False, 1.0)])
    pairs = LoggedPairs.from_logs(logs, catalog, history_length=5)
    features = catalog.features()
    row = int(np.flatnonzero(pairs.track_ids == 4)[0])
    slots = pairs.states[row].reshape(5, SLOT_SIZE)
    np.testing.assert_allclose(slots[0], [*features[9], 1.0, 0.1, 1.0], rtol=1e-6)
    np.testing.assert_allclose(slots[1], [*features[3], 0.0, 1.0, 1.0], rtol=1e-6)
    assert not slots[2:].any()
    first = int(np.flatnonzero(pairs.track_ids == 3)[0])
    assert not pairs.states[first].any()


@pytest.mark.parametrize("action_weight", [0.3, 1.0, 10.0])
@pytest.mark.parametrize("k", [1, 7])
def test_nearest_is_the_exact_brute_force_answer(
    logs: pd.DataFrame, catalog: Catalog, action_weight: float, k: int
) -> None:
    pairs = LoggedPairs.from_logs(logs, catalog)
    rng = np.random.default_rng(5)
    features = catalog.features()
    for _ in range(20):
        state = pairs.states[rng.integers(pairs.n_rows)] + rng.normal(0, 0.2, pairs.states.shape[1])
        state = state.astype(np.float32)
        track = int(rng.integers(N_TRACKS))
        rows, distances = pairs.nearest(state, track, k, action_weight)
        brute = np.sum((pairs.states - state) ** 2, axis=1) + action_weight**2 * np.sum(
            (features[pairs.track_ids] - features[track]) ** 2, axis=1
        )
        np.testing.assert_allclose(distances**2, np.sort(brute)[:k], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(brute[rows], distances**2, rtol=1e-4, atol=1e-5)
        assert np.all(np.diff(distances) >= 0)


def test_start_histories_pad_short_sessions() -> None:
    logs = make_logs(
        [(1, 3, False, 1.0), (1, 4, True, 0.2), (2, 5, False, 1.0)]
        + [(3, t, False, 1.0) for t in range(7)]
    )
    starts = StartHistories.from_logs(logs, history_length=5)
    assert len(starts) == 3
    np.testing.assert_array_equal(starts.track_ids[0], [3, 4, -1, -1, -1])
    np.testing.assert_array_equal(starts.track_ids[2], [0, 1, 2, 3, 4])
    assert starts.skipped[0, 1] and starts.engagement[0, 1] == pytest.approx(0.2)
