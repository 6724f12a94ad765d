"""`steer`: a hand-made heuristic that steers by the observation's affect estimate.

Each step it plays a track whose affect lies nearest a point part of the way from the listener's
current affect estimate (the observation's) to the mode's target, never one the episode has
played. It learns nothing: it is the rule a new user writes in thirty lines, the floor a learned
recommender has to clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from agents.base import DistributionAgent
from agents.data import TrainingData
from agents.weights import AgentFileError
from amrs_gym.simulator import OBS_FIELDS

_ESTIMATE = OBS_FIELDS.index("valence_estimate"), OBS_FIELDS.index("arousal_estimate")
_TARGET = OBS_FIELDS.index("target_valence"), OBS_FIELDS.index("target_arousal")


@dataclass(frozen=True)
class SteerConfig:
    """Where to aim, and among how many tracks to draw."""

    seed: int = 0
    step: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0})
    """Share of the way from the affect estimate to the target it aims at (0.5: halfway)."""
    pool: int = 1
    """Draw uniformly among this many unplayed tracks nearest the aim (1: the nearest)."""


class SteerAgent(DistributionAgent):
    """Uniform over the `pool` unplayed tracks whose affect is nearest the aim."""

    name: ClassVar[str] = "steer"
    config_type: ClassVar[type] = SteerConfig

    def __init__(self, mode: str, config: SteerConfig | None = None):
        """An agent that has not read a catalog yet."""
        super().__init__(mode, config)
        self.affect = np.zeros((0, 2))

    def fit(self, data: TrainingData) -> Self:
        """Read the catalog's track affect (nothing is learned)."""
        self._adopt(data)
        self.affect = np.stack([data.catalog.valence, data.catalog.arousal], axis=1)
        return self

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """Uniform over the unplayed tracks nearest each session's aim.

        # (n, n_tracks)
        """
        if not len(self.affect):
            raise RuntimeError("the steer agent has no catalog yet: fit() or load() it first")
        obs = np.atleast_2d(observation)
        estimate, target = obs[:, list(_ESTIMATE)], obs[:, list(_TARGET)]
        aim = estimate + self.config.step * (target - estimate)
        distance = np.linalg.norm(self.affect[None] - aim[:, None], axis=2)  # (n, n_tracks)
        if state is not None:
            played = np.asarray(state, dtype=np.int64).reshape(len(obs), -1)
            rows, columns = np.nonzero(played >= 0)
            distance[rows, played[rows, columns]] = np.inf
        pool = min(self.config.pool, distance.shape[1])
        nearest = np.argpartition(distance, pool - 1, axis=1)[:, :pool]
        probabilities = np.zeros_like(distance)
        np.put_along_axis(probabilities, nearest, 1.0 / pool, axis=1)
        return probabilities

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"affect": self.affect}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        affect = arrays.get("affect")
        if affect is None or affect.ndim != 2 or affect.shape[1] != 2:
            raise AgentFileError("the steer agent file must hold the (n_tracks, 2) track affect")
        self.affect = affect.astype(np.float64)
