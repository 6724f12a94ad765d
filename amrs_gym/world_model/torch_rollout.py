"""`TorchRollout`.

Any trained `WorldModel` (transformer or GRU) behind the `ListenerModel` protocol.

It drives the torch module's own incremental path (`start` / `observe` / `predict` with
key/value caches or the GRU's hidden state), numpy in and out. It is several times slower
per step than `NumpyRollout`, which mirrors only the transformer; use it for other encoders
and ablations, or as the reference the fast path is tested against.
"""

from __future__ import annotations

import numpy as np
import torch

from amrs_gym.world_model.feedback import feedback_vector
from amrs_gym.world_model.model import ModelState, WorldModel
from amrs_gym.world_model.protocol import Feedback, StartBatch, StepPrediction


def _feedback_tensor(feedback: Feedback) -> torch.Tensor:
    vector = feedback_vector(
        feedback.engagement,
        feedback.skipped,
        feedback.rating,
        feedback.valence_report,
        feedback.arousal_report,
    )
    return torch.from_numpy(vector.astype(np.float32))


class TorchRollout:
    """A `WorldModel` in eval mode, stepped without gradients."""

    def __init__(self, model: WorldModel):
        """Wrap `model` (switched to eval mode)."""
        self.model = model.eval()

    @property
    def n_tracks(self) -> int:
        """Catalog size of the model."""
        return self.model.n_tracks

    @property
    def context_size(self) -> int:
        """Width of the context vector."""
        return int(self.model.config.d_model)

    @property
    def max_tracks(self) -> int:
        """Most tracks a session's context holds."""
        return int(self.model.config.max_len)

    @torch.no_grad()
    def start(self, starts: StartBatch) -> ModelState:
        """Encode the start tokens, then each history (rows grouped by history length)."""
        state = self.model.start(
            torch.tensor(starts.mode, dtype=torch.long),
            torch.tensor(starts.cohort, dtype=torch.long),
            torch.tensor(starts.start_report, dtype=torch.float32),
        )
        feedback = _feedback_tensor(starts.history_feedback)  # (n, L, feedback_dim)
        tracks = torch.tensor(np.maximum(starts.history_tracks, 0), dtype=torch.long)
        positions = torch.tensor(starts.history_positions, dtype=torch.long)
        for length in np.unique(starts.history_length[starts.history_length > 0]):
            rows = torch.from_numpy(np.flatnonzero(starts.history_length == length))
            part = state.select(rows)
            for step in range(int(length)):
                self.model.observe(
                    part,
                    tracks[rows, step],
                    feedback[rows, step],
                    previous_position=positions[rows, step],
                )
            state.assign(rows, part)
        return state

    @torch.no_grad()
    def observe(self, state: ModelState, tracks: np.ndarray, feedback: Feedback) -> None:
        """Append the track each session just played, with the listener's feedback."""
        self.model.observe(
            state, torch.tensor(tracks, dtype=torch.long), _feedback_tensor(feedback)
        )

    @torch.no_grad()
    def predict(self, state: ModelState, candidates: np.ndarray) -> StepPrediction:
        """Predicted response to each candidate (n, k)."""
        prediction = self.model.predict(state, torch.tensor(candidates, dtype=torch.long))
        return StepPrediction(
            skip_probability=prediction.skip_probability.double().numpy(),
            engagement_probabilities=prediction.engagement_logits.softmax(-1).double().numpy(),
            like_probability=prediction.like_probability.double().numpy(),
            valence_mean=prediction.valence_mean.double().numpy(),
            valence_std=prediction.valence_log_std.exp().double().numpy(),
            arousal_mean=prediction.arousal_mean.double().numpy(),
            arousal_std=prediction.arousal_log_std.exp().double().numpy(),
        )

    def context(self, state: ModelState) -> np.ndarray:
        """The encoder's output at each session's newest token.

        # (n, d_model)
        """
        return np.asarray(state.last_hidden.numpy(), dtype=np.float32)

    def select(self, state: ModelState, rows: np.ndarray, compact: bool = False) -> ModelState:
        """A copy of sessions `rows` (torch states are never compacted)."""
        return state.select(torch.tensor(rows, dtype=torch.long))

    def assign(self, state: ModelState, rows: np.ndarray, other: ModelState) -> None:
        """Overwrite sessions `rows` of `state` with `other`."""
        state.assign(torch.tensor(rows, dtype=torch.long), other)
