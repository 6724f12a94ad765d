"""`greedy`: at every step, the track with the highest one-step utility the world model predicts,
searched over the whole catalog.

It optimises the model, not the listener: it finds the few tracks the model rates highest and
plays them to everyone (see its coverage in the leaderboard). That collapse is the result this
baseline exists to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.base import BaseAgent, require_sessions
from amrs_gym.envs.sessions import ListeningSessions


@dataclass(frozen=True)
class GreedyConfig:
    """Exhaustive one-step search."""

    seed: int = 0
    chunk: int = 32
    """Sessions scored at once (each scores the whole catalog: memory grows with chunk x catalog)."""


class GreedyAgent(BaseAgent):
    """argmax over the catalog of the world model's predicted one-step utility (deterministic)."""

    name: ClassVar[str] = "greedy"
    config_type: ClassVar[type] = GreedyConfig
    needs_sessions: ClassVar[bool] = True

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False, *, sessions: ListeningSessions | None = None) -> tuple[np.ndarray, Any]:
        """The catalog's best track by predicted utility, per session."""
        sessions = require_sessions(self.name, sessions, len(np.atleast_2d(observation)))
        n_tracks = sessions.catalog.n_tracks
        best = np.zeros(sessions.n, dtype=np.int64)
        for first in range(0, sessions.n, self.config.chunk):
            rows = np.arange(first, min(first + self.config.chunk, sessions.n))
            scores = sessions.predicted_utility(np.broadcast_to(np.arange(n_tracks), (len(rows), n_tracks)), rows)
            best[rows] = scores.argmax(axis=1)
        return best, state
