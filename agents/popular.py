"""`popular`: the tracks that engaged listeners most in this mode's logs, best first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from agents.base import BaseAgent, TrainingData, time_step
from amrs_gym.envs.sessions import ListeningSessions


@dataclass(frozen=True)
class PopularConfig:
    """Ranking by mean logged engagement, shrunk towards the mode's mean for rarely played tracks."""

    seed: int = 0
    prior_plays: float = 20.0
    """Weight of the mode's mean engagement in each track's estimate, in plays."""
    pool: int = 50
    """When sampling, draw uniformly from this many top tracks."""


class PopularAgent(BaseAgent):
    """Deterministic: the t-th most engaging track at step t. Stochastic: a random one of the top `pool`."""

    name: ClassVar[str] = "popular"
    config_type: ClassVar[type] = PopularConfig

    def __init__(self, mode: str, config: PopularConfig | None = None):
        super().__init__(mode, config)
        self.ranking = np.zeros(0, dtype=np.int64)

    def fit(self, data: TrainingData) -> Self:
        """Rank tracks by shrunk mean engagement in the training listeners' logs of the mode."""
        logs = data.mode_logs
        n = data.catalog.n_tracks
        plays = np.bincount(logs["track_id"], minlength=n)
        total = np.bincount(logs["track_id"], weights=logs["engagement"], minlength=n)
        prior = self.config.prior_plays
        score = (total + prior * logs["engagement"].mean()) / (plays + prior)
        self.ranking = np.argsort(-score, kind="stable")
        return self

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False, *, sessions: ListeningSessions | None = None) -> tuple[np.ndarray, Any]:
        """The next track of the ranking (or a draw from the top of it)."""
        if not len(self.ranking):
            raise RuntimeError("the popular agent has no ranking yet: fit() or load() it first")
        obs = np.atleast_2d(observation)
        step = np.minimum(time_step(obs), len(self.ranking) - 1)
        if deterministic:
            return self.ranking[step], state
        return self.ranking[self.rng.integers(0, min(self.config.pool, len(self.ranking)), len(obs))], state

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"ranking": self.ranking}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.ranking = arrays["ranking"].astype(np.int64)
