"""`ListenerModel`: what a model must do to drive the simulator (torch-free).

The simulator (`amrs_gym.simulator`) never looks inside a model: it starts sessions from
logged histories (`start`), asks for the predicted response to candidate tracks
(`predict`), tells the model what the listener did (`observe`, with the raw feedback: the
model encodes it itself) and reads a context vector for the observation (`context`).
`NumpyRollout` (the fast path of the shipped transformer) and `TorchRollout` (any
`WorldModel`, the GRU included) implement it; so does the deliberately simple stub model
of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np

ModelState = Any
"""A model's cached state of a batch of sessions (opaque to the simulator)."""


@dataclass(frozen=True)
class Feedback:
    """What listeners showed after tracks; nan where a rating or report was not given.

    Every field has the same shape: (n,) for one step of n sessions, (n, L) for histories.
    """

    engagement: np.ndarray
    """Fraction of the track listened, [0, 1]."""
    skipped: np.ndarray
    """True where the track was skipped."""
    rating: np.ndarray
    """1 like, 0 dislike, nan not rated."""
    valence_report: np.ndarray
    """Self-reported valence, nan when not reported."""
    arousal_report: np.ndarray
    """Self-reported arousal, nan when not reported."""


@dataclass(frozen=True)
class StartBatch:
    """How a batch of n sessions begins: mode, cohort, starting report and logged history."""

    mode: np.ndarray  # (n,) index into amrs_gym.modes.MODES
    cohort: np.ndarray  # (n,) index into amrs_gym.modes.COHORTS
    start_report: np.ndarray  # (n, 2) the session's starting valence/arousal report
    history_tracks: np.ndarray  # (n, L) tracks of the listener's previous session, -1 padded
    history_positions: np.ndarray  # (n, L) their positions in that session
    history_feedback: Feedback  # fields (n, L): the logged feedback of those tracks
    history_length: np.ndarray  # (n,) valid history tracks of each row

    def __len__(self) -> int:
        return len(self.mode)


@dataclass(frozen=True)
class StepPrediction:
    """Predicted responses to candidate tracks; fields are (n, k) unless noted.

    An ensemble's prediction is its members' mixture, and `members` holds the members' own
    (every field with a leading member axis: (K, n, k)); their spread is the model's epistemic
    uncertainty (`disagreement`).
    """

    skip_probability: np.ndarray
    engagement_probabilities: np.ndarray  # (n, k, 2, bins): [not skipped, skipped]
    like_probability: np.ndarray
    valence_mean: np.ndarray
    valence_std: np.ndarray
    arousal_mean: np.ndarray
    arousal_std: np.ndarray
    members: StepPrediction | None = None

    def expected_engagement(self) -> np.ndarray:
        """E[fraction listened], mixing the kept and skipped engagement distributions."""
        bins = self.engagement_probabilities.shape[-1]
        centres = (np.arange(bins) + 0.5) / bins
        means = self.engagement_probabilities @ centres  # (n, k, 2)
        p = self.skip_probability
        result: np.ndarray = (1 - p) * means[..., 0] + p * means[..., 1]
        return result


PREDICTION_FIELDS = tuple(f.name for f in fields(StepPrediction) if f.name != "members")
"""The predicted quantities (every field but `members`)."""

DISAGREEMENT_KEYS = ("skip", "like", "engagement", "valence", "arousal")
"""What `disagreement` measures, in order."""


def _mean(x: np.ndarray) -> np.ndarray:
    """Mean over the leading (member) axis (ndarray.mean's wrapper costs more than the sum)."""
    result: np.ndarray = np.add.reduce(x, 0) * (1.0 / x.shape[0])
    return result


def member_std(x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Standard deviation over the leading (member) axis (ddof 0).

    `mean` is the members' mean if already computed (it must be `_mean(x)`, bit for bit).
    """
    centred = x - (_mean(x) if mean is None else mean)
    centred *= centred
    result: np.ndarray = np.sqrt(_mean(centred))
    return result


def mixture(members: StepPrediction) -> StepPrediction:
    """The equal-weight mixture of member predictions stacked on a leading axis (K, n, k).

    It keeps the members' own in `members`.

    P(skip) and P(like) are the members' means; the engagement distributions are mixed within
    kept and skipped plays (weighted by each member's probability of that branch); valence and
    arousal are Gaussian mixtures summarised by their mean and standard deviation.
    """
    skip = members.skip_probability
    branch = np.stack([1 - skip, skip], -1)[..., None] + 1e-12  # (K, n, k, 2, 1)
    weights = branch / np.add.reduce(branch, 0)

    def gaussian(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = _mean(mean)
        spread = _mean(std * std + mean * mean) - centre * centre
        return centre, np.sqrt(np.maximum(spread, 0) + 1e-12)

    valence_mean, valence_std = gaussian(members.valence_mean, members.valence_std)
    arousal_mean, arousal_std = gaussian(members.arousal_mean, members.arousal_std)
    return StepPrediction(
        skip_probability=_mean(skip),
        engagement_probabilities=np.add.reduce(weights * members.engagement_probabilities, 0),
        like_probability=_mean(members.like_probability),
        valence_mean=valence_mean,
        valence_std=valence_std,
        arousal_mean=arousal_mean,
        arousal_std=arousal_std,
        members=members,
    )


def disagreement(
    members: StepPrediction,
    engagement: np.ndarray | None = None,
    mixed: StepPrediction | None = None,
) -> dict[str, np.ndarray]:
    """The members' standard deviation (n, k) of each predicted mean (`DISAGREEMENT_KEYS`).

    `engagement` is the members' expected engagement if already computed; `mixed` is their
    `mixture` if already computed (its P(skip), P(like) and mean affect are the members' means,
    so they are not computed again).
    """
    means = (
        members.skip_probability,
        members.like_probability,
        members.expected_engagement() if engagement is None else engagement,
        members.valence_mean,
        members.arousal_mean,
    )
    centres = (
        (None,) * 5
        if mixed is None
        else (
            mixed.skip_probability,
            mixed.like_probability,
            None,  # the mixture's expected engagement is not the mean of the members' (in floats)
            mixed.valence_mean,
            mixed.arousal_mean,
        )
    )
    return {
        key: member_std(value, centre)
        for key, value, centre in zip(DISAGREEMENT_KEYS, means, centres, strict=True)
    }


@runtime_checkable
class ListenerModel(Protocol):
    """A model of how listeners respond, driven one step at a time by the simulator."""

    @property
    def n_tracks(self) -> int:
        """Catalog size the model was trained for (candidates are ids in [0, n_tracks))."""
        ...

    @property
    def context_size(self) -> int:
        """Length of the context vector `context` returns."""
        ...

    @property
    def max_tracks(self) -> int:
        """Most tracks one session's context holds (history plus the episode's tracks)."""
        ...

    def start(self, starts: StartBatch) -> ModelState:
        """Begin sessions: encode the start (mode, cohort, report) and each logged history."""
        ...

    def observe(
        self,
        state: ModelState,
        tracks: np.ndarray,
        feedback: Feedback,
        active: np.ndarray | None = None,
    ) -> None:
        """Append the track (n,) each session just played, with what the listener showed.

        Rows where `active` (n,) is False are left as they are (sessions about to be reset).
        """
        ...

    def predict(
        self, state: ModelState, candidates: np.ndarray, propensity: np.ndarray | None = None
    ) -> StepPrediction:
        """The predicted response to each candidate (n, k) as the next track of each session.

        `propensity` (n, k): the production policy's probability of playing each candidate
        there. Only a model whose `reads_propensity` is True reads it (and needs it); the
        simulator passes it to no other, so a model may leave the argument out.
        """
        ...

    def context(self, state: ModelState) -> np.ndarray:
        """A summary of each session so far (n, context_size), for the observation."""
        ...

    def select(self, state: ModelState, rows: np.ndarray, compact: bool = False) -> ModelState:
        """An independent copy of sessions `rows` (repeats allowed).

        With `compact`, the copy may drop room for tracks beyond its current ones: it is for
        storing (and `assign`-ing back), not for stepping.
        """
        ...

    def assign(self, state: ModelState, rows: np.ndarray, other: ModelState) -> None:
        """Overwrite sessions `rows` of `state` with `other` (as many rows, possibly compact)."""
        ...


def reads_propensity(model: object) -> bool:
    """True if `model` predicts from the production policy's propensity of each candidate.

    An optional attribute (`reads_propensity`) of a `ListenerModel`: absent means False.
    """
    return bool(getattr(model, "reads_propensity", False))


@runtime_checkable
class EnsembleModel(ListenerModel, Protocol):
    """A `ListenerModel` of several members whose predictions it mixes (`NumpyRollout.ensemble`).

    Its state has a `member(index)` view that the member model steps alone.
    """

    members: int

    def member(self, index: int) -> ListenerModel:
        """Member `index` alone: its `predict` on `state.member(index)` is that member's."""
        ...
