"""`TorchRollout`: any trained `WorldModel` (transformer or GRU) as a `ListenerModel`.

It runs the torch module's weights one token at a time: key/value caches for the transformer,
the hidden state for the GRU, so a step costs one token. It is several times slower per step
than `NumpyRollout`, which mirrors only the transformer; use it for other encoders and
ablations, or as the reference the fast path is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from amrs_gym.world_model.candidates import append_propensity, candidate_features
from amrs_gym.world_model.config import N_CANDIDATE_FEATURES
from amrs_gym.world_model.feedback import feedback_vector
from amrs_gym.world_model.model import Block, Prediction, WorldModel
from amrs_gym.world_model.protocol import Feedback, StartBatch, StepPrediction


@dataclass
class ModelState:
    """Cached rollout state of a batch of sessions."""

    session: torch.Tensor  # (batch, d_model) mode + cohort + starting-report embedding
    length: torch.Tensor  # (batch,) tokens in the context, start token included
    played: torch.Tensor  # (batch,) tracks of the current session in the context
    tracks: torch.Tensor  # (batch, max_len) the current session's track ids, -1 beyond `played`
    caches: list[tuple[torch.Tensor, torch.Tensor]]  # transformer: per layer (keys, values)
    gru_hidden: torch.Tensor | None  # gru: (layers, batch, d_model)
    memory_keys: torch.Tensor  # (batch, heads, max_len + 1, head_dim) for the candidate query
    memory_values: torch.Tensor
    last_hidden: torch.Tensor  # (batch, d_model) encoder output at the newest token

    def select(self, rows: torch.Tensor) -> ModelState:
        """The state of a subset of rows (a copy)."""
        return ModelState(
            session=self.session[rows],
            length=self.length[rows],
            played=self.played[rows],
            tracks=self.tracks[rows],
            caches=[(k[rows], v[rows]) for k, v in self.caches],
            gru_hidden=None if self.gru_hidden is None else self.gru_hidden[:, rows],
            memory_keys=self.memory_keys[rows],
            memory_values=self.memory_values[rows],
            last_hidden=self.last_hidden[rows],
        )

    def assign(self, rows: torch.Tensor, other: ModelState) -> None:
        """Overwrite `rows` with `other`."""
        self.session[rows] = other.session
        self.length[rows] = other.length
        self.played[rows] = other.played
        self.tracks[rows] = other.tracks
        for (k, v), (k2, v2) in zip(self.caches, other.caches, strict=True):
            k[rows], v[rows] = k2, v2
        if self.gru_hidden is not None and other.gru_hidden is not None:
            self.gru_hidden[:, rows] = other.gru_hidden
        self.memory_keys[rows] = other.memory_keys
        self.memory_values[rows] = other.memory_values
        self.last_hidden[rows] = other.last_hidden


def start_state(
    model: WorldModel, mode: torch.Tensor, cohort: torch.Tensor, start: torch.Tensor
) -> ModelState:
    """Begin a batch of sessions: encode the start token."""
    cfg = model.config
    n, d = mode.shape[0], cfg.d_model
    heads, head_dim, slots = cfg.n_heads, cfg.d_model // cfg.n_heads, cfg.max_len + 1
    layers = cfg.n_layers if cfg.encoder == "transformer" else 0
    state = ModelState(
        session=model.session_embedding(mode, cohort, start),
        length=torch.zeros(n, dtype=torch.long),
        played=torch.zeros(n, dtype=torch.long),
        tracks=torch.full((n, cfg.max_len), -1, dtype=torch.long),
        caches=[
            (torch.zeros(n, heads, slots, head_dim), torch.zeros(n, heads, slots, head_dim))
            for _ in range(layers)
        ],
        gru_hidden=torch.zeros(cfg.n_layers, n, d) if cfg.encoder == "gru" else None,
        memory_keys=torch.zeros(n, heads, slots, head_dim),
        memory_values=torch.zeros(n, heads, slots, head_dim),
        last_hidden=torch.zeros(n, d),
    )
    start_token = model.start_token + model.position(torch.zeros(1, dtype=torch.long))
    _push(model, state, start_token.expand(n, -1))
    return state


def observe_token(
    model: WorldModel,
    state: ModelState,
    track: torch.Tensor,
    feedback: torch.Tensor,
    previous_position: torch.Tensor | None = None,
) -> None:
    """Append one track (batch,) with its feedback vector (batch, feedback_dim) to the context.

    By default the track was just played in the current session. Rows where
    `previous_position` (batch,) is >= 0 instead hold a track of the listener's previous
    session at that position (history given before the current session's first track).
    """
    if int(state.length.max()) > model.config.max_len:
        raise ValueError(f"context is full (max_len={model.config.max_len} tracks)")
    rows = torch.arange(track.shape[0])
    previous = torch.full_like(track, -1) if previous_position is None else previous_position
    current = previous < 0
    state.tracks[rows[current], state.played[current]] = track[current]
    position = torch.where(current, state.played, previous) + 1
    place = model.position(position) + model.segment(current.long())
    state.played = state.played + current.long()
    if model.config.use_history:
        _push(model, state, model.context_tokens(track, feedback) + place)


def _block_step(
    block: Block, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor], position: torch.Tensor
) -> torch.Tensor:
    """One new token per row (batch, 1, d) through `block`, written at `position` in its cache."""
    q, k, v = block.split_heads(x)
    keys, values = cache
    rows = torch.arange(x.shape[0])
    keys[rows, :, position] = k[:, :, 0]
    values[rows, :, position] = v[:, :, 0]
    allowed = torch.arange(keys.shape[2]) <= position[:, None]  # (batch, max_len + 1)
    attended = F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed[:, None, None])
    return block.finish(x, attended)


def _push(model: WorldModel, state: ModelState, token: torch.Tensor) -> None:
    """Run one token per row through the encoder and append it to the memory."""
    position = state.length
    x = (token + state.session)[:, None]  # (batch, 1, d)
    if state.gru_hidden is None:
        for block, cache in zip(model.blocks, state.caches, strict=True):
            x = _block_step(cast(Block, block), x, cache, position)
    else:
        x, state.gru_hidden = model.gru(x, state.gru_hidden)
    hidden = model.norm(x)  # (batch, 1, d)
    keys, values = model.split_memory(hidden)
    rows = torch.arange(hidden.shape[0])
    state.memory_keys[rows, :, position] = keys[:, :, 0]
    state.memory_values[rows, :, position] = values[:, :, 0]
    state.last_hidden = hidden[:, 0]
    state.length = position + 1


def predict_next(
    model: WorldModel,
    state: ModelState,
    candidates: torch.Tensor,
    propensity: np.ndarray | None = None,
) -> Prediction:
    """The response to each candidate (batch, k) as the next track of each session.

    `propensity` (batch, k): the production policy's probability of each candidate, read by a
    model with `production_propensity` (ignored by others).
    """
    n, k = candidates.shape
    if model.config.use_history:
        features = candidate_features(
            state.tracks.numpy(), state.played.numpy(), candidates.numpy(), model.track_unit.numpy()
        )
    else:
        features = np.zeros((n, k, N_CANDIDATE_FEATURES), dtype=np.float32)
    if model.config.production_propensity:
        features = append_propensity(features, propensity, len(model.track_features))
    candidate = torch.from_numpy(features)
    query = (
        model.query_track(model.track_features[candidates])
        + model.query_candidate(candidate)
        + (model.position(state.played + 1) + model.segment.weight[1] + state.session)[:, None]
    )  # (n, k, d)
    slots = state.memory_keys.shape[2]
    allowed = (torch.arange(slots) < state.length[:, None])[:, None].expand(n, k, slots)
    attended = model.attend(query, state.memory_keys, state.memory_values, allowed)
    last = state.last_hidden[:, None].expand(n, k, -1)
    return model.output_heads(query, attended, last, state.last_hidden)


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
        state = start_state(
            self.model,
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
                observe_token(
                    self.model,
                    part,
                    tracks[rows, step],
                    feedback[rows, step],
                    previous_position=positions[rows, step],
                )
            state.assign(rows, part)
        return state

    @torch.no_grad()
    def observe(
        self,
        state: ModelState,
        tracks: np.ndarray,
        feedback: Feedback,
        active: np.ndarray | None = None,
    ) -> None:
        """Append the track each `active` session just played, with the listener's feedback."""
        played, vectors = torch.tensor(tracks, dtype=torch.long), _feedback_tensor(feedback)
        if active is None or np.all(active):
            observe_token(self.model, state, played, vectors)
            return
        rows = torch.from_numpy(np.flatnonzero(active))
        part = state.select(rows)
        observe_token(self.model, part, played[rows], vectors[rows])
        state.assign(rows, part)

    @property
    def reads_propensity(self) -> bool:
        """True if `predict` needs the production policy's propensity of each candidate."""
        return bool(self.model.config.production_propensity)

    @torch.no_grad()
    def predict(
        self, state: ModelState, candidates: np.ndarray, propensity: np.ndarray | None = None
    ) -> StepPrediction:
        """Predicted response to each candidate (n, k) (`propensity`: see `ListenerModel`)."""
        prediction = predict_next(
            self.model, state, torch.tensor(candidates, dtype=torch.long), propensity
        )
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
        """The encoder's output at each session's newest token, (n, d_model)."""
        return np.asarray(state.last_hidden.numpy(), dtype=np.float32)

    def select(self, state: ModelState, rows: np.ndarray, compact: bool = False) -> ModelState:
        """A copy of sessions `rows` (torch states are never compacted)."""
        return state.select(torch.tensor(rows, dtype=torch.long))

    def assign(self, state: ModelState, rows: np.ndarray, other: ModelState) -> None:
        """Overwrite sessions `rows` of `state` with `other`."""
        state.assign(torch.tensor(rows, dtype=torch.long), other)
