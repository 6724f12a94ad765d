"""Variants of a fitted agent's policy: mixed with uniformly random tracks, or tempered.

They make policy zoos for off-policy evaluation (DOPE's recipe: many policies of graded quality
from a few trained ones) and are useful alone, e.g. an epsilon-exploring copy of a deployed
policy. A variant acts through the base agent's SB3 `predict` (so session-aware bases work once
bound), keeps its own played tracks in SB3's recurrent state, and exposes
`action_probabilities` whenever its base does::

    explorer = RandomMixtureAgent(dpo, share=0.1)    # 10% uniformly random tracks
    sharper = TemperedAgent(bc, temperature=0.5)     # p ** 2, renormalised
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from agents.base import act_remembering, sb3_actions
from agents.protocol import needs_view
from amrs_gym.sampling import sample_categorical, tempered
from amrs_gym.simulator import SessionView
from amrs_gym.validation import check_value


class PolicyVariant:
    """What both variants share: the base agent, seeding, binding and the played-tracks state."""

    def __init__(self, base: Any, name: str):
        """A variant of the fitted agent `base`, called `name`."""
        self.base, self.name, self.mode = base, name, base.mode
        self.needs_view = needs_view(base)
        self.n_tracks: int | None = getattr(base, "n_tracks", None)
        self.rng = np.random.default_rng(0)
        if callable(getattr(base, "action_probabilities", None)):
            # an instance attribute, so `getattr(variant, "action_probabilities", None)` tells
            # whether the variant can say how likely each track is (its base can)
            self.action_probabilities = self._probabilities

    @property
    def view(self) -> SessionView | None:
        """The base's session view (session-aware bases only)."""
        view: SessionView | None = getattr(self.base, "view", None)
        return view

    def bind(self, view: SessionView | None) -> Self:
        """Bind the base agent to `view`."""
        self.base.bind(view)
        return self

    def seed(self, seed: Any) -> None:
        """Reseed the variant's draws and the base's."""
        self.rng = np.random.default_rng(seed)
        if hasattr(self.base, "seed"):
            self.base.seed([*np.atleast_1d(seed), 1])

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """A track per observation (SB3's signature); `state` is the tracks played so far."""
        actions, played = act_remembering(
            self._act, observation, state, episode_start, deterministic
        )
        return sb3_actions(observation, actions), played

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        raise NotImplementedError

    def _probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        raise NotImplementedError

    def _base_probabilities(self, observation: np.ndarray, state: Any) -> np.ndarray:
        probabilities: np.ndarray = self.base.action_probabilities(observation, state)
        return probabilities


class RandomMixtureAgent(PolicyVariant):
    """With probability `share` a uniformly random track, else the base agent's.

    Its distribution: (1 - share) * base + share / n_tracks.
    """

    def __init__(self, base: Any, share: float):
        """Mix the fitted agent `base` with the uniform policy at rate `share` in (0, 1]."""
        check_value("share", share, float, {"min": 1e-9, "max": 1.0})
        self.share = float(share)
        super().__init__(base, f"{base.name}+random{self.share:g}")
        if self.n_tracks is None:
            raise ValueError(f"the {base.name} agent has no catalog size: fit() or load() it first")

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        actions, _ = self.base.predict(observation, played, None, deterministic)
        actions = np.asarray(actions, dtype=np.int64).reshape(-1)
        swap = self.rng.random(len(actions)) < self.share
        drawn = self.rng.integers(0, self.n_tracks or 1, len(actions))
        return np.where(swap, drawn, actions)

    def _probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The mixture's distribution over the catalog.

        # (n, n_tracks)
        """
        base = self._base_probabilities(observation, state)
        return (1.0 - self.share) * base + self.share / base.shape[1]


class TemperedAgent(PolicyVariant):
    """The base agent's distribution raised to 1 / `temperature` and renormalised.

    Temperature above 1 is softer (towards uniform over the base's support), below 1 sharper
    (towards its most likely track). The base must expose `action_probabilities`.
    """

    def __init__(self, base: Any, temperature: float):
        """Temper the fitted probabilistic agent `base`; `temperature` > 0."""
        check_value("temperature", temperature, float, {"min": 1e-3})
        self.temperature = float(temperature)
        if not callable(getattr(base, "action_probabilities", None)):
            raise ValueError(
                f"the {base.name} agent has no action_probabilities: only a stochastic policy "
                "can be tempered"
            )
        super().__init__(base, f"{base.name}@T{self.temperature:g}")

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        probabilities = self._probabilities(observation, played)
        if deterministic:
            return probabilities.argmax(axis=1).astype(np.int64)
        return sample_categorical(probabilities, self.rng.random(len(probabilities)))

    def _probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The tempered distribution over the catalog.

        # (n, n_tracks)
        """
        return tempered(self._base_probabilities(observation, state), self.temperature)


__all__ = ["PolicyVariant", "RandomMixtureAgent", "TemperedAgent"]
