"""Where a step's outcome comes from: the world model, the reference world, or the logs.

Each `OutcomeSource` turns the played tracks into one `StepOutcome`: what the listener showed
(the feedback the world model observes) and what the source, as evaluator, expects
(engagement, like probability, affect before and after: what the utility is computed on).

| source | feedback | expectations and affect |
| --- | --- | --- |
| `WorldModelOutcomes` | drawn from the world model's prediction | the prediction |
| `ReferenceOutcomes` | the reference world's response | the latent truth |
| `LoggedOutcomes` | the logged response | logged, where logged, else the prediction |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from amrs_gym.reference_world import ReferenceWorld, SessionState
from amrs_gym.reward import UtilityInputs
from amrs_gym.sampling import sample_categorical
from amrs_gym.world_model.protocol import Feedback, StepPrediction

if TYPE_CHECKING:
    from amrs_gym.simulator.sessions import ListeningSessions
    from amrs_gym.simulator.starts import StartSession


@dataclass(frozen=True)
class StepOutcome(Feedback):
    """One step of n sessions.

    The feedback shown (`Feedback`'s fields) and the source's expectations.

    Every field is (n,).
    """

    skip_probability: np.ndarray
    """P(skip) as the source has it."""
    expected_engagement: np.ndarray
    """E[fraction listened] as the source has it (the utility's engagement)."""
    like_probability: np.ndarray
    """P(like) as the source has it (the utility's like term)."""
    valence_before: np.ndarray
    """Affect before the track, as the source has it."""
    arousal_before: np.ndarray
    valence_after: np.ndarray
    """Affect after the track, as the source has it."""
    arousal_after: np.ndarray
    valence_sampled: np.ndarray
    """One realisation of the affect after the track (a draw from the prediction in the world
    model; the latent truth in the reference world)."""
    arousal_sampled: np.ndarray

    def utility_inputs(self, repeats: np.ndarray) -> UtilityInputs:
        """What the utility reads, given each track's earlier plays in the episode."""
        return UtilityInputs(
            engagement=self.expected_engagement,
            like=self.like_probability,
            valence_before=self.valence_before,
            arousal_before=self.arousal_before,
            valence_after=self.valence_after,
            arousal_after=self.arousal_after,
            repeats=repeats,
        )


class OutcomeSource(Protocol):
    """The evaluator behind a batch of sessions."""

    def reset(
        self, rows: np.ndarray, picks: list[StartSession], cold: bool, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Start episodes in `rows`; returns starting reports (rows, 2) if the source draws them."""
        ...

    def affect(self, sessions: ListeningSessions) -> np.ndarray:
        """Each session's current affect as the source has it.

        # (n, 2)
        """
        ...

    def draw(
        self,
        sessions: ListeningSessions,
        tracks: np.ndarray,
        prediction: StepPrediction,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray,
    ) -> StepOutcome:
        """The outcome of playing `tracks` (n,); `prediction` is the world model's for them."""
        ...

    def fork(self, rows: np.ndarray) -> OutcomeSource:
        """The source for independent copies of sessions `rows`."""
        ...


def _predicted(prediction: StepPrediction) -> tuple[np.ndarray, ...]:
    """P(skip), E[engagement], P(like) and the mean affect (n, 2) of one candidate per session."""
    mean = np.stack([prediction.valence_mean[:, 0], prediction.arousal_mean[:, 0]], 1)
    return (
        prediction.skip_probability[:, 0],
        prediction.expected_engagement()[:, 0],
        prediction.like_probability[:, 0],
        mean,
    )


class _ModelAffect:
    """A source with no latent state: the affect it knows is the world model's estimate."""

    def reset(
        self, rows: np.ndarray, picks: list[StartSession], cold: bool, rng: np.random.Generator
    ) -> None:
        """Nothing to place."""
        return None

    def affect(self, sessions: ListeningSessions) -> np.ndarray:
        """The world model's estimate."""
        return sessions.affect


class WorldModelOutcomes(_ModelAffect):
    """Outcomes drawn from the world model's prediction: the simulator.

    Session i draws five uniforms from its own generator per step (skip, engagement bin, place in
    the bin, and two for the affect realisation), and only while `live`: N sessions behave like N
    single envs.
    """

    def draw(
        self,
        sessions: ListeningSessions,
        tracks: np.ndarray,
        prediction: StepPrediction,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray,
    ) -> StepOutcome:
        """Sample skip, engagement and an affect realisation from the prediction."""
        n = len(tracks)
        uniforms = np.full((n, 5), 0.5)
        rows = np.flatnonzero(live)
        if len(rows):
            uniforms[rows] = [rngs[i].random(5) for i in rows.tolist()]
        p_skip, expected, p_like, mean = _predicted(prediction)
        std = np.stack([prediction.valence_std[:, 0], prediction.arousal_std[:, 0]], 1)
        skipped = uniforms[:, 0] < p_skip
        probs = prediction.engagement_probabilities[:, 0][np.arange(n), skipped.astype(int)]
        bins = probs.shape[-1]
        engagement = (sample_categorical(probs, uniforms[:, 1]) + uniforms[:, 2]) / bins
        radius = np.sqrt(-2 * np.log(np.maximum(1 - uniforms[:, 3], 1e-12)))  # Box-Muller
        angle = 2 * np.pi * uniforms[:, 4]
        normal = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        sampled = np.clip(mean + std * normal, -1, 1)
        missing = np.full(n, np.nan)
        before = sessions.affect
        return StepOutcome(
            engagement=engagement,
            skipped=skipped,
            rating=missing,
            valence_report=missing,
            arousal_report=missing,
            skip_probability=p_skip,
            expected_engagement=expected,
            like_probability=p_like,
            valence_before=before[:, 0],
            arousal_before=before[:, 1],
            valence_after=mean[:, 0],
            arousal_after=mean[:, 1],
            valence_sampled=sampled[:, 0],
            arousal_sampled=sampled[:, 1],
        )

    def fork(self, rows: np.ndarray) -> WorldModelOutcomes:
        """Stateless: the same source serves the copies."""
        return self


class ReferenceOutcomes:
    """Outcomes from the reference world: each listener continues from their true latent state.

    The world draws from the generator of the first session (`rngs[0]`): episodes of one batch
    share one stream.
    """

    def __init__(self, world: ReferenceWorld, mode: int, episode_length: int):
        """Play `mode` (index into MODES) episodes of `episode_length` tracks in `world`."""
        self.world, self.mode, self.episode_length = world, mode, episode_length
        self.truth: SessionState | None = None

    def reset(
        self, rows: np.ndarray, picks: list[StartSession], cold: bool, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Place each picked listener in the world at the start of the picked session.

        Or at a fresh one when `cold`, whose first report then comes from the truth.
        """
        listener = np.array([s.listener for s in picks])
        mode = np.full(len(picks), self.mode)
        if cold:
            truth = self.world.start(listener, mode, rng, max_len=self.episode_length)
        else:
            latent = np.stack([s.latent_start for s in picks])
            if np.isnan(latent).any():
                raise ValueError(
                    "the reference evaluator needs the latent affect of each starting session "
                    "(columns latent_valence_before, latent_arousal_before): these logs have none"
                )
            truth = self.world.start(
                listener,
                mode,
                rng,
                max_len=self.episode_length,
                valence=latent[:, 0],
                arousal=latent[:, 1],
            )
        if self.truth is None or len(rows) == self.truth.batch_size:
            self.truth = truth
        else:
            for name in ("listener", "mode", "valence", "arousal", "history", "position"):
                getattr(self.truth, name)[rows] = getattr(truth, name)
        return np.stack(self.world.report(truth, rng), axis=1) if cold else None

    def _state(self) -> SessionState:
        if self.truth is None:
            raise RuntimeError("reset the sessions before stepping them")
        return self.truth

    def affect(self, sessions: ListeningSessions) -> np.ndarray:
        """The true latent affect."""
        truth = self._state()
        return np.stack([truth.valence, truth.arousal], 1)

    def draw(
        self,
        sessions: ListeningSessions,
        tracks: np.ndarray,
        prediction: StepPrediction,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray,
    ) -> StepOutcome:
        """Step the reference world."""
        truth = self._state()
        before = np.stack([truth.valence, truth.arousal], 1)
        outcome = self.world.step(truth, tracks, rngs[0])
        return StepOutcome(
            engagement=outcome.engagement,
            skipped=outcome.skipped,
            rating=outcome.rating,
            valence_report=outcome.valence_report,
            arousal_report=outcome.arousal_report,
            skip_probability=outcome.skip_probability,
            expected_engagement=outcome.expected_engagement,
            like_probability=outcome.like_probability,
            valence_before=before[:, 0],
            arousal_before=before[:, 1],
            valence_after=outcome.valence,
            arousal_after=outcome.arousal,
            valence_sampled=outcome.valence,
            arousal_sampled=outcome.arousal,
        )

    def expected_outcome(self, rows: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, ...]:
        """The truth's expected outcomes of candidates (rows, k): what no observer can know.

        Expected engagement, like probability, affect before (rows, 1) each and affect after for
        the candidates (rows, k).
        """
        truth = self._state()
        k = candidates.shape[1]
        expected = self.world.expected_outcome(
            truth.take(np.repeat(rows, k)), candidates.reshape(-1)
        )
        return (
            expected.engagement.reshape(-1, k),
            expected.like_probability.reshape(-1, k),
            truth.valence[rows, None],
            truth.arousal[rows, None],
            expected.valence.reshape(-1, k),
            expected.arousal.reshape(-1, k),
        )

    def fork(self, rows: np.ndarray) -> ReferenceOutcomes:
        """Refused: the reference world's latent state is not forked."""
        raise RuntimeError("only world-model sessions can be forked")


class LoggedOutcomes(_ModelAffect):
    """The logged outcomes of replayed sessions: step t of session i is `logged[i, t]`.

    Engagement is the logged one; the like term is the rating where one was given, else the
    world model's like probability; affect after is the report where given, else the world
    model's estimate (about 1 step in 5 has a report: filling the rest with 0 would read as
    "neutral affect" and reward tracks for being unreported).
    """

    def __init__(self, logged: Feedback):
        """Every field (n, T): the logged response of each session's t-th track."""
        self.logged = logged

    def draw(
        self,
        sessions: ListeningSessions,
        tracks: np.ndarray,
        prediction: StepPrediction,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray,
    ) -> StepOutcome:
        """Read the logged response of each session's current step."""
        rows, step = np.arange(len(tracks)), sessions.t
        engagement, skipped, rating, valence, arousal = (
            getattr(self.logged, f)[rows, step]
            for f in ("engagement", "skipped", "rating", "valence_report", "arousal_report")
        )
        p_skip, _, p_like, mean = _predicted(prediction)
        after = np.stack(
            [
                np.where(np.isnan(valence), mean[:, 0], valence),
                np.where(np.isnan(arousal), mean[:, 1], arousal),
            ],
            1,
        )
        before = sessions.affect
        return StepOutcome(
            engagement=engagement,
            skipped=skipped.astype(bool),
            rating=rating,
            valence_report=valence,
            arousal_report=arousal,
            skip_probability=p_skip,
            expected_engagement=engagement,
            like_probability=np.where(np.isnan(rating), p_like, rating),
            valence_before=before[:, 0],
            arousal_before=before[:, 1],
            valence_after=after[:, 0],
            arousal_after=after[:, 1],
            valence_sampled=after[:, 0],
            arousal_sampled=after[:, 1],
        )

    def fork(self, rows: np.ndarray) -> LoggedOutcomes:
        """Refused: a replay follows its logs."""
        raise RuntimeError("logged replays cannot be forked")
