"""The world model: a causal transformer over a session that predicts a listener's response.

Sequence layout: index 0 is a start token (mode, cohort, starting report); then
come the last tracks of the listener's previous session (segment 0), then the
current session's tracks (segment 1), each a token of track content + observed
feedback. To predict the next track, a query built from the candidate track's
content (plus how often / how closely it repeats this session) cross-attends to
every earlier token and reads the summary at the newest one.

The same module serves training (whole sessions, causal masks) and rollouts
(`start` / `observe` / `predict` on a batch, with key/value caches so a step
costs one token, not the whole history).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amrs_gym.world_model.candidates import candidate_features
from amrs_gym.world_model.config import N_CANDIDATE_FEATURES, WorldModelConfig
from amrs_gym.world_model.features import SessionTensors


@dataclass
class Prediction:
    """Predicted response distributions for candidate tracks.  Every field is (batch, k)."""

    skip_logit: torch.Tensor
    engagement_logits: torch.Tensor  # (batch, k, 2, bins): [not skipped, skipped]
    like_logit: torch.Tensor
    valence_mean: torch.Tensor
    valence_log_std: torch.Tensor
    arousal_mean: torch.Tensor
    arousal_log_std: torch.Tensor
    context: torch.Tensor  # (batch, d_model) summary of the history the prediction used

    @property
    def skip_probability(self) -> torch.Tensor:
        """P(skip)."""
        return torch.sigmoid(self.skip_logit)

    @property
    def like_probability(self) -> torch.Tensor:
        """P(like | rated)."""
        return torch.sigmoid(self.like_logit)

    def expected_engagement(self) -> torch.Tensor:
        """E[fraction listened], mixing the skipped and kept engagement distributions."""
        bins = self.engagement_logits.shape[-1]
        centres = (torch.arange(bins, dtype=torch.float32) + 0.5) / bins
        means = (self.engagement_logits.softmax(-1) * centres).sum(-1)  # (batch, k, 2)
        p = self.skip_probability
        return (1 - p) * means[..., 0] + p * means[..., 1]


class _Block(nn.Module):
    """Pre-norm transformer block with causal self-attention and a key/value cache path."""

    def __init__(self, config: WorldModelConfig):
        super().__init__()
        d = config.d_model
        self.heads = config.n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, config.ff_dim), nn.GELU(), nn.Linear(config.ff_dim, d))
        self.dropout = nn.Dropout(config.dropout)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, length, head_dim)
        return q, k, v

    def _finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        batch, _, length, _ = attended.shape
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, -1)))
        result: torch.Tensor = x + self.dropout(self.ff(self.norm2(x)))
        return result

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Whole sequences; `mask` (length, length) is True where attention is allowed."""
        q, k, v = self._split(x)
        p = self.dropout.p if self.training else 0.0
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p))

    def step(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor], position: torch.Tensor
    ) -> torch.Tensor:
        """One new token per row (batch, 1, d) written at `position` (batch,) in the cache."""
        q, k, v = self._split(x)
        keys, values = cache
        rows = torch.arange(x.shape[0])
        keys[rows, :, position] = k[:, :, 0]
        values[rows, :, position] = v[:, :, 0]
        allowed = torch.arange(keys.shape[2]) <= position[:, None]  # (batch, max_len + 1)
        return self._finish(
            x, F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed[:, None, None])
        )


@dataclass
class ModelState:
    """Cached rollout state of a batch of sessions (see `WorldModel.start`)."""

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
        """Overwrite `rows` with `other` (used when a vector env resets some sessions)."""
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


class WorldModel(nn.Module):
    """Joint predictor of engagement, skip, like and post-track valence/arousal."""

    # buffers registered in __init__ (declared for the type checker)
    track_features: torch.Tensor  # (n_tracks, n_features)
    track_unit: torch.Tensor  # (n_tracks, n_features), rows of unit length

    def __init__(self, config: WorldModelConfig, track_features: torch.Tensor | np.ndarray):
        super().__init__()
        self.config = config
        d = config.d_model
        if d % config.n_heads:
            raise ValueError("d_model must be divisible by n_heads")
        if isinstance(track_features, torch.Tensor):
            features = track_features.detach().clone().float()
        else:  # a private copy: catalog arrays may be read-only
            features = torch.from_numpy(np.array(track_features, dtype=np.float32))
        if not config.use_content:
            features = torch.zeros_like(features)
        self.register_buffer("track_features", features, persistent=False)
        unit = features / features.norm(dim=1, keepdim=True).clamp_min(1e-8)
        self.register_buffer("track_unit", unit, persistent=False)
        n_features = features.shape[1]
        self.context_track = nn.Linear(n_features, d)
        self.context_feedback = nn.Linear(config.feedback_dim, d)
        self.query_track = nn.Linear(n_features, d)
        self.query_candidate = nn.Linear(N_CANDIDATE_FEATURES, d)
        self.mode_embedding = nn.Embedding(config.n_modes, d)
        self.cohort_embedding = nn.Embedding(config.n_cohorts, d)
        self.start_report = nn.Linear(2, d)
        self.start_token = nn.Parameter(torch.zeros(d))
        self.position_table = nn.Embedding(config.position_cap + 1, d)
        self.segment = nn.Embedding(2, d)
        if config.encoder == "transformer":
            self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        else:
            self.gru = nn.GRU(d, d, num_layers=config.n_layers, batch_first=True)
        self.norm = nn.LayerNorm(d)
        self.memory = nn.Linear(d, 2 * d)
        self.query_norm = nn.LayerNorm(d)
        self.head = nn.Sequential(
            nn.Linear(3 * d, config.ff_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.ff_dim, config.ff_dim),
            nn.GELU(),
            nn.Linear(config.ff_dim, 1 + 2 * config.engagement_bins + 1 + 4),
        )
        nn.init.normal_(self.start_token, std=0.02)

    # ----- shared pieces -------------------------------------------------------------------

    @property
    def n_tracks(self) -> int:
        """Catalog size this model was built for."""
        return int(self.track_features.shape[0])

    def position(self, index: torch.Tensor) -> torch.Tensor:
        """Embedding of sequence positions, capped at `position_cap`."""
        embedding: torch.Tensor = self.position_table(index.clamp_max(self.config.position_cap))
        return embedding

    def _session(
        self, mode: torch.Tensor, cohort: torch.Tensor, start: torch.Tensor
    ) -> torch.Tensor:
        if not self.config.use_affect:
            start = torch.zeros_like(start)
        session: torch.Tensor = (
            self.mode_embedding(mode) + self.cohort_embedding(cohort) + self.start_report(start)
        )
        return session

    def _context_tokens(self, track: torch.Tensor, feedback: torch.Tensor) -> torch.Tensor:
        if not self.config.use_affect:
            feedback = feedback.clone()
            feedback[..., 6:9] = 0.0  # valence_report, arousal_report, reported
        track_part: torch.Tensor = self.context_track(self.track_features[track])
        tokens: torch.Tensor = track_part + self.context_feedback(feedback)
        return tokens

    def _heads(
        self, query: torch.Tensor, attended: torch.Tensor, last: torch.Tensor, context: torch.Tensor
    ) -> Prediction:
        out = self.head(torch.cat([query, attended, last], dim=-1))
        bins = self.config.engagement_bins
        shape = out.shape[:-1]
        return Prediction(
            skip_logit=out[..., 0],
            engagement_logits=out[..., 1 : 1 + 2 * bins].reshape(*shape, 2, bins),
            like_logit=out[..., 1 + 2 * bins],
            valence_mean=torch.tanh(out[..., 2 + 2 * bins]),
            valence_log_std=out[..., 3 + 2 * bins].clamp(-5, 1),
            arousal_mean=torch.tanh(out[..., 4 + 2 * bins]),
            arousal_log_std=out[..., 5 + 2 * bins].clamp(-5, 1),
            context=context,
        )

    def _split_memory(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length, d = hidden.shape
        heads = self.config.n_heads
        kv = self.memory(hidden).view(batch, length, 2, heads, d // heads)
        return kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(
            1, 2
        )  # (batch, heads, length, head_dim)

    def _attend(
        self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """Candidate queries (batch, k, d) over memory; allowed (batch or 1, k, length)."""
        batch, k, d = query.shape
        heads = self.config.n_heads
        q = self.query_norm(query).view(batch, k, heads, d // heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed[:, None])
        return out.transpose(1, 2).reshape(batch, k, d)

    # ----- training: whole sessions --------------------------------------------------------

    def forward(self, batch: SessionTensors) -> Prediction:
        """Predict every token's track (token t sees the start token and tokens < t)."""
        cfg = self.config
        n, seq_len = batch.track.shape
        if seq_len > cfg.max_len:
            raise ValueError(f"sequences of {seq_len} tracks exceed max_len={cfg.max_len}")
        session = self._session(batch.mode, batch.cohort, batch.start)  # (n, d)
        place = self.position(batch.position + 1) + self.segment(batch.segment)  # (n, seq_len, d)
        start = self.start_token + self.position(torch.zeros(1, dtype=torch.long))
        tokens = torch.cat(
            [start.expand(n, 1, -1), self._context_tokens(batch.track, batch.feedback) + place], 1
        )
        tokens = tokens + session[:, None]  # (n, seq_len + 1, d)
        index = torch.arange(seq_len + 1)
        causal = index[None, :] <= index[:, None]
        if not cfg.use_history:
            causal = (index[None, :] == 0).expand(seq_len + 1, -1)
        hidden = self._encode(tokens, causal)  # (n, seq_len + 1, d)
        keys, values = self._split_memory(hidden)
        candidate = self._candidate_features_full(batch.track, batch.segment)
        query = (
            self.query_track(self.track_features[batch.track])
            + self.query_candidate(candidate)
            + self.position(batch.position + 1)
            + self.segment(torch.ones_like(batch.segment))
            + session[:, None]
        )  # (n, seq_len, d)
        allowed = causal[:-1][None]  # query t sees memory 0..t
        attended = self._attend(query, keys, values, allowed)
        last = hidden[:, :-1] if cfg.use_history else hidden[:, :1].expand(-1, seq_len, -1)
        return self._heads(query, attended, last, context=last)

    def _encode(self, tokens: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor
        if self.config.encoder == "transformer":
            x = tokens
            for block in self.blocks:
                x = block(x, causal)
            hidden = self.norm(x)
            return hidden
        if not self.config.use_history:
            out, _ = self.gru(tokens[:, :1])
            hidden = self.norm(out.expand(-1, tokens.shape[1], -1))
            return hidden
        out, _ = self.gru(tokens)
        hidden = self.norm(out)
        return hidden

    def _candidate_features_full(self, track: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
        """`candidate_features` of every row's own track at once.

        Row t against the earlier rows of its session (a test holds the two to each other).
        """
        n, seq_len = track.shape
        if not self.config.use_history:
            return torch.zeros(n, seq_len, N_CANDIDATE_FEATURES)
        unit = self.track_unit[track]
        similarity = unit @ unit.transpose(1, 2)  # (n, seq_len, seq_len)
        index = torch.arange(seq_len)
        earlier = (index[None, :] < index[:, None]) & (segment[:, None, :] == segment[:, :, None])
        recent = earlier & (index[None, :] >= index[:, None] - 3)
        repeats = ((track[:, :, None] == track[:, None, :]) & earlier).sum(-1).float()
        max_sim = similarity.masked_fill(~earlier, -1.0).amax(-1).clamp_min(0) * earlier.any(-1)
        recent_sim = (similarity * recent).sum(-1) / recent.sum(-1).clamp_min(1)
        return torch.stack([repeats, max_sim, recent_sim], dim=-1)

    # ----- rollouts: one token at a time ---------------------------------------------------

    def start(self, mode: torch.Tensor, cohort: torch.Tensor, start: torch.Tensor) -> ModelState:
        """Begin a batch of sessions: encode the start token."""
        cfg = self.config
        n, d = mode.shape[0], cfg.d_model
        heads, head_dim, slots = cfg.n_heads, cfg.d_model // cfg.n_heads, cfg.max_len + 1
        session = self._session(mode, cohort, start)
        state = ModelState(
            session=session,
            length=torch.zeros(n, dtype=torch.long),
            played=torch.zeros(n, dtype=torch.long),
            tracks=torch.full((n, cfg.max_len), -1, dtype=torch.long),
            caches=[
                (torch.zeros(n, heads, slots, head_dim), torch.zeros(n, heads, slots, head_dim))
                for _ in range(cfg.n_layers if cfg.encoder == "transformer" else 0)
            ],
            gru_hidden=torch.zeros(cfg.n_layers, n, d) if cfg.encoder == "gru" else None,
            memory_keys=torch.zeros(n, heads, slots, head_dim),
            memory_values=torch.zeros(n, heads, slots, head_dim),
            last_hidden=torch.zeros(n, d),
        )
        self._push(
            state,
            (self.start_token + self.position(torch.zeros(1, dtype=torch.long))).expand(n, -1),
        )
        return state

    def observe(
        self,
        state: ModelState,
        track: torch.Tensor,
        feedback: torch.Tensor,
        previous_position: torch.Tensor | None = None,
    ) -> None:
        """Append one track (batch,) with its feedback (batch, feedback_dim) to the context.

        By default the track was just played in the current session. Rows where
        `previous_position` (batch,) is >= 0 instead hold a track of the listener's previous
        session at that position (history given before the current session's first track).
        """
        if int(state.length.max()) > self.config.max_len:
            raise ValueError(f"context is full (max_len={self.config.max_len} tracks)")
        rows = torch.arange(track.shape[0])
        previous = torch.full_like(track, -1) if previous_position is None else previous_position
        current = previous < 0
        state.tracks[rows[current], state.played[current]] = track[current]
        position = torch.where(current, state.played, previous) + 1
        place = self.position(position) + self.segment(current.long())
        state.played = state.played + current.long()
        if not self.config.use_history:
            return
        self._push(state, self._context_tokens(track, feedback) + place)

    def _push(self, state: ModelState, token: torch.Tensor) -> None:
        position = state.length
        x = (token + state.session)[:, None]  # (batch, 1, d)
        if self.config.encoder == "transformer":
            for block, cache in zip(self.blocks, state.caches, strict=True):
                # self.blocks holds only _Block modules
                x = cast(_Block, block).step(x, cache, position)
        else:
            assert state.gru_hidden is not None
            x, state.gru_hidden = self.gru(x, state.gru_hidden)
        hidden = self.norm(x)  # (batch, 1, d)
        keys, values = self._split_memory(hidden)
        rows = torch.arange(hidden.shape[0])
        state.memory_keys[rows, :, position] = keys[:, :, 0]
        state.memory_values[rows, :, position] = values[:, :, 0]
        state.last_hidden = hidden[:, 0]
        state.length = position + 1

    def predict(self, state: ModelState, candidates: torch.Tensor) -> Prediction:
        """Predict the response to each candidate (batch, k) as the next track of each session."""
        n, k = candidates.shape
        if self.config.use_history:
            features = candidate_features(
                state.tracks.numpy(),
                state.played.numpy(),
                candidates.numpy(),
                self.track_unit.numpy(),
            )
            candidate = torch.from_numpy(features)
        else:
            candidate = torch.zeros(n, k, N_CANDIDATE_FEATURES)
        query = (
            self.query_track(self.track_features[candidates])
            + self.query_candidate(candidate)
            + (self.position(state.played + 1) + self.segment.weight[1] + state.session)[:, None]
        )  # (n, k, d)
        slots = state.memory_keys.shape[2]
        limit = state.length
        allowed = (torch.arange(slots) < limit[:, None])[:, None].expand(n, k, slots)
        attended = self._attend(query, state.memory_keys, state.memory_values, allowed)
        return self._heads(
            query, attended, state.last_hidden[:, None].expand(n, k, -1), state.last_hidden
        )
