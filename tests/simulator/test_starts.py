"""amrs_gym/simulator/starts.py: listener profiles come from each listener's earlier sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from amrs_gym.simulator.starts import listener_profiles

UNIT = np.eye(3, dtype=np.float32)


def _logs(rows: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["listener_id", "session_id", "track_id", "engagement"])


def test_a_profile_is_the_engagement_weighted_mean_of_earlier_sessions_only() -> None:
    logs = _logs(
        [
            (7, 10, 0, 1.0),  # listener 7, first session: tracks 0 and 1
            (7, 10, 1, 0.5),
            (7, 12, 2, 1.0),  # second session: track 2
            (7, 15, 0, 1.0),  # third session
            (8, 11, 2, 0.0),  # listener 8: nothing engaged in the first session
            (8, 13, 1, 1.0),
        ]
    )
    profiles = listener_profiles(logs.sample(frac=1, random_state=0), UNIT)  # any row order
    np.testing.assert_array_equal(profiles[10], [0, 0, 0])  # no earlier session
    np.testing.assert_allclose(profiles[12], [1 / 1.5, 0.5 / 1.5, 0])
    np.testing.assert_allclose(profiles[15], [1 / 2.5, 0.5 / 2.5, 1 / 2.5])
    np.testing.assert_array_equal(profiles[11], [0, 0, 0])
    np.testing.assert_array_equal(profiles[13], [0, 0, 0])  # zero engagement tells nothing
    assert all(np.linalg.norm(p) <= 1 + 1e-6 for p in profiles.values())


def test_a_session_never_sees_its_own_or_later_tracks() -> None:
    logs = _logs([(1, 1, 0, 1.0), (1, 2, 1, 1.0), (1, 3, 2, 1.0)])
    before = listener_profiles(logs, UNIT)
    after = listener_profiles(pd.concat([logs, _logs([(1, 4, 0, 1.0), (1, 2, 2, 1.0)])]), UNIT)
    np.testing.assert_array_equal(before[2], after[2])  # its own extra track changed nothing
    np.testing.assert_array_equal(before[1], after[1])
