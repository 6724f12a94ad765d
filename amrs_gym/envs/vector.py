"""AffectiveListeningVectorEnv: N listening sessions stepped by one batched world-model call."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from amrs_gym.envs.checks import (
    check_made_as_registered,
    check_render_mode,
    reset_options,
    vector_length,
)
from amrs_gym.simulator import SessionConfig, SessionView
from amrs_gym.simulator.config import MAX_SESSIONS, START_CHOICES
from amrs_gym.validation import check_choice, check_int


class AffectiveListeningVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """The vectorised `AffectiveListeningEnv`: same arguments, plus `num_envs`.

    Made by `gym.make_vec("AMRS-Calm-v0", num_envs=N, vectorization_mode="vector_entry_point")`.
    Autoreset follows Gymnasium 1.0 ("next step"): the step after a sub-env's episode
    ends resets it, ignores its action, and returns its first observation with reward 0.
    Sub-env i under seed s behaves like a single env reset with seed s + i.
    Info arrays are batched (one entry per sub-env); `utility_components` is a dict of arrays.
    """

    metadata = {"autoreset_mode": "next_step"}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int,
        mode: str,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        **session: Any,
    ):
        """`num_envs` sessions of `SessionConfig(mode, **session)`.

        `max_episode_steps` (what `make_vec` passes on) is the episode length, and must agree
        with `episode_length` when both are given. `render_mode`: None only.
        """
        check_render_mode(render_mode)
        self.render_mode = render_mode
        num_envs = check_int("num_envs", num_envs, 1, MAX_SESSIONS)
        vector_length(session, max_episode_steps)
        self.config = SessionConfig.from_options(mode, **session)
        self.num_envs, self.mode, self.start = num_envs, self.config.mode, self.config.start
        self.episode_length = self.config.episode_length
        self.sessions = self.config.create(num_envs)
        self.utility, self.catalog, self.model = (
            self.sessions.utility,
            self.sessions.catalog,
            self.sessions.model,
        )
        self.single_observation_space = self.sessions.observation_space()
        self.single_action_space = spaces.Discrete(self.catalog.n_tracks)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs: list[np.random.Generator] = []
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    def session_view(self) -> SessionView:
        """The read-only view a session-aware agent is bound to (`agents.bind(agent, envs)`)."""
        return self.sessions.view()

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env; sub-env i gets seed `seed + i` (or `seed[i]`)."""
        check_made_as_registered(self.spec, self.mode)
        seeds = (
            seed
            if isinstance(seed, list)
            else [None if seed is None else seed + i for i in range(self.num_envs)]
        )
        if len(seeds) != self.num_envs:
            raise ValueError(f"need {self.num_envs} seeds, got {len(seeds)}")
        if seed is not None or not self._rngs:
            self._rngs = [np.random.default_rng(s) for s in seeds]
        start = reset_options(options, ("start",)).get("start", self.start)
        self._cold = check_choice("start", start, START_CHOICES) == "cold"
        self.sessions.reset(np.arange(self.num_envs), self._rngs, cold=self._cold)
        self._needs_reset[:] = False
        return self.sessions.observations(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; those whose episode ended on the previous step are reset instead."""
        if not self._rngs:
            raise RuntimeError("call reset() before step()")
        actions = self.sessions.check_actions(actions)
        resetting = self._needs_reset.copy()
        rewards, info = self.sessions.step(actions, self._rngs, live=~resetting)
        if resetting.any():
            self.sessions.reset(np.flatnonzero(resetting), self._rngs, cold=self._cold)
            rewards[resetting] = 0.0
        truncated = (self.sessions.t >= self.episode_length) & ~resetting
        self._needs_reset = truncated.copy()
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self.sessions.observations(), rewards, terminated, truncated, info
