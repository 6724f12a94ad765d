"""`logged`: the production policy that produced the logs, replayed as an agent.

It plays the policy of the bundle whose sessions it is bound to, so it exists only for bundles
whose logs came from a reference world (elsewhere binding it raises `NoTruthError`).

It scores tracks by popularity, fit to the mode, its (noisy) estimate of the listener's taste
and continuity with the previous track, so it needs the listener's id: it is session-aware
(bind it first, `agents.bind(agent, env)`). The played tracks come from its recurrent state,
whether the last one was skipped from the observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from agents.base import DistributionAgent
from amrs_gym.modes import mode_index
from amrs_gym.reference_world import ProductionPolicy
from amrs_gym.simulator import LAST_SKIPPED_INDEX, SessionView


@dataclass(frozen=True)
class LoggedConfig:
    """The production policy is fixed by the bundle's reference world; only sampling is seeded."""

    seed: int = 0


class LoggedAgent(DistributionAgent):
    """The logging policy: its probabilities are the logs' propensities."""

    name: ClassVar[str] = "logged"
    config_type: ClassVar[type] = LoggedConfig
    needs_view: ClassVar[bool] = True
    needs_truth: ClassVar[bool] = True
    """Only bundles whose logs came from a reference world know their production policy."""

    def bind(self, view: SessionView | None) -> Self:
        """Read `view` when acting; refuses sessions whose bundle has no production policy."""
        if view is not None:
            view.production_policy()  # NoTruthError, naming the bundle, when there is none
        return super().bind(view)

    def production(self, view: SessionView) -> ProductionPolicy:
        """The production policy it plays: the bound sessions' bundle's."""
        return view.production_policy()

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The production policy's distribution over the catalog in each session.

        # (n, n_tracks)
        """
        obs = np.atleast_2d(observation)
        view = self._bound_view(len(obs))
        played = (
            np.full((len(obs), 0), -1, dtype=np.int64)
            if state is None
            else np.asarray(state, dtype=np.int64)
        )
        return self.production(view).track_probabilities(
            listener=view.listener,
            mode=np.full(len(obs), mode_index(self.mode)),
            history=played,
            position=(played >= 0).sum(axis=1),
            last_skipped=obs[:, LAST_SKIPPED_INDEX] > 0.5,
        )
