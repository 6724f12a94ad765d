"""Tests of benchmarks/seeds/poster.py: the logged policy's continuations of the start sessions."""

from __future__ import annotations

import pandas as pd

from benchmarks.seeds.poster import logged_continuations


def test_logged_continuations_skip_the_starting_history() -> None:
    logs = pd.DataFrame(
        {
            "session_id": [5, 5, 5, 5, 9, 9, 9],
            "position": [3, 0, 1, 2, 0, 1, 2],
            "track_id": [13, 10, 11, 12, 20, 21, 22],
            "skipped": [True, False, False, False, False, True, False],
        }
    )
    tracks, skipped = logged_continuations(logs, [9, 5, 9], skip_first=2, length=1)
    assert [t.tolist() for t in tracks] == [[22], [12], [22]]
    assert [s.tolist() for s in skipped] == [[False], [False], [False]]
