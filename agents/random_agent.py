"""`random`: a uniformly random track at every step (the floor every agent should clear)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.base import DistributionAgent


@dataclass(frozen=True)
class RandomConfig:
    """Nothing to configure but the seed (the catalog size comes from the training data)."""

    seed: int = 0


class RandomAgent(DistributionAgent):
    """Uniform over the catalog."""

    name: ClassVar[str] = "random"
    config_type: ClassVar[type] = RandomConfig

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """1 / n_tracks everywhere.

        # (n, n_tracks)
        """
        n_tracks = self._catalog_size()
        return np.full((len(np.atleast_2d(observation)), n_tracks), 1.0 / n_tracks)

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.rng.integers(0, self._catalog_size(), len(np.atleast_2d(observation)))
