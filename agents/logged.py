"""`logged`: the production policy that produced the logs, replayed as an agent.

It scores tracks by popularity, fit to the mode, its (noisy) estimate of the listener's taste
and continuity with the previous track, so it needs the listener's id and the session's
tracks: it reads them from the env's sessions (`needs_sessions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from agents.base import DistributionAgent, require_sessions
from amrs_gym import defaults
from amrs_gym.envs.sessions import ListeningSessions
from amrs_gym.modes import mode_index
from amrs_gym.reference_world.production_policy import ProductionPolicy
from amrs_gym.reference_world.world import SessionState


@dataclass(frozen=True)
class LoggedConfig:
    """The production policy is fixed by the default logs' config; only sampling is seeded."""

    seed: int = 0


@lru_cache(maxsize=1)
def production_policy() -> ProductionPolicy:
    """The policy that logged the default sessions."""
    return defaults.default_dataset_config().build_world(defaults.default_catalog())[1]


class LoggedAgent(DistributionAgent):
    """The logging policy: its probabilities are the logs' propensities."""

    name: ClassVar[str] = "logged"
    config_type: ClassVar[type] = LoggedConfig
    needs_sessions: ClassVar[bool] = True

    def action_probabilities(self, observation: np.ndarray, sessions: ListeningSessions | None = None) -> np.ndarray:
        """The production policy's distribution over the catalog in each session.  # (n, n_tracks)"""
        sessions = require_sessions(self.name, sessions, len(np.atleast_2d(observation)))
        state = SessionState(
            listener=sessions.listener, mode=np.full(sessions.n, mode_index(self.mode)),
            valence=np.zeros(sessions.n), arousal=np.zeros(sessions.n),
            history=sessions.played, position=np.minimum(sessions.t, sessions.played.shape[1]),
        )  # fmt: skip
        return production_policy().probabilities(state, sessions.last[:, 1] > 0.5)

