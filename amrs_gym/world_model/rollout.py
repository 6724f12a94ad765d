"""Fast rollouts: the trained world model's one-token-per-step path, re-expressed in numpy.

An env step feeds one token per session. At that size the cost is dispatch, not
arithmetic: a 64x64 matmul costs about 10 us through torch and 2 us through numpy on
this machine, and a step needs about a hundred such operations. `NumpyRollout` takes
the weights of a transformer `WorldModel` (from a checkpoint, without torch, or from a
model), precomputes the per-track projections into tables, and implements
the `ListenerModel` protocol; `tests/world_model/test_rollout.py` checks it matches the torch path.

An ensemble (`NumpyRollout.ensemble`: K checkpoints of one architecture) runs as one batched
computation: every weight and cached array carries a leading member axis, and each product keeps
the shapes a single model's has, with the member as one more batch axis (so K = 1 is bit for bit
the single model). Its prediction is the members' mixture; `StepPrediction.members` holds theirs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from amrs_gym.world_model.candidates import append_propensity, candidate_features
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.feedback import feedback_vector
from amrs_gym.world_model.numpy_ops import gelu, layer_norm, sigmoid, single_threaded_blas, softmax
from amrs_gym.world_model.protocol import (
    PREDICTION_FIELDS,
    Feedback,
    StartBatch,
    StepPrediction,
    mixture,
)
from amrs_gym.world_model.track_features import content_unit

if TYPE_CHECKING:
    from amrs_gym.world_model.model import WorldModel


_PER_MEMBER = ("session", "keys", "values", "memory_keys", "memory_values", "last_hidden")
"""`RolloutState`'s fields that hold one slice per member (leading axis K)."""


@dataclass
class RolloutState:
    """Cached state of a batch of sessions (numpy twin of `ModelState`).

    Arrays with a leading K axis hold one slice per ensemble member (K = 1 for a single model).
    """

    session: np.ndarray  # (K, batch, d) mode + cohort + starting-report embedding
    length: np.ndarray  # (batch,) tokens in the context, start token included
    played: np.ndarray  # (batch,) current-session tracks in the context
    tracks: np.ndarray  # (batch, max_len) current-session track ids, -1 beyond `played`
    keys: list[np.ndarray]  # per layer (K, batch, heads, head_dim, slots): transposed, contiguous
    values: list[np.ndarray]  # per layer (K, batch, heads, slots, head_dim)
    memory_keys: np.ndarray  # (K, batch, heads, head_dim, slots)
    memory_values: np.ndarray  # (K, batch, heads, slots, head_dim)
    last_hidden: np.ndarray  # (K, batch, d) encoder output at the newest token

    def select(self, rows: np.ndarray, slots: int | None = None) -> RolloutState:
        """A copy of the state of `rows`, keeping only the first `slots` cache slots if given.

        Only those slots are read (a slot-cut gather takes about half the time of a whole one).
        """
        cut = slice(None, slots)
        return RolloutState(
            session=self.session[:, rows],
            length=self.length[rows],
            played=self.played[rows],
            tracks=self.tracks[rows],
            keys=[k[:, rows, :, :, cut] for k in self.keys],
            values=[v[:, rows, :, cut] for v in self.values],
            memory_keys=self.memory_keys[:, rows, :, :, cut],
            memory_values=self.memory_values[:, rows, :, cut],
            last_hidden=self.last_hidden[:, rows],
        )

    def member(self, index: int) -> RolloutState:
        """Member `index`'s slice of the state, as views (K = 1), for `NumpyRollout.member`."""
        one = slice(index, index + 1)
        return replace(
            self, **{name: _member_slice(getattr(self, name), one) for name in _PER_MEMBER}
        )

    def assign(self, rows: np.ndarray, other: RolloutState) -> None:
        """Overwrite `rows` with `other` (it may hold fewer cache slots: later ones are unseen)."""
        for name in ("length", "played", "tracks"):
            getattr(self, name)[rows] = getattr(other, name)
        for name in ("session", "last_hidden"):
            getattr(self, name)[:, rows] = getattr(other, name)
        slots = other.values[0].shape[3] if other.values else other.memory_values.shape[3]
        for mine, theirs in zip(
            [*self.keys, self.memory_keys], [*other.keys, other.memory_keys], strict=True
        ):
            mine[:, rows, :, :, :slots] = theirs
        for mine, theirs in zip(
            [*self.values, self.memory_values], [*other.values, other.memory_values], strict=True
        ):
            mine[:, rows, :, :slots] = theirs


def _matmul(x: np.ndarray, weight: np.ndarray, shared: bool = False) -> np.ndarray:
    """Each member's product x @ W: x is (K, ..., in), or (..., in) shared by all (`shared`).

    W (K, in, out) gains unit axes so each member's product has a single model's shapes.
    """
    extra = x.ndim - (2 if shared else 3)
    if extra:
        weight = weight.reshape(weight.shape[0], *(1,) * extra, *weight.shape[1:])
    out: np.ndarray = x @ weight
    return out


def _per_member(value: np.ndarray, ndim: int) -> np.ndarray:
    """A per-member vector stored (K, 1, d), shaped to broadcast over (K, ..., d) of `ndim` axes."""
    if ndim == 3:
        return value
    return value.reshape(value.shape[0], *(1,) * (ndim - 2), value.shape[-1])


def _affine(
    x: np.ndarray, layer: tuple[np.ndarray, np.ndarray], shared: bool = False
) -> np.ndarray:
    """The affine map x @ W + b of every member (see `_matmul`)."""
    out = _matmul(x, layer[0], shared)
    out += _per_member(layer[1], out.ndim)
    return out


def _norm(x: np.ndarray, layer: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Layer norm of x (K, ..., d) with each member's weight and bias."""
    return layer_norm(x, _per_member(layer[0], x.ndim), _per_member(layer[1], x.ndim))


def _to_rows(value: np.ndarray) -> np.ndarray:
    """(K, n, ...) as (n, K, ...): the order a cache write `a[:, rows, ..., slot]` takes."""
    return np.swapaxes(value, 0, 1)


def _residual(x: np.ndarray, update: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The residual sum x + update + bias, in that order, in `update`'s memory (a temporary)."""
    update += x  # x + update == update + x bit for bit
    update += bias
    return update


def _write_slot(
    keys: np.ndarray, values: np.ndarray, slot: np.ndarray, new: np.ndarray, new_values: np.ndarray
) -> None:
    """Store each row's key and value (K, n, heads, head_dim) in its cache slot `slot` (n,)."""
    if len(slot) == 1:  # one session: plain indexing, several times cheaper than fancy indexing
        keys[:, 0, :, :, slot[0]] = new[:, 0]
        values[:, 0, :, slot[0]] = new_values[:, 0]
        return
    rows = np.arange(len(slot))
    keys[:, rows, :, :, slot] = _to_rows(new)
    values[:, rows, :, slot] = _to_rows(new_values)


def _member_slice(value: Any, one: slice) -> Any:
    """`value` (an array with a leading member axis, or a tuple, list or dict of them) at `one`."""
    if isinstance(value, np.ndarray):
        return value[one]
    if isinstance(value, dict):
        return {key: _member_slice(item, one) for key, item in value.items()}
    return type(value)(_member_slice(item, one) for item in value)


def _masked_softmax(
    scores: np.ndarray, hidden: np.ndarray | None, vectorised: bool = False
) -> np.ndarray:
    """Softmax of `scores` (a temporary) over its last axis, with `hidden` slots set to -inf.

    `hidden` is None when every row sees every slot (one session, or sessions of one length).
    """
    if hidden is not None:
        np.copyto(scores, -np.inf, where=hidden)
    return softmax(scores, vectorised)


VECTORISED_FROM = 64
"""Candidates per session from which `predict` runs torch's vectorised GELU and softmax (a
catalog-wide search, a shortlist; see `numpy_ops.gelu`): greedy's search a third faster. The choice
depends on nothing else (not on how many sessions share the batch, nor on the ensemble's size),
so an ensemble equals its members bit for bit."""

HEAD_BLOCK = 256
"""Candidates per block of the output head (see `NumpyRollout._head`). Blocks of 128 to 1,024
searched equally fast within this machine's noise (greedy and `greedy_pessimistic`, 64 calm
episodes); the whole batch in one block was slower (greedy 6.3 s against 5.2-5.9)."""

_MEMBER_WEIGHTS = (
    "context_track",
    "query_track",
    "context_feedback",
    "query_candidate",
    "mode",
    "cohort",
    "start_report",
    "positions",
    "segments",
    "start_token",
    "blocks",
    "norm",
    "memory",
    "query_norm",
    "head_first",
    "head_last",
    "head",
)
"""`NumpyRollout`'s attributes that hold one slice per member (leading axis K)."""


class NumpyRollout:
    """Incremental inference of a trained transformer world model (or an ensemble), in numpy."""

    def __init__(
        self, config: WorldModelConfig, state: dict[str, np.ndarray], track_features: np.ndarray
    ):
        """Build from a checkpoint's arrays (`read_checkpoint`) or a model (`from_model`)."""
        self._build(config, [state], track_features)

    @classmethod
    def ensemble(
        cls,
        config: WorldModelConfig,
        states: Sequence[dict[str, np.ndarray]],
        track_features: np.ndarray,
    ) -> NumpyRollout:
        """K members of one architecture, run as one batched computation (K >= 1)."""
        if not states:
            raise ValueError("an ensemble needs at least one member")
        rollout = cls.__new__(cls)
        rollout._build(config, list(states), track_features)
        return rollout

    def _build(
        self,
        config: WorldModelConfig,
        states: list[dict[str, np.ndarray]],
        track_features: np.ndarray,
    ) -> None:
        if config.encoder != "transformer" or not config.use_history:
            raise ValueError("NumpyRollout needs a transformer world model that uses history")
        self.config = config
        self.members = len(states)
        self.heads = config.n_heads
        self.head_dim = config.d_model // config.n_heads
        self.scale = np.float32(1.0 / np.sqrt(self.head_dim))  # float32, so products stay float32

        def stacked(name: str) -> np.ndarray:
            return np.stack([np.asarray(w[name], dtype=np.float32) for w in states])

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            weight = np.ascontiguousarray(np.swapaxes(stacked(f"{name}.weight"), 1, 2))
            return weight, stacked(f"{name}.bias")[:, None]  # (K, in, out), (K, 1, out)

        def norm(name: str) -> tuple[np.ndarray, np.ndarray]:
            return stacked(f"{name}.weight")[:, None], stacked(f"{name}.bias")[:, None]

        features = np.asarray(track_features, dtype=np.float32)
        self.context_track = _affine(features, linear("context_track"), shared=True)  # (K, T, d)
        self.query_track = _affine(features, linear("query_track"), shared=True)
        self.track_unit = content_unit(features, config)
        self.context_feedback = linear("context_feedback")
        self.query_candidate = linear("query_candidate")
        self.mode = stacked("mode_embedding.weight")
        self.cohort = stacked("cohort_embedding.weight")
        self.start_report = linear("start_report")
        self.positions = stacked("position_table.weight")
        self.segments = stacked("segment.weight")
        self.start_token = stacked("start_token") + self.positions[:, 0]  # (K, d)
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
        weight, bias = linear("head.0")  # over [query, attended memory, newest hidden state]
        d = config.d_model
        self.head_first = (np.ascontiguousarray(weight[:, : 2 * d]), bias)
        self.head_last = np.ascontiguousarray(weight[:, 2 * d :])  # once per session, not track
        self.head = [linear(f"head.{i}") for i in (3, 5)]

    def member(self, index: int) -> NumpyRollout:
        """Member `index` alone, on views of this ensemble's weights (no copy).

        Its `predict` on `RolloutState.member(index)` of an ensemble state is that member's
        prediction at a K-th of the cost: a cheap screen before the ensemble scores a shortlist.
        """
        if not 0 <= index < self.members:
            raise ValueError(f"member must be in [0, {self.members}), got {index!r}")
        one = copy.copy(self)
        one.members = 1
        for name in _MEMBER_WEIGHTS:
            setattr(one, name, _member_slice(getattr(self, name), slice(index, index + 1)))
        return one

    @classmethod
    def from_model(cls, model: WorldModel) -> NumpyRollout:
        """Mirror a torch model's current weights."""
        state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        return cls(model.config, state, model.track_features.detach().cpu().numpy())

    @property
    def n_tracks(self) -> int:
        """Catalog size of the model."""
        return int(self.context_track.shape[1])

    @property
    def context_size(self) -> int:
        """Width of the context vector (the encoder's output at the newest token)."""
        return int(self.config.d_model)

    @property
    def max_tracks(self) -> int:
        """Most tracks a session's context holds."""
        return int(self.config.max_len)

    def _position(self, index: np.ndarray) -> np.ndarray:
        embedding: np.ndarray = self.positions[:, np.minimum(index, self.config.position_cap)]
        return embedding

    def start(self, starts: StartBatch) -> RolloutState:
        """Encode each session's start token, then its logged history.

        Rows of different lengths go in one batch: a row past its history sits the step out.
        """
        n = len(starts)
        with single_threaded_blas(n * self.members):
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
        n, members = len(mode), self.members
        slots = cfg.max_len + 2  # the last slot is scratch space for rows that sit a step out
        report = (
            np.asarray(start, dtype=np.float32) if cfg.use_affect else np.zeros((n, 2), np.float32)
        )
        w, b = self.start_report
        session = self.mode[:, mode] + self.cohort[:, cohort] + _matmul(report, w, True) + b

        def cache(transposed: bool = False) -> np.ndarray:
            shape = (
                (members, n, self.heads, self.head_dim, slots)
                if transposed
                else (members, n, self.heads, slots, self.head_dim)
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
            last_hidden=np.zeros((members, n, cfg.d_model), dtype=np.float32),
        )
        token = np.broadcast_to(self.start_token[:, None], (members, n, cfg.d_model))
        self._push(state, token, np.ones(n, dtype=bool))
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
        with single_threaded_blas(len(tracks) * self.members):
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
            self.context_track[:, track]
            + _matmul(feedback, w, shared=True)
            + b
            + self._position(position)
            + self.segments[:, current.astype(int)]
        )
        state.played = state.played + grows
        self._push(state, token, active)

    def context(self, state: RolloutState) -> np.ndarray:
        """The first member's encoder output at each session's newest token.

        # (n, d_model)
        """
        first: np.ndarray = state.last_hidden[0]
        return first

    def select(self, state: RolloutState, rows: np.ndarray, compact: bool = False) -> RolloutState:
        """A copy of sessions `rows`; `compact` keeps only the cache slots already filled."""
        rows = np.asarray(rows, dtype=np.int64)
        return state.select(rows, slots=int(state.length[rows].max(initial=1)) if compact else None)

    def assign(self, state: RolloutState, rows: np.ndarray, other: RolloutState) -> None:
        """Overwrite sessions `rows` of `state` with `other`."""
        state.assign(np.asarray(rows, dtype=np.int64), other)

    def _push(self, state: RolloutState, token: np.ndarray, active: np.ndarray) -> None:
        """Run one token per row (K, n, d) through the blocks.

        Inactive rows write only to the scratch slot.
        """
        members, n, d = token.shape
        heads, head_dim = self.heads, self.head_dim
        position = state.length
        everyone = bool(active.all())
        slot = position if everyone else np.where(active, position, state.values[0].shape[3] - 1)
        used = int(position.max()) + 1  # only the filled slots take part in attention
        hidden_slots = (
            None
            if int(position.min()) + 1 == used
            else np.arange(used)[None, None, None, :] > position[:, None, None, None]
        )  # (n, 1, 1, used): slots after each row's own token
        x = token + state.session
        for block, keys, values in zip(self.blocks, state.keys, state.values, strict=True):
            qkv = _affine(_norm(x, block["norm1"]), block["qkv"]).reshape(
                members, n, 3, heads, head_dim
            )
            _write_slot(keys, values, slot, qkv[:, :, 1], qkv[:, :, 2])
            scores = qkv[:, :, 0, :, None, :] @ keys[..., :used]
            scores *= self.scale  # (K, n, heads, 1, used)
            weights = _masked_softmax(scores, hidden_slots)
            attended = (weights @ values[:, :, :, :used]).reshape(
                members, n, d
            )  # garbage for inactive rows, never stored
            w, b = block["out"]
            x = _residual(x, _matmul(attended, w), b)
            w, b = block["ff2"]
            x = _residual(x, _matmul(gelu(_affine(_norm(x, block["norm2"]), block["ff1"])), w), b)
        hidden = _norm(x, self.norm)
        memory = _affine(hidden, self.memory).reshape(members, n, 2, heads, head_dim)
        _write_slot(state.memory_keys, state.memory_values, slot, memory[:, :, 0], memory[:, :, 1])
        state.last_hidden = (
            hidden
            if everyone
            else np.where(active[:, None], hidden, state.last_hidden).astype(np.float32)
        )
        state.length = position + active

    @property
    def reads_propensity(self) -> bool:
        """True if `predict` needs the production policy's propensity of each candidate."""
        return bool(self.config.production_propensity)

    def predict(
        self, state: RolloutState, candidates: np.ndarray, propensity: np.ndarray | None = None
    ) -> StepPrediction:
        """Predicted response to each candidate (batch, k) as the next track of each session.

        An ensemble's is its members' mixture, with theirs in `members`. `propensity`: see
        `ListenerModel.predict`.
        """
        candidates = np.asarray(candidates)
        with single_threaded_blas(candidates.size * self.members):  # rows of the head's products
            members = self._predict(state, candidates, propensity)
        if self.members == 1:
            return StepPrediction(**{name: getattr(members, name)[0] for name in PREDICTION_FIELDS})
        return mixture(members)

    def _predict(
        self, state: RolloutState, candidates: np.ndarray, propensity: np.ndarray | None
    ) -> StepPrediction:
        """Every member's prediction, stacked on a leading axis (K, n, k)."""
        n, k = candidates.shape
        members, d, heads, head_dim = self.members, self.config.d_model, self.heads, self.head_dim
        w, b = self.query_candidate
        features = candidate_features(state.tracks, state.played, candidates, self.track_unit)
        if self.config.production_propensity:
            features = append_propensity(features, propensity, self.n_tracks)
        query = (
            self.query_track[:, candidates]
            + _matmul(features, w, shared=True)
            + b[:, None]
            + (self._position(state.played + 1) + self.segments[:, 1:2] + state.session)[:, :, None]
        )  # (K, n, k, d)
        used = int(state.length.max())
        q = (
            _norm(query, self.query_norm)
            .reshape(members, n, k, heads, head_dim)
            .transpose(0, 1, 3, 2, 4)
        )
        scores = q @ state.memory_keys[..., :used]
        scores *= self.scale  # (K, n, heads, k, used)
        hidden_slots = (
            None
            if int(state.length.min()) == used
            else np.arange(used)[None, None, None, :] >= state.length[:, None, None, None]
        )  # (n, 1, 1, used): slots no token of the row has filled
        vectorised = k >= VECTORISED_FROM
        attended = (
            _masked_softmax(scores, hidden_slots, vectorised) @ state.memory_values[..., :used, :]
        )
        attended = attended.transpose(0, 1, 3, 2, 4).reshape(members, n, k, d)
        out = self._head(query, attended, state.last_hidden, vectorised)
        out = out.reshape(members, n, k, -1)
        bins = self.config.engagement_bins
        return StepPrediction(
            skip_probability=sigmoid(out[..., 0]),
            engagement_probabilities=softmax(
                out[..., 1 : 1 + 2 * bins].reshape(members, n, k, 2, bins)
            ),
            like_probability=sigmoid(out[..., 1 + 2 * bins]),
            valence_mean=np.tanh(out[..., 2 + 2 * bins]),
            valence_std=np.exp(np.clip(out[..., 3 + 2 * bins], -5, 1)),
            arousal_mean=np.tanh(out[..., 4 + 2 * bins]),
            arousal_std=np.exp(np.clip(out[..., 5 + 2 * bins], -5, 1)),
        )

    def _head(
        self, query: np.ndarray, attended: np.ndarray, last: np.ndarray, vectorised: bool
    ) -> np.ndarray:
        """The output head over [query, attended memory, newest hidden state] of every candidate.

        query, attended (K, n, k, d); last (K, n, d). Returns (K, n * k, outputs). The first
        layer's share of `last` is computed once per session. Candidates go through in blocks of
        `HEAD_BLOCK` so the head's temporaries stay in the CPU's cache.
        """
        members, n, k, d = query.shape
        query, attended = query.reshape(members, n * k, d), attended.reshape(members, n * k, d)
        weight, bias = self.head_first
        per_session = _affine(last, (self.head_last, bias))  # (K, n, hidden)
        second, third = self.head
        out = np.empty((members, n * k, third[0].shape[-1]), dtype=np.float32)
        for start in range(0, n * k, HEAD_BLOCK):
            block = slice(start, min(start + HEAD_BLOCK, n * k))
            rows = np.arange(block.start, block.stop) // k
            hidden = _matmul(np.concatenate([query[:, block], attended[:, block]], -1), weight)
            hidden += per_session[:, rows]
            hidden = gelu(_affine(gelu(hidden, vectorised), second), vectorised)
            out[:, block] = _affine(hidden, third)
        return out
