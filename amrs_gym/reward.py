"""The mode-conditioned utility.

One definition shared by the envs, DPO's preference scoring and the benchmarks.

For one played track, with affect (v, a) before and (v', a') after, target (v*, a*),
distance d = ||(v, a) - (v*, a*)|| and d' the same after:

    utility = w_engagement * engagement + w_like * P(like)
            + w_progress * (d - d') - w_distance * d'
            - w_steadiness * ||(v', a') - (v, a)||          (focus)
            + w_falling_arousal * (a - a')                   (sleep)
            - w_repeat * earlier plays of the track in the episode

Every term is returned separately, so an env can put them in `info`. With an ensemble world
model, the pessimistic reward subtracts lambda times the members' standard deviation of this
utility (`SessionConfig.pessimism`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from amrs_gym.modes import DEFAULT_TARGETS, Mode, check_mode
from amrs_gym.validation import check_fields

DEFAULT_PESSIMISM = 1.0
"""The pessimistic envs' lambda: reward = utility - lambda * (members' standard deviation of the
one-step utility). Chosen by convention, without the reference world: one standard deviation of
member disagreement, the unit penalty of MOPO (Yu et al. 2020). README "Uncertainty" says what it
does in the reference world (scored there, never selected there)."""


MAX_PESSIMISM = 100.0
"""Largest lambda accepted (beyond it the penalty is all the reward says)."""


@dataclass(frozen=True)
class UtilityInputs:
    """What the utility needs about one step, batched: every field is (batch,)."""

    engagement: np.ndarray
    """Expected fraction listened, [0, 1]."""
    like: np.ndarray
    """Probability of a like, [0, 1]."""
    valence_before: np.ndarray
    arousal_before: np.ndarray
    valence_after: np.ndarray
    arousal_after: np.ndarray
    repeats: np.ndarray
    """Earlier plays of this track in the episode."""


@dataclass(frozen=True)
class Utility:
    """A mode's multi-objective utility (see the module docstring for the formula)."""

    mode: Mode
    """The mode this utility serves."""
    target_valence: float = field(metadata={"min": -1, "max": 1})
    """Target valence, [-1, 1]."""
    target_arousal: float = field(metadata={"min": -1, "max": 1})
    """Target arousal, [-1, 1]."""
    engagement_weight: float = 1.0
    """Per unit of expected engagement."""
    like_weight: float = 0.5
    """Per unit of like probability."""
    progress_weight: float = 10.0
    """Per unit of distance to the target closed by this track."""
    distance_weight: float = 0.5
    """Per unit of distance to the target left after this track."""
    steadiness_weight: float = 0.0
    """Per unit of affect change (focus wants a steady state)."""
    falling_arousal_weight: float = 0.0
    """Per unit of arousal drop (sleep wants arousal falling)."""
    repeat_weight: float = 0.5
    """Per earlier play of the same track in the episode."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_mode(self.mode)

    def components(self, step: UtilityInputs) -> dict[str, np.ndarray]:
        """Each weighted term of the utility, (batch,) each; they sum to the utility."""
        before = np.hypot(
            step.valence_before - self.target_valence, step.arousal_before - self.target_arousal
        )
        after = np.hypot(
            step.valence_after - self.target_valence, step.arousal_after - self.target_arousal
        )
        change = np.hypot(
            step.valence_after - step.valence_before, step.arousal_after - step.arousal_before
        )
        return {
            "engagement": self.engagement_weight * np.asarray(step.engagement, dtype=np.float64),
            "like": self.like_weight * np.asarray(step.like, dtype=np.float64),
            "progress": self.progress_weight * (before - after),
            "distance": -self.distance_weight * after,
            "steadiness": -self.steadiness_weight * change,
            "falling_arousal": self.falling_arousal_weight
            * (step.arousal_before - step.arousal_after),
            "repeat": -self.repeat_weight * np.asarray(step.repeats, dtype=np.float64),
        }

    @staticmethod
    def total(components: dict[str, np.ndarray]) -> np.ndarray:
        """The utility: the sum of its weighted terms (as `components` returns them)."""
        result: np.ndarray = np.sum(list(components.values()), axis=0)
        return result

    def __call__(self, step: UtilityInputs) -> np.ndarray:
        """The utility of each step in the batch."""
        return self.total(self.components(step))

    def in_target_zone(
        self, valence: np.ndarray, arousal: np.ndarray, radius: float = 0.25
    ) -> np.ndarray:
        """Whether affect lies within `radius` of the target."""
        return np.hypot(valence - self.target_valence, arousal - self.target_arousal) <= radius


def default_utility(mode: str) -> Utility:
    """The documented default utility of a mode.

    Focus adds steadiness, sleep adds falling arousal.
    """
    checked = check_mode(mode)
    target = DEFAULT_TARGETS[checked]
    base = Utility(mode=checked, target_valence=target.valence, target_arousal=target.arousal)
    if mode == "focus":
        return replace(base, steadiness_weight=2.0)
    if mode == "sleep":
        return replace(base, falling_arousal_weight=3.0)
    return base
