"""Fast rollouts: the trained world model's one-token-per-step path, re-expressed in numpy.

An env step feeds one token per session. At that size the cost is dispatch, not
arithmetic: a 64x64 matmul costs about 10 us through torch and 2 us through numpy on
this machine, and a step needs about a hundred such operations. `NumpyRollout` takes
the weights of a transformer `WorldModel` (from a checkpoint, without torch, or from a
model), precomputes the per-track projections into tables, and implements
the `ListenerModel` protocol; `tests/world_model/test_rollout.py` checks it matches the torch path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from amrs_gym.world_model.candidates import candidate_features
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.feedback import feedback_vector
from amrs_gym.world_model.numpy_ops import gelu, layer_norm, sigmoid, single_threaded_blas, softmax
from amrs_gym.world_model.protocol import Feedback, StartBatch, StepPrediction

if TYPE_CHECKING:
    from amrs_gym.world_model.model import WorldModel


@dataclass
class RolloutState:
    """Cached state of a batch of sessions (numpy twin of `ModelState`)."""

    session: np.ndarray  # (batch, d) mode + cohort + starting-report embedding
    length: np.ndarray  # (batch,) tokens in the context, start token included
    played: np.ndarray  # (batch,) current-session tracks in the context
    tracks: np.ndarray  # (batch, max_len) current-session track ids, -1 beyond `played`
    keys: list[
        np.ndarray
    ]  # per layer (batch, heads, head_dim, slots): transposed, for contiguous matmuls
    values: list[np.ndarray]  # per layer (batch, heads, slots, head_dim)
    memory_keys: np.ndarray  # (batch, heads, head_dim, slots)
    memory_values: np.ndarray  # (batch, heads, slots, head_dim)
    last_hidden: np.ndarray  # (batch, d) encoder output at the newest token

    def select(self, rows: np.ndarray, slots: int | None = None) -> RolloutState:
        """A copy of the state of `rows`, keeping only the first `slots` cache slots if given."""
        cut = slice(None, slots)
        return RolloutState(
            session=self.session[rows],
            length=self.length[rows],
            played=self.played[rows],
            tracks=self.tracks[rows],
            keys=[k[rows][..., cut] for k in self.keys],
            values=[v[rows][:, :, cut] for v in self.values],
            memory_keys=self.memory_keys[rows][..., cut],
            memory_values=self.memory_values[rows][:, :, cut],
            last_hidden=self.last_hidden[rows],
        )

    def assign(self, rows: np.ndarray, other: RolloutState) -> None:
        """Overwrite `rows` with `other` (which may hold fewer cache slots.

        Later slots are never visible).
        """
        for name in ("session", "length", "played", "tracks", "last_hidden"):
            getattr(self, name)[rows] = getattr(other, name)
        slots = other.values[0].shape[2] if other.values else other.memory_values.shape[2]
        for mine, theirs in zip(
            [*self.keys, self.memory_keys], [*other.keys, other.memory_keys], strict=True
        ):
            mine[rows, :, :, :slots] = theirs
        for mine, theirs in zip(
            [*self.values, self.memory_values], [*other.values, other.memory_values], strict=True
        ):
            mine[rows, :, :slots] = theirs


class NumpyRollout:
    """Incremental inference of a trained transformer world model, in numpy."""

    def __init__(
        self, config: WorldModelConfig, state: dict[str, np.ndarray], track_features: np.ndarray
    ):
        """Build from a checkpoint's arrays (`read_checkpoint`) or a model (`from_model`)."""
        if config.encoder != "transformer" or not config.use_history:
            raise ValueError("NumpyRollout needs a transformer world model that uses history")
        self.config = config
        self.heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.scale = np.float32(1.0 / np.sqrt(self.head_dim))  # float32, so products stay float32
        w = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(w[f"{name}.weight"].T), w[f"{name}.bias"]

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return w[f"{name}.weight"], w[f"{name}.bias"]

        features = np.asarray(track_features, dtype=np.float32)
        self.context_track = (
            features @ linear("context_track")[0] + w["context_track.bias"]
        )  # (n_tracks, d)
        self.query_track = features @ linear("query_track")[0] + w["query_track.bias"]
        self.track_unit = features / np.maximum(
            np.linalg.norm(features, axis=1, keepdims=True), 1e-8
        )
        self.context_feedback = linear("context_feedback")
        self.query_candidate = linear("query_candidate")
        self.mode = w["mode_embedding.weight"]
        self.cohort = w["cohort_embedding.weight"]
        self.start_report = linear("start_report")
        self.positions = w["position_table.weight"]
        self.segments = w["segment.weight"]
        self.start_token = w["start_token"] + self.positions[0]
        self.blocks = [
            {
                "norm1": norm(f"blocks.{i}.norm1"),
                "qkv": linear(f"blocks.{i}.qkv"),
                "out": linear(f"blocks.{i}.out"),
                "norm2": norm(f"blocks.{i}.norm2"),
                "ff1": linear(f"blocks.{i}.ff.0"),
                "ff2": linear(f"blocks.{i}.ff.2"),
            }
            for i in range(config.n_layers)
        ]
        self.norm = norm("norm")
        self.memory = linear("memory")
        self.query_norm = norm("query_norm")
        self.head = [linear(f"head.{i}") for i in (0, 3, 5)]

    @classmethod
    def from_model(cls, model: WorldModel) -> NumpyRollout:
        """Mirror a torch model's current weights."""
        state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        return cls(model.config, state, model.track_features.detach().cpu().numpy())

    @property
    def n_tracks(self) -> int:
        """Catalog size of the model."""
        return int(self.context_track.shape[0])

    @property
    def context_size(self) -> int:
        """Width of the context vector (the encoder's output at the newest token)."""
        return int(self.config.d_model)

    @property
    def max_tracks(self) -> int:
        """Most tracks a session's context holds."""
        return int(self.config.max_len)

    def _position(self, index: np.ndarray) -> np.ndarray:
        embedding: np.ndarray = self.positions[np.minimum(index, self.config.position_cap)]
        return embedding

    def start(self, starts: StartBatch) -> RolloutState:
        """Encode each session's start token, then its logged history.

        Rows of different lengths go in one batch: a row past its history sits the step out.
        """
        n = len(starts)
        with single_threaded_blas(n):
            state = self._start_tokens(starts.mode, starts.cohort, starts.start_report)
            history = starts.history_feedback
            vectors = feedback_vector(
                history.engagement,
                history.skipped,
                history.rating,
                history.valence_report,
                history.arousal_report,
            ).astype(np.float32)  # (n, L, feedback_dim)
            lengths = starts.history_length
            rows = np.arange(n)
            for step in range(int(lengths.max(initial=0))):
                index = np.minimum(
                    step, np.maximum(lengths - 1, 0)
                )  # rows past their end repeat it
                self._observe(
                    state,
                    np.maximum(starts.history_tracks[rows, index], 0),
                    vectors[rows, index],
                    previous_position=starts.history_positions[rows, index],
                    active=step < lengths,
                )
        return state

    def _start_tokens(
        self, mode: np.ndarray, cohort: np.ndarray, start: np.ndarray
    ) -> RolloutState:
        """Begin sessions: encode the start token."""
        cfg = self.config
        n = len(mode)
        slots = cfg.max_len + 2  # the last slot is scratch space for rows that sit a step out
        w, b = self.start_report
        report = (
            np.asarray(start, dtype=np.float32) if cfg.use_affect else np.zeros((n, 2), np.float32)
        )
        session = self.mode[mode] + self.cohort[cohort] + report @ w + b

        def cache(transposed: bool = False) -> np.ndarray:
            shape = (
                (n, self.heads, self.head_dim, slots)
                if transposed
                else (n, self.heads, slots, self.head_dim)
            )
            return np.zeros(shape, dtype=np.float32)

        state = RolloutState(
            session=session.astype(np.float32),
            length=np.zeros(n, dtype=np.int64),
            played=np.zeros(n, dtype=np.int64),
            tracks=np.full((n, cfg.max_len), -1, dtype=np.int64),
            keys=[cache(transposed=True) for _ in self.blocks],
            values=[cache() for _ in self.blocks],
            memory_keys=cache(transposed=True),
            memory_values=cache(),
            last_hidden=np.zeros((n, cfg.d_model), dtype=np.float32),
        )
        self._push(
            state, np.broadcast_to(self.start_token, (n, cfg.d_model)), np.ones(n, dtype=bool)
        )
        return state

    def observe(
        self,
        state: RolloutState,
        tracks: np.ndarray,
        feedback: Feedback,
        active: np.ndarray | None = None,
    ) -> None:
        """Append the track each `active` session just played, with the listener's feedback."""
        vector = feedback_vector(
            feedback.engagement,
            feedback.skipped,
            feedback.rating,
            feedback.valence_report,
            feedback.arousal_report,
        ).astype(np.float32)
        with single_threaded_blas(len(tracks)):
            self._observe(state, np.asarray(tracks), vector, active=active)

    def _observe(
        self,
        state: RolloutState,
        track: np.ndarray,
        feedback: np.ndarray,
        previous_position: np.ndarray | None = None,
        active: np.ndarray | None = None,
    ) -> None:
        """Append one track per row with its feedback vector (see `WorldModel.observe`).

        Rows where `active` is False are computed but leave their state unchanged, so
        histories of different lengths can be encoded in one batch without copying state.
        """
        n = len(track)
        active = np.ones(n, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        if int(state.length[active].max(initial=0)) > self.config.max_len:
            raise ValueError(f"context is full (max_len={self.config.max_len} tracks)")
        previous = np.full(n, -1) if previous_position is None else np.asarray(previous_position)
        current = previous < 0
        grows = current & active
        rows = np.arange(n)
        state.tracks[rows[grows], state.played[grows]] = track[grows]
        position = np.where(current, state.played, previous) + 1
        feedback = np.asarray(feedback, dtype=np.float32)
        if not self.config.use_affect:
            feedback = feedback.copy()
            feedback[:, 6:9] = 0.0
        w, b = self.context_feedback
        token = (
            self.context_track[track]
            + feedback @ w
            + b
            + self._position(position)
            + self.segments[current.astype(int)]
        )
        state.played = state.played + grows
        self._push(state, token, active)

    def context(self, state: RolloutState) -> np.ndarray:
        """The encoder's output at each session's newest token.

        # (n, d_model)
        """
        return state.last_hidden

    def select(self, state: RolloutState, rows: np.ndarray, compact: bool = False) -> RolloutState:
        """A copy of sessions `rows`; `compact` keeps only the cache slots already filled."""
        rows = np.asarray(rows, dtype=np.int64)
        return state.select(rows, slots=int(state.length[rows].max(initial=1)) if compact else None)

    def assign(self, state: RolloutState, rows: np.ndarray, other: RolloutState) -> None:
        """Overwrite sessions `rows` of `state` with `other`."""
        state.assign(np.asarray(rows, dtype=np.int64), other)

    def _push(self, state: RolloutState, token: np.ndarray, active: np.ndarray) -> None:
        """Run one token per row through the blocks.

        Inactive rows write only to the scratch slot.
        """
        n, d = token.shape
        heads, head_dim = self.heads, self.head_dim
        rows = np.arange(n)
        position = state.length
        slot = np.where(active, position, state.values[0].shape[2] - 1)
        used = int(position.max()) + 1  # only the filled slots take part in attention
        visible = (
            np.arange(used)[None, None, None, :] <= position[:, None, None, None]
        )  # (n, 1, 1, used)
        x = token + state.session
        for block, keys, values in zip(self.blocks, state.keys, state.values, strict=True):
            w, b = block["qkv"]
            qkv = (layer_norm(x, *block["norm1"]) @ w + b).reshape(n, 3, heads, head_dim)
            keys[rows, :, :, slot] = qkv[:, 1]
            values[rows, :, slot] = qkv[:, 2]
            scores = (qkv[:, 0, :, None, :] @ keys[..., :used]) * self.scale  # (n, heads, 1, used)
            weights = softmax(np.where(visible, scores, -np.inf))
            attended = (weights @ values[:, :, :used]).reshape(
                n, d
            )  # garbage for inactive rows, never stored
            w, b = block["out"]
            x = x + attended @ w + b
            w1, b1 = block["ff1"]
            w2, b2 = block["ff2"]
            x = x + gelu(layer_norm(x, *block["norm2"]) @ w1 + b1) @ w2 + b2
        hidden = layer_norm(x, *self.norm)
        w, b = self.memory
        memory = (hidden @ w + b).reshape(n, 2, heads, head_dim)
        state.memory_keys[rows, :, :, slot] = memory[:, 0]
        state.memory_values[rows, :, slot] = memory[:, 1]
        state.last_hidden = np.where(active[:, None], hidden, state.last_hidden).astype(np.float32)
        state.length = position + active

    def predict(self, state: RolloutState, candidates: np.ndarray) -> StepPrediction:
        """Predicted response to each candidate (batch, k) as the next track of each session."""
        with single_threaded_blas(len(candidates)):
            return self._predict(state, np.asarray(candidates))

    def _predict(self, state: RolloutState, candidates: np.ndarray) -> StepPrediction:
        n, k = candidates.shape
        d, heads, head_dim = self.config.d_model, self.heads, self.head_dim
        w, b = self.query_candidate
        query = (
            self.query_track[candidates]
            + candidate_features(state.tracks, state.played, candidates, self.track_unit) @ w
            + b
            + (self._position(state.played + 1) + self.segments[1] + state.session)[:, None]
        )  # (n, k, d)
        used = int(state.length.max())
        q = layer_norm(query, *self.query_norm).reshape(n, k, heads, head_dim).transpose(0, 2, 1, 3)
        scores = (q @ state.memory_keys[..., :used]) * self.scale  # (n, heads, k, used)
        visible = np.arange(used)[None, None, None, :] < state.length[:, None, None, None]
        attended = softmax(np.where(visible, scores, -np.inf)) @ state.memory_values[:, :, :used]
        attended = attended.transpose(0, 2, 1, 3).reshape(n, k, d)
        last = np.broadcast_to(state.last_hidden[:, None], (n, k, d))
        (w1, b1), (w2, b2), (w3, b3) = self.head
        hidden = gelu(gelu(np.concatenate([query, attended, last], -1) @ w1 + b1) @ w2 + b2)
        out = hidden @ w3 + b3
        bins = self.config.engagement_bins
        return StepPrediction(
            skip_probability=sigmoid(out[..., 0]),
            engagement_probabilities=softmax(out[..., 1 : 1 + 2 * bins].reshape(n, k, 2, bins)),
            like_probability=sigmoid(out[..., 1 + 2 * bins]),
            valence_mean=np.tanh(out[..., 2 + 2 * bins]),
            valence_std=np.exp(np.clip(out[..., 3 + 2 * bins], -5, 1)),
            arousal_mean=np.tanh(out[..., 4 + 2 * bins]),
            arousal_std=np.exp(np.clip(out[..., 5 + 2 * bins], -5, 1)),
        )
