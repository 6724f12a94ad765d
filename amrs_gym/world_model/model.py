"""The world model: a causal transformer over a session that predicts a listener's response.

Sequence layout: index 0 is a start token (mode, cohort, starting report); then
come the last tracks of the listener's previous session (segment 0), then the
current session's tracks (segment 1), each a token of track content + observed
feedback. To predict the next track, a query built from the candidate track's
content (plus how often / how closely it repeats this session) cross-attends to
every earlier token and reads the summary at the newest one.

This module is the training path (whole sessions, causal masks); `torch_rollout` runs the
same weights one token at a time with key/value caches (a step costs one token, not the
whole history), and `rollout` mirrors that path in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amrs_gym.world_model.candidates import propensity_feature
from amrs_gym.world_model.config import N_CANDIDATE_FEATURES, WorldModelConfig
from amrs_gym.world_model.features import SessionTensors
from amrs_gym.world_model.track_features import content_unit


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


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    def __init__(self, config: WorldModelConfig):
        super().__init__()
        d = config.d_model
        self.heads = config.n_heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, config.ff_dim), nn.GELU(), nn.Linear(config.ff_dim, d))
        self.dropout = nn.Dropout(config.dropout)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of a sequence, each (batch, heads, length, head_dim)."""
        batch, length, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, length, head_dim)
        return q, k, v

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The residual output projection and feed-forward sublayer after attention."""
        batch, _, length, _ = attended.shape
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, -1)))
        result: torch.Tensor = x + self.dropout(self.ff(self.norm2(x)))
        return result

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Whole sequences; `mask` (length, length) is True where attention is allowed."""
        q, k, v = self.split_heads(x)
        p = self.dropout.p if self.training else 0.0
        return self.finish(x, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p))


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
        unit = torch.from_numpy(content_unit(features.numpy(), config))
        self.register_buffer("track_unit", unit, persistent=False)
        n_features = features.shape[1]
        self.context_track = nn.Linear(n_features, d)
        self.context_feedback = nn.Linear(config.feedback_dim, d)
        self.query_track = nn.Linear(n_features, d)
        self.query_candidate = nn.Linear(config.candidate_features, d)
        self.mode_embedding = nn.Embedding(config.n_modes, d)
        self.cohort_embedding = nn.Embedding(config.n_cohorts, d)
        self.start_report = nn.Linear(2, d)
        self.start_token = nn.Parameter(torch.zeros(d))
        self.position_table = nn.Embedding(config.position_cap + 1, d)
        self.segment = nn.Embedding(2, d)
        if config.encoder == "transformer":
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
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

    def session_embedding(
        self, mode: torch.Tensor, cohort: torch.Tensor, start: torch.Tensor
    ) -> torch.Tensor:
        """The start token's embedding of mode, cohort and starting report, (batch, d)."""
        if not self.config.use_affect:
            start = torch.zeros_like(start)
        session: torch.Tensor = (
            self.mode_embedding(mode) + self.cohort_embedding(cohort) + self.start_report(start)
        )
        return session

    def context_tokens(self, track: torch.Tensor, feedback: torch.Tensor) -> torch.Tensor:
        """Context tokens, (..., d): track content plus observed feedback."""
        if not self.config.use_affect:
            feedback = feedback.clone()
            feedback[..., 6:9] = 0.0  # valence_report, arousal_report, reported
        track_part: torch.Tensor = self.context_track(self.track_features[track])
        tokens: torch.Tensor = track_part + self.context_feedback(feedback)
        return tokens

    def output_heads(
        self, query: torch.Tensor, attended: torch.Tensor, last: torch.Tensor, context: torch.Tensor
    ) -> Prediction:
        """The prediction heads over [query, attended memory, newest hidden state]."""
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

    def split_memory(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the memory the candidate queries attend to."""
        batch, length, d = hidden.shape
        heads = self.config.n_heads
        kv = self.memory(hidden).view(batch, length, 2, heads, d // heads)
        return kv[:, :, 0].transpose(1, 2), kv[:, :, 1].transpose(
            1, 2
        )  # (batch, heads, length, head_dim)

    def attend(
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
        session = self.session_embedding(batch.mode, batch.cohort, batch.start)  # (n, d)
        place = self.position(batch.position + 1) + self.segment(batch.segment)  # (n, seq_len, d)
        start = self.start_token + self.position(torch.zeros(1, dtype=torch.long))
        tokens = torch.cat(
            [start.expand(n, 1, -1), self.context_tokens(batch.track, batch.feedback) + place], 1
        )
        tokens = tokens + session[:, None]  # (n, seq_len + 1, d)
        index = torch.arange(seq_len + 1)
        causal = index[None, :] <= index[:, None]
        if not cfg.use_history:
            causal = (index[None, :] == 0).expand(seq_len + 1, -1)
        hidden = self._encode(tokens, causal)  # (n, seq_len + 1, d)
        keys, values = self.split_memory(hidden)
        candidate = self._candidate_features_full(batch.track, batch.segment)
        if cfg.production_propensity:
            propensity = propensity_feature(batch.propensity.numpy(), len(self.track_features))
            candidate = torch.cat([candidate, torch.from_numpy(propensity)[..., None]], -1)
        query = (
            self.query_track(self.track_features[batch.track])
            + self.query_candidate(candidate)
            + self.position(batch.position + 1)
            + self.segment(torch.ones_like(batch.segment))
            + session[:, None]
        )  # (n, seq_len, d)
        allowed = causal[:-1][None]  # query t sees memory 0..t
        attended = self.attend(query, keys, values, allowed)
        last = hidden[:, :-1] if cfg.use_history else hidden[:, :1].expand(-1, seq_len, -1)
        return self.output_heads(query, attended, last, context=last)

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
