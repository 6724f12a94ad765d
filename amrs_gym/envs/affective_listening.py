"""AffectiveListeningEnv: the learned world model as a Gymnasium environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from amrs_gym.envs.sessions import build_sessions, observation_space
from amrs_gym.reference_world import ReferenceWorld
from amrs_gym.reward import Utility


class AffectiveListeningEnv(gym.Env[np.ndarray, np.int64]):
    """A listening session simulated by the learned world model; reward = the mode's utility.

    ## Description
    An episode continues a held-out listener's logged session (or starts a cold one) in
    one mode (energize, focus, calm or sleep). Each step the agent picks a track from the
    catalog; the world model predicts the listener's response (skip, fraction listened,
    like, valence/arousal after the track), samples an outcome and continues from it.
    Registered as `AMRS-Energize-v0`, `AMRS-Focus-v0`, `AMRS-Calm-v0`, `AMRS-Sleep-v0`.

    ## Action Space
    `Discrete(n_tracks)`: the catalog index of the next track (1,200 in the default catalog).

    ## Observation Space
    A flat `Box` of float32, 15 + d_model values (79 with the default model):

    | index | field | min | max | unit |
    | --- | --- | --- | --- | --- |
    | 0-3 | mode one-hot (energize, focus, calm, sleep) | 0 | 1 | - |
    | 4-5 | cohort one-hot (consumer, clinical) | 0 | 1 | - |
    | 6 | time in the episode, step / episode_length | 0 | 1 | fraction |
    | 7-8 | world model's current valence, arousal estimate | -1 | 1 | circumplex |
    | 9-10 | the mode's target valence, arousal | -1 | 1 | circumplex |
    | 11 | distance from the estimate to the target | 0 | 2.83 | circumplex |
    | 12-14 | last step's engagement, skipped, like probability | 0 | 1 | fraction |
    | 15-78 | world model context vector (summary of the session so far) | -10 | 10 | - |

    ## Rewards
    The mode's `amrs_gym.reward.Utility` (a dataclass; pass your own as `utility`):
    `engagement_weight * E[engagement] + like_weight * P(like) + progress_weight * (d - d')
    - distance_weight * d' - repeat_weight * repeats`, with d, d' the distance of the predicted
    valence/arousal to the target before and after the track. Focus adds
    `- steadiness_weight * |affect change|`, sleep adds `+ falling_arousal_weight * (a - a')`.
    Defaults: engagement 1, like 0.5, progress 10, distance 0.5, repeat 0.5, focus steadiness 2,
    sleep falling arousal 3. Expected values given the sampled trajectory are used, which
    lowers the reward's variance without changing its expectation.

    ## Starting State
    By default a random logged session of a held-out (test) listener in this mode and
    cohort, of which the last `history_length` tracks form the context. With
    `options={"start": "cold"}` (or `start="cold"`), only the session's starting report is kept.

    ## Episode End
    - Termination: never (a session has no terminal state).
    - Truncation: after `episode_length` steps (`max_episode_steps` of the registered ids).

    ## Info
    - `track_id`: the track played.
    - `skip_probability`, `like_probability`, `expected_engagement`: the world model's predictions.
    - `engagement`, `skipped`: the sampled outcome the rollout continues from.
    - `valence_predicted`, `arousal_predicted`: predicted mean affect after the track.
    - `valence_sampled`, `arousal_sampled`: affect sampled from the predicted distribution.
    - `utility_components`: each weighted term of the reward (they sum to it).

    ## Arguments
    | parameter | type | default | meaning |
    | --- | --- | --- | --- |
    | mode | str | (set by the id) | energize, focus, calm or sleep |
    | cohort | str | "mixed" | consumer, clinical or mixed starting listeners |
    | start | str | "history" | "history" or "cold" |
    | history_length | int | 20 | logged tracks kept as context |
    | episode_length | int | 20 | steps per episode |
    | utility | Utility or None | None | reward; None means `default_utility(mode)` |
    | checkpoint | str or None | None | world model; None means the shipped one |
    | start_sessions | DataFrame or None | None | logs whose sessions start episodes; None means the shipped held-out listeners' (train agents on training listeners' logs) |

    ## Version History
    - v0: first release.

    Example:
        >>> import gymnasium as gym, amrs_gym
        >>> env = gym.make("AMRS-Calm-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (79,)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> sorted(info)[:3]
        ['arousal_predicted', 'arousal_sampled', 'engagement']
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        mode: str,
        cohort: Literal["consumer", "clinical", "mixed"] = "mixed",
        start: Literal["history", "cold"] = "history",
        history_length: int = 20,
        episode_length: int = 20,
        utility: Utility | None = None,
        checkpoint: str | Path | None = None,
        start_sessions: pd.DataFrame | None = None,
    ):
        self.mode, self.start = mode, start
        self.sessions = build_sessions(
            1, mode, cohort, start, history_length, episode_length, utility, checkpoint, world=self._world(),
            start_frame=start_sessions,
        )
        self.utility, self.catalog, self.engine = self.sessions.utility, self.sessions.catalog, self.sessions.engine
        self.episode_length = episode_length
        self.observation_space = observation_space(self.engine)
        self.action_space = spaces.Discrete(self.catalog.n_tracks)
        self._steps: int | None = None

    def _world(self) -> ReferenceWorld | None:
        """The source of outcomes other than the world model (none here; the reference env overrides)."""
        return None

    def _get_obs(self) -> np.ndarray:
        return self.sessions.observations()[0]

    def _get_info(self, step_info: dict[str, Any] | None = None) -> dict[str, Any]:
        if step_info is None:
            return {}
        return {
            key: ({k: float(v[0]) for k, v in value.items()} if isinstance(value, dict) else value[0].item())
            for key, value in step_info.items()
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; `options={"start": "cold"}` overrides the start kind for this episode."""
        super().reset(seed=seed)
        start = (options or {}).get("start", self.start)
        if start not in ("history", "cold"):
            raise ValueError(f"unknown start {start!r}; expected 'history' or 'cold'")
        self.sessions.reset(np.arange(1), [self.np_random], cold=start == "cold")
        self._steps = 0
        return self._get_obs(), self._get_info()

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play `action` (a track id) and return the listener's simulated response."""
        if self._steps is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.episode_length:
            raise RuntimeError("the episode has ended (truncated); call reset() before step()")
        if isinstance(action, bool | np.bool_) or not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}: expected an integer track id in {self.action_space}")
        rewards, info = self.sessions.step(np.array([action]), [self.np_random])
        self._steps += 1
        truncated = self._steps >= self.episode_length
        return self._get_obs(), float(rewards[0]), False, truncated, self._get_info(info)
