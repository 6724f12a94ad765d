"""`SessionView`: what an agent that needs more than the observation may read of its sessions.

The production policy needs the listener's id; greedy needs the world model's one-step
utility of candidate tracks. Such an agent is bound once to the view of the sessions it will
act in (`agents.bind(agent, env)`), and reads it at each `predict`. The view cannot change
the sessions: arrays come back read-only, and the world model is asked only for predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from amrs_gym.reference_world import ProductionPolicy
    from amrs_gym.simulator.sessions import ListeningSessions


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class SessionView:
    """A read-only window on n listening sessions (rows in the order of their observations)."""

    def __init__(self, sessions: ListeningSessions):
        """View `sessions` (their current state is read at every access)."""
        self._sessions = sessions

    @property
    def n(self) -> int:
        """Number of sessions."""
        return self._sessions.n

    @property
    def mode(self) -> str:
        """The sessions' mode."""
        return self._sessions.mode

    @property
    def n_tracks(self) -> int:
        """Catalog size."""
        return self._sessions.catalog.n_tracks

    @property
    def listener(self) -> np.ndarray:
        """Each session's listener id.

        # (n,)
        """
        return _read_only(self._sessions.listener)

    @property
    def played(self) -> np.ndarray:
        """Tracks each session has played this episode, in order, -1 padded.

        # (n, episode_length)
        """
        return _read_only(self._sessions.played)

    @property
    def step(self) -> np.ndarray:
        """Tracks played so far in each episode.

        # (n,)
        """
        return _read_only(self._sessions.t)

    @property
    def last_skipped(self) -> np.ndarray:
        """Whether each session's last track was skipped (False before the first).

        # (n,)
        """
        return self._sessions.last[:, 1] > 0.5

    def production_policy(self) -> ProductionPolicy:
        """The policy that logged the sessions' bundle (`NoTruthError` if it has no truth)."""
        return self._sessions.config.resolved_bundle.production_policy()

    @property
    def pessimism(self) -> float:
        """The sessions' own lambda (0 unless they are pessimistic world-model sessions)."""
        return float(self._sessions.pessimism)

    def one_step_utility(
        self,
        candidates: np.ndarray,
        rows: np.ndarray | None = None,
        pessimism: float | None = None,
        member: int | None = None,
    ) -> np.ndarray:
        """The world model's expected utility of each candidate as the next track.

        Minus `pessimism` (default: the sessions' own) times the ensemble's disagreement on it;
        or, with `member` and no pessimism, that ensemble member's alone (a cheap screen).

        # (rows, k)
        """
        return self._sessions.predicted_utility(candidates, rows, pessimism, member)

    def true_one_step_utility(
        self, candidates: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The reference world's own expected utility of each candidate, from the latent state.

        A ceiling no deployable agent has; reference-world sessions only.

        # (rows, k)
        """
        return self._sessions.reference_utility(candidates, rows)
