"""Tiny logs on a 40-track catalog for the SkipSession env's tests (shared by its env, memory and
baseline tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from amrs_gym.catalog import Catalog, CatalogConfig

N_TRACKS = 40


def tiny_catalog() -> Catalog:
    """A 40-track synthetic catalog."""
    return CatalogConfig(n_tracks=N_TRACKS, n_clusters=3, seed=1).create()


def make_logs(rows: list[tuple[int, int, bool, float]]) -> pd.DataFrame:
    """Logs from (session_id, track_id, skipped, engagement) rows, positions in order."""
    frame = pd.DataFrame(rows, columns=["session_id", "track_id", "skipped", "engagement"])
    frame["position"] = frame.groupby("session_id").cumcount()
    return frame


def random_logs(n_sessions: int, length: int, seed: int) -> pd.DataFrame:
    """Random sessions on the tiny catalog, skipped tracks listened 0-40 %."""
    rng = np.random.default_rng(seed)
    rows = []
    for session in range(n_sessions):
        for track in rng.choice(N_TRACKS, size=length, replace=False):
            skipped = bool(rng.random() < 0.4)
            rows.append(
                (session, int(track), skipped, float(rng.uniform(0, 0.4)) if skipped else 1.0)
            )
    return make_logs(rows)


def hand_made_logs() -> pd.DataFrame:
    """After track 0 kept, track 1 is always skipped; after track 5 kept, always kept."""
    rows: list[tuple[int, int, bool, float]] = []
    for session in range(12):
        rows += [(session, 0, False, 1.0), (session, 1, True, 0.25)]
    for session in range(12, 24):
        rows += [(session, 5, False, 1.0), (session, 1, False, 1.0)]
    return make_logs(rows)


def start_after(track: int) -> pd.DataFrame:
    """One logged session of one kept track: episodes start after it."""
    return make_logs([(0, track, False, 1.0)])
