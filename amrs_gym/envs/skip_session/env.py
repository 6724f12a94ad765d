"""SkipSessionEnv: the DDPG poster seed's data-driven environment (`AMRS-SkipSession-v0`).

The env has no listener model. It answers with the logs: the response to a (state, track)
pair is read off the `k` nearest logged (state, track) pairs (`memory.LoggedPairs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from amrs_gym.catalog import Catalog
from amrs_gym.envs.checks import reset_options
from amrs_gym.envs.skip_session.memory import (
    DEFAULT_ACTION_WEIGHT,
    FEATURE_NAMES,
    HISTORY_LENGTH,
    SLOT_SIZE,
    LoggedPairs,
    StartHistories,
    memory_for,
    starts_for,
)

StartMode = Literal["logged", "empty"]
RewardFn = Callable[[bool, float], float]

EPISODE_LENGTH = 15
"""Tracks per episode (the poster's 15-track sessions)."""
START_MODES: tuple[StartMode, ...] = ("logged", "empty")
INFO_KEYS = ("track_id", "skip_probability", "skipped", "engagement", "neighbours", "start_session")


def kept_reward(skipped: bool, engagement: float) -> float:
    """The poster's reward: 1 for a track that is not skipped, else 0."""
    return 0.0 if skipped else 1.0


def _check_settings(
    history_length: int, max_steps: int, action_weight: float, start: StartMode
) -> None:
    """Raise ValueError for a scalar argument of `SkipSessionEnv` out of range."""
    if not isinstance(history_length, int) or history_length < 1:
        raise ValueError(f"history_length must be an integer >= 1, got {history_length!r}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    if not np.isfinite(action_weight) or action_weight <= 0:
        raise ValueError(f"action_weight must be a finite number > 0, got {action_weight!r}")
    if start not in START_MODES:
        raise ValueError(f"unknown start {start!r}; expected one of {', '.join(START_MODES)}")


class SkipSessionEnv(gym.Env[np.ndarray, np.ndarray]):
    """A listening session answered by the nearest logged (state, track) pairs.

    ## Description

    The data-driven environment of the DDPG poster seed. There is no listener model:
    when the agent plays a track, the env finds the `k` logged pairs (the state before a
    logged track, that track) nearest to the current (state, track) and answers with
    their responses. The skip probability is the fraction of those neighbours that were
    skipped; the skip is drawn from it with `self.np_random`; the engagement is the mean
    engagement of the neighbours with the drawn outcome (1 for a kept track in the
    default logs). The distance between (s, t) and a logged (s_i, t_i) is

        d^2 = ||s - s_i||^2 + w^2 ||f(t) - f(t_i)||^2

    with s the 40-value state below, f(t) the track's 5 features and w = `action_weight`
    (10 by default; w = 1 is the plain Euclidean distance of the concatenated vectors).
    The search is exact (`LoggedPairs.nearest`) but only fast when w is large: it visits
    the logged rows of tracks in order of their feature distance to the played one, which
    prunes little when the 40 state values dominate the 5 track values. On the validation
    listeners of the default logs, w = 1 and w = 10 match the reference world's true skip
    probability equally well (correlation 0.53 and 0.54, against 0.31 for each track's
    logged skip rate), but a step takes about 17 ms at w = 1 and 0.3 ms at w = 10, and at
    w = 10 the response depends more on the action (std of the skip probability across
    random tracks, for a fixed state: 0.18 against 0.14). A larger `k` tracks the truth
    better (k = 50: correlation 0.61).

    By default the memory is every row of the training listeners of the default logs
    (`amrs_gym.defaults.default_split().train`, about 168,000 pairs), built once per
    process (about 0.3 s after the default logs exist). Pass `logs` and `catalog` to use
    your own logs.

    ## Action Space

    `Box(-1, 1, shape=(5,), dtype=float32)`: a point in the catalog's feature space
    (valence, arousal, energy, tempo, popularity, as `Catalog.features()`). The env plays
    the catalog track nearest to it (Euclidean distance in feature space) among the
    tracks not yet played this episode; the starting history's tracks count as played,
    so an episode never repeats a track (ties: the lowest track id). `step` raises
    `ValueError` for an action of another shape, with a non-finite value, or outside
    [-1, 1].

    ## Observation Space

    `Box(low, high, shape=(8 * history_length,), dtype=float32)`, 40 values by default:
    `history_length` slots of 8, slot j = 0 the track played last, j = 1 the one before...

    | index      | field                                       | min | max | unit     |
    |------------|---------------------------------------------|-----|-----|----------|
    | 8j + 0     | valence of the track in slot j              | -1  | 1   | feature  |
    | 8j + 1     | arousal                                     | -1  | 1   | feature  |
    | 8j + 2     | energy, 2 * energy - 1                      | -1  | 1   | feature  |
    | 8j + 3     | tempo, (bpm - 120) / 60 clipped             | -1  | 1   | feature  |
    | 8j + 4     | popularity, 2 * popularity - 1              | -1  | 1   | feature  |
    | 8j + 5     | skipped                                     | 0   | 1   | 0/1      |
    | 8j + 6     | engagement (fraction listened)              | 0   | 1   | fraction |
    | 8j + 7     | present: 1 if the slot holds a track        | 0   | 1   | 0/1      |

    An empty slot (fewer than `history_length` tracks so far) is all zeros.

    ## Rewards

    `reward_fn(skipped, engagement)`, by default `kept_reward`: 1 when the track is not
    skipped, else 0. An episode scores 0 to 15.

    ## Starting State

    With `start="logged"` (default): the first `history_length` tracks of a logged session
    drawn uniformly with `self.np_random` from the start logs, with their logged skips
    and engagement as the history. The default start logs are the held-out (test)
    listeners' sessions (1,485 sessions), so no episode starts from a session in the
    memory. With `start="empty"` the history is empty (all zeros). `reset(options={"start":
    "empty"})` (or `"logged"`) overrides the constructor's choice for one episode.

    ## Episode End

    - Termination: never (`terminated` is always False).
    - Truncation: after `max_steps` tracks (15). The env sets `truncated=True` itself,
      and the registered id adds `max_episode_steps=15`. `step` before the first
      `reset`, or after the episode ended, raises `RuntimeError`.

    ## Info

    `reset` and `step` return the same keys; after `reset` no track has been played,
    so `track_id` is -1, `skipped` False and the floats NaN.

    - `track_id`: int, the track played.
    - `skip_probability`: float, the fraction of the `k` neighbours that were skipped.
    - `skipped`: bool, the drawn outcome.
    - `engagement`: float, the neighbours' mean engagement given the outcome.
    - `neighbours`: float, d to the nearest logged pair (how far the env extrapolates).
    - `start_session`: int, the logged session the episode started from (its index in the
      start logs, `env.unwrapped.starts.session_ids[i]` is its id), -1 for an empty start.

    ## Arguments

    | parameter        | type                      | default     | meaning                     |
    |------------------|---------------------------|-------------|-----------------------------|
    | `logs`           | DataFrame, LoggedPairs    | None        | memory; None: default train |
    | `catalog`        | Catalog                   | None        | catalog of `logs`           |
    | `start_logs`     | DataFrame, StartHistories | None        | starts; None: default test  |
    | `k`              | int                       | 10          | neighbours per response     |
    | `action_weight`  | float                     | 10.0        | w, the track's weight in d  |
    | `history_length` | int                       | 5           | tracks in the state         |
    | `max_steps`      | int                       | 15          | tracks per episode          |
    | `start`          | "logged" or "empty"       | "logged"    | starting history            |
    | `reward_fn`      | (bool, float) -> float    | kept_reward | reward(skipped, engagement) |

    With your own `logs` (a DataFrame), `start_logs` defaults to the same logs; pass
    held-out sessions to start episodes outside the memory. A `LoggedPairs` built once
    with `LoggedPairs.from_logs` can be shared by many envs.

    ## Version History

    - v0: Initial version.
    - v0, amrs-gym 0.2: `info["start_session"]` added (same dynamics, reward and spaces).

    Example:
        >>> import gymnasium as gym, amrs_gym
        >>> env = gym.make("AMRS-SkipSession-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs[7]  # 40 values; slot 0 holds a logged track
        ((40,), np.float32(1.0))
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> sorted(info)
        ['engagement', 'neighbours', 'skip_probability', 'skipped', 'start_session', 'track_id']
        >>> reward == (0.0 if info["skipped"] else 1.0)
        True
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Env declares it per instance)
    action_space: spaces.Box
    observation_space: spaces.Box

    def __init__(
        self,
        *,
        logs: pd.DataFrame | LoggedPairs | None = None,
        catalog: Catalog | None = None,
        start_logs: pd.DataFrame | StartHistories | None = None,
        k: int = 10,
        action_weight: float = DEFAULT_ACTION_WEIGHT,
        history_length: int = HISTORY_LENGTH,
        max_steps: int = EPISODE_LENGTH,
        start: StartMode = "logged",
        reward_fn: RewardFn = kept_reward,
    ) -> None:
        """Load (or build) the logged pairs and the start histories, and build the spaces.

        Raises:
            ValueError: If an argument is out of range or inconsistent with the others.
        """
        _check_settings(history_length, max_steps, action_weight, start)
        if not callable(reward_fn):
            raise ValueError(
                f"reward_fn must be a callable reward(skipped, engagement) -> float, got "
                f"{reward_fn!r}"
            )
        pairs = memory_for(logs, catalog, history_length)
        starts = starts_for(start_logs, logs, history_length)
        if starts.history_length != history_length:
            raise ValueError(
                f"the StartHistories have history_length {starts.history_length}, "
                f"not {history_length}"
            )
        if starts.track_ids.max() >= pairs.catalog.n_tracks:
            raise ValueError(f"start logs name track ids outside 0..{pairs.catalog.n_tracks - 1}")

        if not isinstance(k, int) or not 1 <= k <= pairs.n_rows:
            raise ValueError(
                f"k must be an integer in 1..{pairs.n_rows} (the logged pairs), got {k!r}"
            )
        if pairs.catalog.n_tracks < history_length + max_steps:
            raise ValueError(
                f"the catalog has {pairs.catalog.n_tracks} tracks; an episode needs "
                f"history_length + max_steps = {history_length + max_steps} distinct tracks"
            )

        self.pairs = pairs
        self.starts = starts
        self.catalog: Catalog = pairs.catalog
        self.features = pairs.features  # (n_tracks, 5)
        self.k = k
        self.action_weight = float(action_weight)
        self.history_length = history_length
        self.max_steps = max_steps
        self.start: StartMode = start
        self.reward_fn = reward_fn

        self.action_space = spaces.Box(-1.0, 1.0, shape=(len(FEATURE_NAMES),), dtype=np.float32)
        low = np.tile(np.array([-1.0] * 5 + [0.0] * 3, dtype=np.float32), history_length)
        self.observation_space = spaces.Box(low, np.ones_like(low), dtype=np.float32)

        self._history: np.ndarray | None = (
            None  # (history_length, SLOT_SIZE) float32, slot 0 = latest
        )
        self._played: np.ndarray | None = None  # (n_tracks,) bool
        self._steps = 0
        self._done = False
        self._start_session = -1
        self._last: dict[str, Any] = {}

    # --- helpers ---------------------------------------------------------------------

    @property
    def played_track_ids(self) -> np.ndarray:
        """Tracks played this episode (the starting history included), ascending."""
        if self._played is None:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(self._played)

    def _get_obs(self) -> np.ndarray:
        """The history as a flat observation."""
        assert self._history is not None
        return self._history.reshape(-1).copy()  # (SLOT_SIZE * history_length,)

    def _get_info(self) -> dict[str, Any]:
        """The keys documented under Info."""
        return dict(self._last)

    def _push(self, track_id: int, skipped: bool, engagement: float) -> None:
        """Add a played track and its response to the history."""
        assert self._history is not None and self._played is not None
        self._history[1:] = self._history[:-1]
        self._history[0, :5] = self.features[track_id]
        self._history[0, 5:] = (float(skipped), engagement, 1.0)
        self._played[track_id] = True

    def track_for(self, action: np.ndarray) -> int:
        """The unplayed track nearest to a point of the feature space (no validation)."""
        gaps = self.features - action
        distances = np.einsum("ij,ij->i", gaps, gaps)
        if self._played is not None:
            distances[self._played] = np.inf
        return int(np.argmin(distances))

    def response(self, state: np.ndarray, track_id: int) -> tuple[float, np.ndarray, np.ndarray]:
        """Skip probability, neighbour rows and distances for (state, track)."""
        rows, distances = self.pairs.nearest(state, track_id, self.k, self.action_weight)
        return float(self.pairs.skipped[rows].mean()), rows, distances

    # --- API ---------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode from a logged session's first tracks, or from an empty history.

        Args:
            seed: Seed for `self.np_random`.
            options: `{"start": "logged" | "empty"}` overrides the constructor's `start`.

        Returns:
            The first observation and the info dict.

        Raises:
            ValueError: If `options["start"]` is unknown.
        """
        super().reset(seed=seed)
        start = reset_options(options, ("start",)).get("start", self.start)
        if start not in START_MODES:
            raise ValueError(
                f"unknown options['start'] {start!r}; expected one of {', '.join(START_MODES)}"
            )
        # Fresh arrays (not in-place clears), so a shallow copy of the env never shares an episode.
        self._history = np.zeros((self.history_length, SLOT_SIZE), dtype=np.float32)
        self._played = np.zeros(self.catalog.n_tracks, dtype=bool)
        session = -1
        if start == "logged":
            session = int(self.np_random.integers(len(self.starts)))
            for track_id, skipped, engagement in zip(
                self.starts.track_ids[session],
                self.starts.skipped[session],
                self.starts.engagement[session],
                strict=True,
            ):
                if track_id >= 0:
                    self._push(int(track_id), bool(skipped), float(engagement))
        self._steps = 0
        self._done = False
        self._start_session = session
        self._last = {
            "track_id": -1,
            "skip_probability": float("nan"),
            "skipped": False,
            "engagement": float("nan"),
            "neighbours": float("nan"),
            "start_session": session,
        }
        return self._get_obs(), self._get_info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play the unplayed track nearest to `action` and answer with its neighbours' response.

        Args:
            action: A point of the feature space, shape (5,), in [-1, 1].

        Returns:
            Observation, reward, terminated (always False), truncated and info.

        Raises:
            RuntimeError: If called before `reset` or after the episode ended.
            ValueError: If `action` is not a finite point of the action space.
        """
        if self._history is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError(
                f"the episode ended after max_steps={self.max_steps} tracks; call reset()"
            )
        try:
            with np.errstate(over="ignore"):  # too large for float32: inf, refused below
                point = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid action {action!r} for {self.action_space}") from error
        if point.shape != self.action_space.shape or not np.all(np.isfinite(point)):
            raise ValueError(
                f"invalid action {action!r}: expected 5 finite values for {self.action_space}"
            )
        if not self.action_space.contains(point):
            raise ValueError(f"invalid action {action!r}: outside {self.action_space}")

        track_id = self.track_for(point)
        state = self._history.reshape(-1)
        skip_probability, rows, distances = self.response(state, track_id)
        skipped = bool(self.np_random.random() < skip_probability)
        same = (
            self.pairs.skipped[rows] == skipped
        )  # not empty: p = 0 never skips, p = 1 always does
        engagement = float(self.pairs.engagement[rows][same].mean())
        self._push(track_id, skipped, engagement)
        self._steps += 1
        self._done = self._steps >= self.max_steps
        self._last = {
            "track_id": track_id,
            "skip_probability": skip_probability,
            "skipped": skipped,
            "engagement": engagement,
            "neighbours": float(distances[0]),
            "start_session": self._start_session,
        }
        reward = float(self.reward_fn(skipped, engagement))
        return self._get_obs(), reward, False, self._done, self._get_info()
