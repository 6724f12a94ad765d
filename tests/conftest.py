"""Shared fixtures.

A small generated dataset for fast tests, and a deliberately simple `ListenerModel` so that
simulator and env logic can be tested with exact numbers, without a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from amrs_gym.data.generate import DatasetConfig, LoggedDataset
from amrs_gym.world_model.protocol import Feedback, StartBatch, StepPrediction


@pytest.fixture(scope="session")
def small_dataset() -> LoggedDataset:
    """400 listeners, 2,000 sessions, seed 0: enough rows for the datasheet's statistical claims."""
    return DatasetConfig(n_listeners=400, n_sessions=2000, seed=0).create()


@dataclass
class StubState:
    """What the stub remembers of each session."""

    played: np.ndarray  # (n,) tracks observed, history included
    last_engagement: np.ndarray  # (n,)


class StubListener:
    """A listener model simple enough to compute by hand (every number is exact in binary):

    - P(skip) = 0.25 for an even track id, 0.75 for an odd one;
    - engagement: 0.75 when kept, 0.25 when skipped (two bins, all mass in one);
    - P(like) = 0.5; valence after = (track % 4) / 4 - 0.5, arousal after = -(track % 2) / 2, std 0;
    - context = (tracks observed, last engagement).
    """

    context_size = 2

    def __init__(self, n_tracks: int = 1200, max_tracks: int = 80):
        self.n_tracks, self.max_tracks = n_tracks, max_tracks
        self.starts: list[StartBatch] = []
        self.observed: list[tuple[np.ndarray, Feedback]] = []

    def start(self, starts: StartBatch) -> StubState:
        self.starts.append(starts)
        return StubState(starts.history_length.astype(np.int64), np.zeros(len(starts)))

    def observe(
        self,
        state: StubState,
        tracks: np.ndarray,
        feedback: Feedback,
        active: np.ndarray | None = None,
    ) -> None:
        self.observed.append((np.array(tracks), feedback))
        live = (
            np.ones(len(tracks), dtype=bool) if active is None else np.asarray(active, dtype=bool)
        )
        state.played = state.played + live
        state.last_engagement = np.where(
            live, np.asarray(feedback.engagement, dtype=np.float64), state.last_engagement
        )

    def predict(self, state: StubState, candidates: np.ndarray) -> StepPrediction:
        odd = (candidates % 2).astype(np.float64)
        kept, skipped = np.array([0.0, 1.0]), np.array([1.0, 0.0])
        engagement = np.broadcast_to(np.stack([kept, skipped]), (*candidates.shape, 2, 2))
        return StepPrediction(
            skip_probability=0.25 + 0.5 * odd,
            engagement_probabilities=engagement.copy(),
            like_probability=np.full(candidates.shape, 0.5),
            valence_mean=(candidates % 4) / 4 - 0.5,
            valence_std=np.zeros(candidates.shape),
            arousal_mean=-odd / 2,
            arousal_std=np.zeros(candidates.shape),
        )

    def context(self, state: StubState) -> np.ndarray:
        return np.stack([state.played, state.last_engagement], 1).astype(np.float32)

    def select(self, state: StubState, rows: np.ndarray, compact: bool = False) -> StubState:
        return StubState(state.played[rows].copy(), state.last_engagement[rows].copy())

    def assign(self, state: StubState, rows: np.ndarray, other: StubState) -> None:
        state.played[rows], state.last_engagement[rows] = other.played, other.last_engagement


@pytest.fixture()
def stub_model() -> StubListener:
    """A fresh stub listener model over the default catalog's 1,200 tracks."""
    return StubListener()
