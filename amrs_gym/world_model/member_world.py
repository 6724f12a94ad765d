"""`MemberWorld`: one ensemble member's listener, seen through the world model's context.

An agent's observation carries the world model's encoder output (`ListenerModel.context`). Each
member has its own encoder, so a member played alone hands a context-reading agent a
representation it never saw in training, and its behaviour there says nothing about that member's
dynamics. A `MemberWorld` draws responses from member `index` while the world model (member 0)
encodes the same history for the observation's context vector (its affect estimate, a
prediction on the same scale in every member, is the member's): the agent is the one it would be
in the world model, the listener is the member's; an agent that searches the world model
(greedy) searches it here too (`world_model`). The stress benchmark's member worlds are these.
"""

from __future__ import annotations

import numpy as np

from amrs_gym.world_model.protocol import (
    EnsembleModel,
    Feedback,
    ListenerModel,
    ModelState,
    StartBatch,
    StepPrediction,
)
from amrs_gym.world_model.protocol import reads_propensity as model_reads_propensity


class MemberWorld:
    """A `ListenerModel`: member `index`'s predictions, the first member's context."""

    def __init__(self, ensemble: EnsembleModel, index: int):
        """`ensemble` holds the world model first; `index` (>= 1) names the member to play."""
        if not 1 <= index < ensemble.members:
            raise ValueError(f"member must be in [1, {ensemble.members}), got {index!r}")
        self.ensemble, self.index = ensemble, index
        self._member, self._world_model = ensemble.member(index), ensemble.member(0)

    @property
    def n_tracks(self) -> int:
        """Catalog size of the model."""
        return self.ensemble.n_tracks

    @property
    def context_size(self) -> int:
        """Width of the world model's context vector."""
        return self.ensemble.context_size

    @property
    def max_tracks(self) -> int:
        """Most tracks a session's context holds."""
        return self.ensemble.max_tracks

    def start(self, starts: StartBatch) -> ModelState:
        """Encode the starts in the world model and the member alike."""
        return self.ensemble.start(starts)

    def observe(
        self,
        state: ModelState,
        tracks: np.ndarray,
        feedback: Feedback,
        active: np.ndarray | None = None,
    ) -> None:
        """Append the played tracks and feedback to both."""
        self.ensemble.observe(state, tracks, feedback, active)

    @property
    def reads_propensity(self) -> bool:
        """True if `predict` needs the production policy's propensity of each candidate."""
        return model_reads_propensity(self.ensemble)

    def predict(
        self, state: ModelState, candidates: np.ndarray, propensity: np.ndarray | None = None
    ) -> StepPrediction:
        """The member's own prediction (no mixture, no disagreement)."""
        return self._member.predict(state.member(self.index), candidates, propensity)

    def world_model(self, state: ModelState) -> tuple[ListenerModel, ModelState]:
        """The world model alone, with its view of `state`.

        What an agent that searches the world model (greedy) reads here, as anywhere else.
        """
        return self._world_model, state.member(0)

    def context(self, state: ModelState) -> np.ndarray:
        """The world model's context (the first member's), as in every other env."""
        return self.ensemble.context(state)

    def select(self, state: ModelState, rows: np.ndarray, compact: bool = False) -> ModelState:
        """A copy of sessions `rows`."""
        return self.ensemble.select(state, rows, compact)

    def assign(self, state: ModelState, rows: np.ndarray, other: ModelState) -> None:
        """Overwrite sessions `rows` of `state` with `other`."""
        self.ensemble.assign(state, rows, other)
