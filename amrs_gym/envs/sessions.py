"""The batched core behind the listening envs: N concurrent sessions, simulated by the world model
or played out in the reference world (with the world model as the observer that builds observations).

The single env is this core with N = 1; the vector env steps all N sessions with one
batched world-model call. Both therefore behave identically under the same seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from gymnasium import spaces

from amrs_gym import defaults
from amrs_gym.catalog import Catalog
from amrs_gym.modes import COHORTS, MODES, mode_index
from amrs_gym.reference_world import ReferenceWorld
from amrs_gym.reward import Utility, UtilityInputs, default_utility
from amrs_gym.world_model.checkpoint import read_checkpoint
from amrs_gym.world_model.feedback import FEEDBACK_DIM, feedback_vector
from amrs_gym.world_model.rollout import NumpyRollout, RolloutState, single_threaded_blas

CONTEXT_BOUND = 10.0
#: observation layout before the world model's context vector (index, name).
OBS_FIELDS = (
    "mode_energize", "mode_focus", "mode_calm", "mode_sleep",
    "cohort_consumer", "cohort_clinical",
    "time_in_session",
    "valence_estimate", "arousal_estimate",
    "target_valence", "target_arousal",
    "distance_to_target",
    "last_engagement", "last_skipped", "last_like_probability",
)  # fmt: skip
INFO_KEYS = (
    "track_id",
    "skip_probability",
    "like_probability",
    "expected_engagement",
    "engagement",
    "skipped",
    "valence_predicted",
    "arousal_predicted",
    "valence_sampled",
    "arousal_sampled",
    "utility_components",
)


@dataclass(frozen=True)
class LoggedOutcome:
    """Logged feedback for one step of a batch of sessions (nan where a rating or report is missing)."""

    engagement: np.ndarray  # (n,)
    skipped: np.ndarray  # (n,)
    rating: np.ndarray  # (n,)
    valence_report: np.ndarray  # (n,)
    arousal_report: np.ndarray  # (n,)


@dataclass(frozen=True, eq=False)
class StartSession:
    """How an episode can start: a held-out listener's logged session, with the session before it as history."""

    listener: int
    session_id: int  # the logged session this start belongs to
    cohort: int
    start_report: np.ndarray  # (2,) the session's starting valence/arousal report
    tracks: np.ndarray  # (length,) the previous session's tracks
    positions: np.ndarray  # (length,) their positions in that session
    feedback: np.ndarray  # (length, feedback_dim) their logged feedback
    latent_start: np.ndarray  # (2,) latent affect when the session began (reference env only)


def start_sessions_for(frame: pd.DataFrame, mode: str, cohort: str) -> list[StartSession]:
    """Logged sessions of `mode` (and `cohort`, unless `mixed`) that follow another session of their listener."""
    frame = frame.sort_values(["session_id", "position"], kind="stable")
    session = frame["session_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    ends = np.r_[starts[1:], len(session)]
    listener = frame["listener_id"].to_numpy()[starts]
    first = frame.iloc[starts]
    # sessions are in time order within a listener: the one before is the previous start of the same listener
    previous = np.full(len(starts), -1)
    order = np.lexsort((session[starts], listener))
    same = listener[order][1:] == listener[order][:-1]
    previous[order[1:][same]] = order[:-1][same]
    chosen = (first["mode"].to_numpy() == mode) & (previous >= 0)
    if cohort != "mixed":
        chosen &= first["cohort"].to_numpy() == cohort
    if not chosen.any():
        raise ValueError(f"no held-out sessions for mode={mode!r}, cohort={cohort!r}")
    feedback = feedback_vector(
        frame["engagement"].to_numpy(float),
        frame["skipped"].to_numpy(),
        frame["rating"].to_numpy(float),
        frame["valence_report"].to_numpy(float),
        frame["arousal_report"].to_numpy(float),
    ).astype(np.float32)
    tracks, positions = frame["track_id"].to_numpy(np.int64), frame["position"].to_numpy(np.int64)
    reports = first[["valence_start", "arousal_start"]].to_numpy(float)
    latent = (
        first[["latent_valence_before", "latent_arousal_before"]].to_numpy(float)
        if "latent_valence_before" in frame
        else np.full((len(starts), 2), np.nan)
    )
    cohorts = np.array([COHORTS.index(c) for c in first["cohort"]])
    out = []
    for i in np.flatnonzero(chosen):
        rows = slice(starts[previous[i]], ends[previous[i]])
        out.append(
            StartSession(
                listener=int(listener[i]), session_id=int(session[starts[i]]), cohort=int(cohorts[i]), start_report=reports[i],
                tracks=tracks[rows], positions=positions[rows], feedback=feedback[rows], latent_start=latent[i],
            )
        )  # fmt: skip
    return out


def observation_space(engine: NumpyRollout) -> spaces.Box:
    """The flat float32 observation Box (layout: OBS_FIELDS, then the context vector)."""
    d = engine.config.d_model
    low = np.array([0] * 7 + [-1, -1, -1, -1, 0, 0, 0, 0] + [-CONTEXT_BOUND] * d, dtype=np.float32)
    high = np.array([1] * 7 + [1, 1, 1, 1, 2 * np.sqrt(2), 1, 1, 1] + [CONTEXT_BOUND] * d, dtype=np.float32)
    return spaces.Box(low, high, dtype=np.float32)


@lru_cache(maxsize=4)
def load_shared_engine(path: str) -> NumpyRollout:
    """One shared, read-only rollout engine per checkpoint (rollout state lives in the sessions)."""
    checkpoint = read_checkpoint(path, catalog=defaults.default_catalog())
    return NumpyRollout(checkpoint.config, checkpoint.state, checkpoint.track_features)


def build_sessions(
    n: int,
    mode: str,
    cohort: str,
    start: str,
    history_length: int,
    episode_length: int,
    utility: Utility | None,
    checkpoint: str | Path | None,
    world: ReferenceWorld | None = None,
    start_frame: pd.DataFrame | None = None,
) -> ListeningSessions:
    """Validate the envs' shared arguments (one clear error each) and build their sessions.

    `start_frame` holds the logged sessions episodes start from (default: the shipped held-out listeners').
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if cohort not in ("consumer", "clinical", "mixed"):
        raise ValueError(f"unknown cohort {cohort!r}; expected consumer, clinical or mixed")
    if start not in ("history", "cold"):
        raise ValueError(f"unknown start {start!r}; expected 'history' or 'cold'")
    if history_length < 0 or episode_length < 1:
        raise ValueError("need history_length >= 0 and episode_length >= 1")
    utility = utility or default_utility(mode)
    if utility.mode != mode:
        raise ValueError(f"utility is for mode {utility.mode!r}, env is {mode!r}")
    engine = load_shared_engine(str(checkpoint or defaults.CHECKPOINT_PATH))
    starts = start_sessions_for(defaults.start_sessions() if start_frame is None else start_frame, mode, cohort)
    catalog = defaults.default_catalog()
    return ListeningSessions(n, mode, utility, engine, catalog, starts, history_length, episode_length, world)


class ListeningSessions:
    """N concurrent sessions of one mode; `world` set means the reference world supplies outcomes."""

    def __init__(
        self,
        n: int,
        mode: str,
        utility: Utility,
        engine: NumpyRollout,
        catalog: Catalog,
        starts: list[StartSession],
        history_length: int,
        episode_length: int,
        world: ReferenceWorld | None = None,
    ):
        if engine.n_tracks != catalog.n_tracks:
            raise ValueError(f"world model expects {engine.n_tracks} tracks, catalog has {catalog.n_tracks}")
        if history_length + episode_length > engine.config.max_len:
            raise ValueError(
                f"history_length + episode_length = {history_length + episode_length} exceeds the world "
                f"model's context of {engine.config.max_len} tracks"
            )
        self.n, self.mode, self.utility = n, mode, utility
        self.engine, self.catalog, self.starts, self.world = engine, catalog, starts, world
        self.history_length, self.episode_length = history_length, episode_length
        self._mode = mode_index(mode)
        self._target = np.array([utility.target_valence, utility.target_arousal])
        self.state: RolloutState | None = None
        self._encoded: dict[int, RolloutState] = {}
        self.truth: Any = None
        self.t = np.zeros(n, dtype=np.int64)
        self.affect = np.zeros((n, 2))
        self.cohort = np.zeros(n, dtype=np.int64)
        self.listener = np.zeros(n, dtype=np.int64)
        self.last = np.zeros((n, 3))
        self.played = np.full((n, episode_length), -1, dtype=np.int64)
        self.context = np.zeros((n, engine.config.d_model), dtype=np.float32)

    # ----- reset ------------------------------------------------------------------------------

    def reset(
        self,
        rows: np.ndarray,
        rngs: Sequence[np.random.Generator],
        cold: bool,
        start_indices: Sequence[int] | None = None,
    ) -> None:
        """Start new episodes in `rows` (each with its own generator) from held-out histories or cold;
        `start_indices` picks the starting sessions (indices into `self.starts`) instead of drawing them."""
        rows = np.asarray(rows, dtype=np.int64)
        full = len(rows) == self.n
        if self.state is None and not full:
            raise RuntimeError("reset every session before resetting a subset")
        indices = [int(i) for i in start_indices] if start_indices is not None else [
            int(rngs[i].integers(0, len(self.starts))) for i in rows
        ]
        picks = [self.starts[i] for i in indices]
        rng = rngs[int(rows[0])]
        histories = [
            np.arange(0) if cold else np.arange(max(0, len(s.tracks) - self.history_length), len(s.tracks))
            for s in picks
        ]
        starts = np.stack([s.start_report for s in picks])
        truth = None
        if self.world is not None:
            truth = self._place_in_world(picks, histories, cold, rng)
            if cold:  # a fresh session of the same listener: its first report comes from the truth
                starts = np.stack(self.world.report(truth, rng), axis=1)
        with single_threaded_blas(len(rows)):
            if cold:
                state = self._encode(picks, histories, starts)
            else:
                state = self._encode_cached(indices, picks, histories)
        if full:
            self.state, self.truth = state, truth
        else:
            assert self.state is not None
            self.state.assign(rows, state)
            if truth is not None and self.truth is not None:
                for name in ("listener", "mode", "valence", "arousal", "history", "position"):
                    getattr(self.truth, name)[rows] = getattr(truth, name)
        self.t[rows] = 0
        self.affect[rows] = starts  # the current affect estimate is the session's starting report
        self.cohort[rows] = [s.cohort for s in picks]
        self.listener[rows] = [s.listener for s in picks]
        self.last[rows] = 0.0
        self.played[rows] = -1
        self.context[rows] = state.last_hidden

    def _encode_cached(
        self, indices: list[int], picks: list[StartSession], histories: list[np.ndarray]
    ) -> RolloutState:
        """Encoded histories, each computed once per starting session and then reused: a logged
        history always encodes to the same state, and encoding is most of a reset's cost."""
        missing = sorted({i for i in indices if i not in self._encoded})
        if missing:
            where = {i: indices.index(i) for i in missing}
            fresh = self._encode([picks[where[i]] for i in missing], [histories[where[i]] for i in missing],
                                 np.stack([picks[where[i]].start_report for i in missing]))
            for row, index in enumerate(missing):
                self._encoded[index] = fresh.select(np.array([row]), slots=int(fresh.length[row]))
        template = self.state if self.state is not None else self._encode(picks[:1], [np.arange(0)], picks[0].start_report[None])
        return RolloutState.stack([self._encoded[i] for i in indices], like=template)

    def _encode(
        self, picks: list[StartSession], histories: list[np.ndarray], starts: np.ndarray
    ) -> RolloutState:
        """Run the world model over each history (rows of different lengths in one batch)."""
        n = len(picks)
        cohort = np.array([s.cohort for s in picks])
        state = self.engine.start(np.full(n, self._mode), cohort, starts)
        lengths = np.array([len(h) for h in histories])
        for step in range(int(lengths.max(initial=0))):
            active = step < lengths
            index = [h[min(step, len(h) - 1)] if len(h) else 0 for h in histories]
            self.engine.observe(
                state,
                np.array([s.tracks[i] if len(s.tracks) else 0 for s, i in zip(picks, index)]),
                np.stack([s.feedback[i] if len(s.feedback) else np.zeros(FEEDBACK_DIM, np.float32)
                          for s, i in zip(picks, index)]),
                previous_position=np.array([s.positions[i] if len(s.positions) else 0 for s, i in zip(picks, index)]),
                active=active,
            )
        return state

    def _place_in_world(
        self, picks: list[StartSession], histories: list[np.ndarray], cold: bool, rng: np.random.Generator
    ) -> Any:
        """Each picked listener in the reference world, at the start of the picked session (or a fresh one)."""
        assert self.world is not None
        listener = np.array([s.listener for s in picks])
        mode = np.full(len(picks), self._mode)
        max_len = self.episode_length
        if cold:
            return self.world.start(listener, mode, rng, max_len=max_len)
        latent = np.stack([s.latent_start for s in picks])
        return self.world.start(listener, mode, rng, max_len=max_len, valence=latent[:, 0], arousal=latent[:, 1])

    # ----- step -------------------------------------------------------------------------------

    def step(
        self,
        actions: np.ndarray,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray | None = None,
        logged: LoggedOutcome | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Play one track in every session; returns utilities (n,) and per-session info arrays.

        With `logged`, the outcomes are the logged ones (replaying logs through the observer); the
        utility then uses the logged engagement, the rating where given (else the predicted like
        probability) and the reported affect where given (else the world model's estimate).

        Session i draws its randomness from `rngs[i]` only (so N sessions behave like N single
        envs), and only when `live[i]`; a non-live session is stepped without consuming its
        generator (the vector env resets it right after). The reference world shares `rngs[0]`.
        """
        assert self.state is not None
        actions = np.asarray(actions, dtype=np.int64)
        n = self.n
        rows = np.arange(n)
        live = np.ones(n, dtype=bool) if live is None else live
        uniforms = np.full((n, 5), 0.5)
        if self.world is None and logged is None:
            for i in np.flatnonzero(live):
                uniforms[i] = rngs[i].random(5)
        with single_threaded_blas(n):
            prediction = self.engine.predict(self.state, actions[:, None])
        p_skip = prediction.skip_probability[:, 0]
        expected = prediction.expected_engagement()[:, 0]
        p_like = prediction.like_probability[:, 0]
        mean = np.stack([prediction.valence_mean[:, 0], prediction.arousal_mean[:, 0]], 1)
        std = np.stack([prediction.valence_std[:, 0], prediction.arousal_std[:, 0]], 1)
        engagement_probs = prediction.engagement_probabilities[:, 0]  # (n, 2, bins)
        repeats = (self.played == actions[:, None]).sum(axis=1)
        if logged is not None:
            skipped, engagement = logged.skipped.astype(bool), logged.engagement
            rating, reports_v, reports_a = logged.rating, logged.valence_report, logged.arousal_report
            sampled = np.stack([np.where(np.isnan(reports_v), mean[:, 0], reports_v),
                                np.where(np.isnan(reports_a), mean[:, 1], reports_a)], 1)
            before, after = self.affect, sampled
            utility_engagement, utility_like = engagement, np.where(np.isnan(rating), p_like, rating)
        elif self.world is None:
            skipped = uniforms[:, 0] < p_skip
            bins = engagement_probs.shape[-1]
            probs = engagement_probs[rows, skipped.astype(int)]
            chosen = (probs.cumsum(1) < uniforms[:, 1:2] * probs.sum(1, keepdims=True)).sum(1)
            engagement = (np.minimum(chosen, bins - 1) + uniforms[:, 2]) / bins
            radius = np.sqrt(-2 * np.log(np.maximum(1 - uniforms[:, 3], 1e-12)))  # Box-Muller
            normal = radius[:, None] * np.stack([np.cos(2 * np.pi * uniforms[:, 4]), np.sin(2 * np.pi * uniforms[:, 4])], 1)
            sampled = np.clip(mean + std * normal, -1, 1)
            rating = reports_v = reports_a = np.full(n, np.nan)
            before, after = self.affect, mean
            utility_engagement, utility_like = expected, p_like
        else:
            assert self.truth is not None
            true_before = np.stack([self.truth.valence, self.truth.arousal], 1)
            outcome = self.world.step(self.truth, actions, rngs[0])
            skipped, engagement = outcome.skipped, outcome.engagement
            rating, reports_v, reports_a = outcome.rating, outcome.valence_report, outcome.arousal_report
            sampled = np.stack([outcome.valence, outcome.arousal], 1)
            before, after = true_before, sampled
            utility_engagement, utility_like = outcome.expected_engagement, outcome.like_probability
        inputs = UtilityInputs(
            engagement=utility_engagement, like=utility_like,
            valence_before=before[:, 0], arousal_before=before[:, 1],
            valence_after=after[:, 0], arousal_after=after[:, 1], repeats=repeats,
        )  # fmt: skip
        components = self.utility.components(inputs)
        rewards = np.sum(list(components.values()), axis=0)
        feedback = feedback_vector(engagement, skipped, rating, reports_v, reports_a).astype(np.float32)
        with single_threaded_blas(n):
            self.engine.observe(self.state, actions, feedback)
        self.played[rows, np.minimum(self.t, self.episode_length - 1)] = actions
        self.t += 1
        self.affect = mean
        self.last = np.stack([engagement, skipped.astype(np.float64), p_like], 1)
        self.context = self.state.last_hidden
        info = {
            "track_id": actions,
            "skip_probability": p_skip,
            "like_probability": p_like,
            "expected_engagement": expected,
            "engagement": engagement,
            "skipped": skipped,
            "valence_predicted": mean[:, 0],
            "arousal_predicted": mean[:, 1],
            "valence_sampled": sampled[:, 0],
            "arousal_sampled": sampled[:, 1],
            "utility_components": components,
        }
        return rewards, info

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        """`actions` as (n,) int64 track ids, or a clear error naming what is wrong with them."""
        actions = np.asarray(actions)
        if actions.shape != (self.n,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"invalid actions: expected {self.n} integer track ids, got {actions!r}")
        if actions.min() < 0 or actions.max() >= self.catalog.n_tracks:
            raise ValueError(f"invalid actions: track ids must lie in [0, {self.catalog.n_tracks})")
        return actions.astype(np.int64, copy=False)

    def predicted_utility(self, candidates: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """The world model's expected one-step utility of each candidate track as the next one, for
        sessions `rows` (default all).  # candidates (rows, k) -> (rows, k)"""
        assert self.state is not None
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        state = self.state if len(rows) == self.n else self.state.select(rows)
        with single_threaded_blas(len(rows)):
            prediction = self.engine.predict(state, candidates)
        return self._candidate_utility(
            rows, candidates, prediction.expected_engagement(), prediction.like_probability,
            self.affect[rows], prediction.valence_mean, prediction.arousal_mean,
        )  # fmt: skip

    def reference_utility(self, candidates: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """The reference world's own expected one-step utility of each candidate, from the listener's
        latent state: what no observer can know, the truth's one-step optimum is its argmax.
        Reference-world sessions only.  # candidates (rows, k) -> (rows, k)"""
        if self.world is None or self.truth is None:
            raise RuntimeError("only reference-world sessions have a latent state to score candidates with")
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        candidates = np.asarray(candidates, dtype=np.int64)
        k = candidates.shape[1]
        expected = self.world.expected_outcome(self.truth.take(np.repeat(rows, k)), candidates.reshape(-1))
        before = np.stack([self.truth.valence[rows], self.truth.arousal[rows]], 1)
        return self._candidate_utility(
            rows, candidates, *(x.reshape(-1, k) for x in (expected.engagement, expected.like_probability)),
            before, *(x.reshape(-1, k) for x in (expected.valence, expected.arousal)),
        )  # fmt: skip

    def _candidate_utility(
        self, rows: np.ndarray, candidates: np.ndarray, engagement: np.ndarray, like: np.ndarray,
        before: np.ndarray, valence_after: np.ndarray, arousal_after: np.ndarray,
    ) -> np.ndarray:
        """The mode's utility of candidates (rows, k) given expected outcomes (rows, k) and the
        affect before (rows, 2), counting each candidate's earlier plays in the episode."""
        repeats = (self.played[rows, None, :] == candidates[:, :, None]).sum(-1)
        return self.utility(UtilityInputs(
            engagement=engagement, like=like, valence_before=before[:, :1], arousal_before=before[:, 1:],
            valence_after=valence_after, arousal_after=arousal_after, repeats=repeats,
        ))  # fmt: skip

    def fork(self, rows: np.ndarray) -> ListeningSessions:
        """Independent copies of sessions `rows` (repeats allowed), to roll out alternatives from the same
        point; world-model sessions only (the reference world's latent state is not forked)."""
        if self.world is not None:
            raise RuntimeError("only world-model sessions can be forked")
        assert self.state is not None
        rows = np.asarray(rows, dtype=np.int64)
        copy = ListeningSessions(len(rows), self.mode, self.utility, self.engine, self.catalog, self.starts,
                                 self.history_length, self.episode_length)
        copy.state = self.state.select(rows)
        for name in ("t", "affect", "cohort", "listener", "last", "played", "context"):
            setattr(copy, name, getattr(self, name)[rows].copy())
        return copy

    def observations(self) -> np.ndarray:
        """Current observation of every session.  # (n, obs_dim)"""
        n = self.n
        obs = np.zeros((n, len(OBS_FIELDS) + self.context.shape[1]), dtype=np.float32)
        obs[:, self._mode] = 1.0
        obs[np.arange(n), 4 + self.cohort] = 1.0
        obs[:, 6] = self.t / self.episode_length
        obs[:, 7:9] = self.affect
        obs[:, 9:11] = self._target
        obs[:, 11] = np.hypot(*(self.affect - self._target).T)
        obs[:, 12:15] = self.last
        obs[:, 15:] = np.clip(self.context, -CONTEXT_BOUND, CONTEXT_BOUND)
        return obs


__all__ = ["INFO_KEYS", "OBS_FIELDS", "ListeningSessions", "LoggedOutcome", "StartSession", "build_sessions", "observation_space",
           "start_sessions_for"]
