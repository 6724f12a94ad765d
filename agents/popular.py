"""`popular`: the tracks that engaged listeners most in this mode's logs, best first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from agents.base import BaseAgent
from agents.data import TrainingData
from agents.weights import AgentFileError


@dataclass(frozen=True)
class PopularConfig:
    """Ranking by mean logged engagement.

    Shrunk towards the mode's mean for rarely played tracks.
    """

    seed: int = 0
    prior_plays: float = 20.0
    """Weight of the mode's mean engagement in each track's estimate, in plays."""
    pool: int = 50
    """When sampling, draw uniformly from this many top tracks."""


class PopularAgent(BaseAgent):
    """The most engaging tracks of the mode's logs.

    Deterministic: the t-th most engaging track at step t. Stochastic: a random one of the top
    `pool`.
    """

    name: ClassVar[str] = "popular"
    config_type: ClassVar[type] = PopularConfig

    def __init__(self, mode: str, config: PopularConfig | None = None):
        """An unfitted ranking."""
        super().__init__(mode, config)
        self.ranking = np.zeros(0, dtype=np.int64)

    def fit(self, data: TrainingData) -> Self:
        """Rank tracks by shrunk mean engagement in the training listeners' logs of the mode."""
        self._adopt(data)
        logs = data.mode_logs
        n = data.catalog.n_tracks
        plays = np.bincount(logs["track_id"], minlength=n)
        total = np.bincount(logs["track_id"], weights=logs["engagement"], minlength=n)
        prior = self.config.prior_plays
        score = (total + prior * logs["engagement"].mean()) / (plays + prior)
        self.ranking = np.argsort(-score, kind="stable")
        return self

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """The next track of the ranking (or a draw from the top of it)."""
        if not len(self.ranking):
            raise RuntimeError("the popular agent has no ranking yet: fit() or load() it first")
        n = len(np.atleast_2d(observation))
        if deterministic:
            step = np.minimum((played >= 0).sum(axis=1), len(self.ranking) - 1)
            ranked: np.ndarray = self.ranking[step]
            return ranked
        drawn: np.ndarray = self.ranking[
            self.rng.integers(0, min(self.config.pool, len(self.ranking)), n)
        ]
        return drawn

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """Its stochastic policy: uniform over the top `pool` of the ranking.

        # (n, n_tracks)
        """
        if not len(self.ranking):
            raise RuntimeError("the popular agent has no ranking yet: fit() or load() it first")
        top = self.ranking[: min(self.config.pool, len(self.ranking))]
        probabilities = np.zeros((len(np.atleast_2d(observation)), self._catalog_size()))
        probabilities[:, top] = 1.0 / len(top)
        return probabilities

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"ranking": self.ranking}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        ranking = arrays["ranking"]
        n_tracks = self.n_tracks or len(ranking)
        if (
            ranking.ndim != 1
            or not np.issubdtype(ranking.dtype, np.integer)
            or len(np.unique(ranking)) != len(ranking)
            or (len(ranking) and (ranking.min() < 0 or ranking.max() >= n_tracks))
        ):
            raise AgentFileError(
                f"the popular agent's ranking must list distinct track ids in [0, {n_tracks})"
            )
        self.ranking = ranking.astype(np.int64)
