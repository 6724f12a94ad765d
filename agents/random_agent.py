"""`random`: a uniformly random track at every step (the floor every agent should clear)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.base import BaseAgent
from amrs_gym.envs.sessions import ListeningSessions


@dataclass(frozen=True)
class RandomConfig:
    """Nothing to configure but the seed and the catalog size."""

    seed: int = 0
    n_tracks: int = 1200
    """Size of the catalog drawn from."""


class RandomAgent(BaseAgent):
    """Uniform over the catalog."""

    name: ClassVar[str] = "random"
    config_type: ClassVar[type] = RandomConfig

    def action_probabilities(self, observation: np.ndarray, sessions: ListeningSessions | None = None) -> np.ndarray:
        """1 / n_tracks everywhere.  # (n, n_tracks)"""
        return np.full((len(np.atleast_2d(observation)), self.config.n_tracks), 1.0 / self.config.n_tracks)

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False, *, sessions: ListeningSessions | None = None) -> tuple[np.ndarray, Any]:
        """A random track per observation."""
        return self.rng.integers(0, self.config.n_tracks, len(np.atleast_2d(observation))), state
