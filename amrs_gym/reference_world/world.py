"""The reference world's dynamics: how listeners respond to tracks and how their affect moves.

Everything is batched over sessions (numpy), so generating logs and stepping many
evaluation episodes cost one vector operation per step. Equations and defaults are
written down in data/README.md; keep the two in sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from amrs_gym.catalog import Catalog
from amrs_gym.modes import DEFAULT_TARGETS, MODES
from amrs_gym.reference_world.population import Population
from amrs_gym.validation import check_fields

_TARGETS = np.array([[DEFAULT_TARGETS[m].valence, DEFAULT_TARGETS[m].arousal] for m in MODES])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


@dataclass(frozen=True)
class WorldConfig:
    """Coefficients of the reference world's response and affect dynamics."""

    taste_weight: float = 2.5
    """Enjoyment logit per unit of cosine similarity between taste and track."""
    popularity_weight: float = 1.0
    """Enjoyment logit per unit of popularity (centred at 0.3)."""
    mode_fit_weight: float = 1.2
    """Enjoyment logit lost per unit of distance between the track's affect and the mode's
    target."""
    repeat_penalty: float = 1.5
    """Enjoyment logit lost per earlier play of the same track in the session (times fatigue)."""
    sameness_penalty: float = 2.0
    """Enjoyment logit lost per unit of mean cosine similarity to the last 3 tracks above 0.6
    (times fatigue)."""
    enjoyment_noise: float = field(default=0.6, metadata={"min": 0})
    """Std of the per-play noise on the enjoyment logit."""
    skipped_listen_fraction: float = field(default=0.45, metadata={"min": 0, "max": 1})
    """Largest fraction of a track listened to before a skip."""
    affect_pull: float = 0.2
    """Share of the gap to the track's own valence/arousal closed by one fully engaged play."""
    baseline_pull: float = 0.03
    """Share of the gap to the listener's resting affect closed per track (inertia)."""
    enjoyment_valence: float = 0.05
    """Valence gained per unit of tanh(enjoyment logit)."""
    affect_noise: float = field(default=0.03, metadata={"min": 0})
    """Std of the per-track noise on the latent valence and arousal."""
    like_slope: float = 1.2
    """Like logit per unit of enjoyment logit."""
    like_valence_gain: float = 4.0
    """Like logit per unit of valence gained during the track."""
    mode_drift: tuple[tuple[float, float], ...] = (
        (0.0, 0.02),
        (0.0, 0.0),
        (0.01, -0.02),
        (0.0, -0.04),
    )
    """Per-track drift of (valence, arousal) in energize, focus, calm, sleep."""
    mode_start_arousal: tuple[float, ...] = (-0.2, 0.0, 0.15, 0.2)
    """Offset of the starting arousal in energize, focus, calm, sleep sessions."""
    start_spread: float = field(default=0.25, metadata={"min": 0})
    """Std of a session's starting affect around the listener's resting affect."""

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class SessionState:
    """The latent state of a batch of sessions. Mutated in place by `ReferenceWorld.step`."""

    listener: np.ndarray  # (batch,) listener ids
    mode: np.ndarray  # (batch,) index into MODES
    valence: np.ndarray  # (batch,) latent valence
    arousal: np.ndarray  # (batch,) latent arousal
    history: np.ndarray  # (batch, max_len) track ids played, -1 beyond `position`
    position: np.ndarray  # (batch,) tracks played so far

    @property
    def batch_size(self) -> int:
        """Number of sessions."""
        return len(self.listener)

    def take(self, rows: np.ndarray) -> SessionState:
        """An independent copy of sessions `rows` (integer ids, repeats allowed.

        Indexing copies).
        """
        rows = np.asarray(rows, dtype=np.int64)
        return SessionState(*(getattr(self, f.name)[rows] for f in fields(self)))


@dataclass(frozen=True)
class Outcome:
    """What happened for one track in each session of a batch: observed and latent parts."""

    engagement: np.ndarray  # (batch,) fraction listened, [0, 1]
    skipped: np.ndarray  # (batch,) bool
    rating: np.ndarray  # (batch,) 1 like, 0 dislike, nan not given
    valence_report: np.ndarray  # (batch,) nan when not given
    arousal_report: np.ndarray  # (batch,) nan when not given
    valence: np.ndarray  # (batch,) latent valence after the track
    arousal: np.ndarray  # (batch,) latent arousal after the track
    expected_engagement: np.ndarray  # (batch,) E[engagement | latent state]
    skip_probability: np.ndarray  # (batch,)
    like_probability: np.ndarray  # (batch,) P(like | rated, latent state)


@dataclass(frozen=True)
class ExpectedOutcome:
    """What the world expects one track to do in each session of a batch, from its latent state."""

    engagement: np.ndarray  # (batch,) E[fraction listened]
    skip_probability: np.ndarray  # (batch,)
    like_probability: np.ndarray  # (batch,) P(like | rated) at the expected affect change
    valence: (
        np.ndarray
    )  # (batch,) valence after the track at the expected engagement, without noise
    arousal: np.ndarray  # (batch,) arousal likewise


class ReferenceWorld:
    """A catalog, a population and their dynamics; the truth that logs come from."""

    def __init__(self, catalog: Catalog, population: Population, config: WorldConfig | None = None):
        self.catalog = catalog
        self.population = population
        self.config = config or WorldConfig()
        self._unit = catalog.unit_embeddings
        self._track_affect = np.stack([catalog.valence, catalog.arousal], axis=1)
        self._mode_fit = np.linalg.norm(
            self._track_affect[None] - _TARGETS[:, None], axis=2
        )  # (4, n_tracks)
        self._drift = np.asarray(self.config.mode_drift)

    def start(
        self,
        listener: np.ndarray,
        mode: np.ndarray,
        rng: np.random.Generator,
        max_len: int = 30,
        valence: np.ndarray | None = None,
        arousal: np.ndarray | None = None,
    ) -> SessionState:
        """Start sessions; the starting affect is drawn unless given (e.g. from a logged prefix)."""
        listener = np.asarray(listener, dtype=np.int64)
        mode = np.asarray(mode, dtype=np.int64)
        n, pop = len(listener), self.population
        if valence is None:
            valence = pop.baseline_valence[listener] + rng.normal(0, self.config.start_spread, n)
        if arousal is None:
            offset = np.asarray(self.config.mode_start_arousal)[mode]
            arousal = (
                pop.baseline_arousal[listener] + offset + rng.normal(0, self.config.start_spread, n)
            )
        return SessionState(
            listener=listener,
            mode=mode,
            valence=np.clip(np.asarray(valence, dtype=np.float64), -1, 1),
            arousal=np.clip(np.asarray(arousal, dtype=np.float64), -1, 1),
            history=np.full((n, max_len), -1, dtype=np.int64),
            position=np.zeros(n, dtype=np.int64),
        )

    def report(
        self, state: SessionState, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A noisy self-report of the current affect (always given; used at session start)."""
        noise = self.population.report_noise[state.listener]
        n = state.batch_size
        return (
            np.clip(state.valence + rng.normal(0, 1, n) * noise, -1, 1),
            np.clip(state.arousal + rng.normal(0, 1, n) * noise, -1, 1),
        )

    def enjoyment_logit(self, state: SessionState, track: np.ndarray) -> np.ndarray:
        """The listener's noiseless enjoyment logit for `track` in the current state."""
        cfg, pop = self.config, self.population
        taste = np.einsum("bd,bd->b", pop.taste[state.listener], self._unit[track])
        played = state.history[:, : max(1, int(state.position.max()))]
        repeats = (played == track[:, None]).sum(axis=1)
        recent = self._recent_similarity(state, track)
        fatigue = pop.fatigue[state.listener]
        logit: np.ndarray = (
            pop.engagement_bias[state.listener]
            + cfg.taste_weight * taste
            + cfg.popularity_weight * (self.catalog.popularity[track] - 0.3)
            - cfg.mode_fit_weight * self._mode_fit[state.mode, track]
            - fatigue
            * (cfg.repeat_penalty * repeats + cfg.sameness_penalty * np.maximum(recent - 0.6, 0))
        )
        return logit

    def _recent_similarity(self, state: SessionState, track: np.ndarray) -> np.ndarray:
        """Mean cosine similarity of `track` to the last 3 tracks played (0 at session start)."""
        total = np.zeros(state.batch_size)
        count = np.zeros(state.batch_size)
        rows = np.arange(state.batch_size)
        for lag in (1, 2, 3):
            idx = state.position - lag
            ok = idx >= 0
            prev = state.history[rows, np.maximum(idx, 0)]
            sim = np.einsum("bd,bd->b", self._unit[np.maximum(prev, 0)], self._unit[track])
            total += np.where(ok, sim, 0.0)
            count += ok
        return total / np.maximum(count, 1)

    def expected_outcome(self, state: SessionState, track: np.ndarray) -> ExpectedOutcome:
        """The expected response to `track` in every session, without playing it (state unchanged).

        The enjoyment noise is integrated out with the probit approximation, as in `Outcome`'s
        expectations; the affect moves as `step` moves it at the expected engagement.
        """
        track = self._check_tracks(state, track)
        _, skip_probability, damped, engagement = self._response(state, track)
        valence, arousal = (
            np.clip(x, -1, 1) for x in self._moved_affect(state, track, engagement, np.tanh(damped))
        )
        like = _sigmoid(
            self.config.like_slope * damped
            + self.config.like_valence_gain * (valence - state.valence)
        )
        return ExpectedOutcome(engagement, skip_probability, like, valence, arousal)

    def step(self, state: SessionState, track: np.ndarray, rng: np.random.Generator) -> Outcome:
        """Play one track in every session, sample the listener's response and move its affect."""
        track = self._check_tracks(state, track)
        if np.any(state.position >= state.history.shape[1]):
            raise ValueError("a session is already at its maximum length")
        cfg, pop = self.config, self.population
        n = state.batch_size
        listener = state.listener

        logit, skip_probability, damped, expected_engagement = self._response(state, track)
        noisy = logit + rng.normal(0, cfg.enjoyment_noise, n)
        skipped = rng.random(n) < skip_probability
        partial = cfg.skipped_listen_fraction * _sigmoid(noisy)
        engagement = np.where(skipped, partial, 1.0)

        old_valence = state.valence
        valence, arousal = self._moved_affect(state, track, engagement, np.tanh(noisy))
        state.valence = np.clip(valence + rng.normal(0, cfg.affect_noise, n), -1, 1)
        state.arousal = np.clip(arousal + rng.normal(0, cfg.affect_noise, n), -1, 1)

        like_probability = _sigmoid(
            cfg.like_slope * noisy + cfg.like_valence_gain * (state.valence - old_valence)
        )
        rated = rng.random(n) < pop.rating_propensity[listener]
        liked = rng.random(n) < like_probability
        rating = np.where(rated, liked.astype(np.float64), np.nan)
        reported = rng.random(n) < pop.report_propensity[listener]
        valence_report, arousal_report = self.report(state, rng)

        state.history[np.arange(n), state.position] = track
        state.position = state.position + 1
        return Outcome(
            engagement=engagement,
            skipped=skipped,
            rating=rating,
            valence_report=np.where(reported, valence_report, np.nan),
            arousal_report=np.where(reported, arousal_report, np.nan),
            valence=state.valence.copy(),
            arousal=state.arousal.copy(),
            expected_engagement=expected_engagement,
            skip_probability=skip_probability,
            like_probability=_sigmoid(
                cfg.like_slope * damped + cfg.like_valence_gain * (state.valence - old_valence)
            ),
        )

    def _check_tracks(self, state: SessionState, track: np.ndarray) -> np.ndarray:
        """`track` as (batch,) int64 catalog ids, or a clear error."""
        track = np.asarray(track, dtype=np.int64)
        if track.shape != (state.batch_size,):
            raise ValueError(f"need one track per session, got shape {track.shape}")
        if track.min() < 0 or track.max() >= self.catalog.n_tracks:
            raise ValueError(f"track ids must lie in [0, {self.catalog.n_tracks})")
        return track

    def _response(
        self, state: SessionState, track: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Enjoyment logit, skip probability, probit-damped logit and expected engagement."""
        cfg = self.config
        logit = self.enjoyment_logit(state, track)
        skip_probability = _sigmoid(-1.5 * logit + self.population.skip_bias[state.listener])
        damped = logit / np.sqrt(1 + np.pi * cfg.enjoyment_noise**2 / 8)  # probit approximation
        expected = (
            1 - skip_probability
        ) + skip_probability * cfg.skipped_listen_fraction * _sigmoid(damped)
        return logit, skip_probability, damped, expected

    def _moved_affect(
        self, state: SessionState, track: np.ndarray, engagement: np.ndarray, enjoyment: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Valence and arousal after `track` at this engagement and tanh-enjoyment.

        Before the affect noise and the clipping to [-1, 1].
        """
        cfg, pop, listener = self.config, self.population, state.listener
        weight = (0.25 + 0.75 * engagement) * pop.sensitivity[listener] * cfg.affect_pull
        drift = self._drift[state.mode]
        valence = (
            state.valence
            + weight * (self.catalog.valence[track] - state.valence)
            + cfg.baseline_pull * (pop.baseline_valence[listener] - state.valence)
            + cfg.enjoyment_valence * enjoyment
            + drift[:, 0]
        )
        arousal = (
            state.arousal
            + weight * (self.catalog.arousal[track] - state.arousal)
            + cfg.baseline_pull * (pop.baseline_arousal[listener] - state.arousal)
            + drift[:, 1]
        )
        return valence, arousal
