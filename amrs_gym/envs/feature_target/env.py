"""FeatureTargetEnv: the simulated users of the A2C thesis seed (`AMRS-FeatureTarget-v0`).

A simulated listener likes one hidden combination of feature levels (for example tempo
level 3 and energy level 1). The agent moves through the grid of feature-level
combinations one level at a time and the listener rates every combination it hears from
0 to 4, depending on how close it is to the hidden one (`ratings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from amrs_gym.envs.checks import reset_options
from amrs_gym.envs.feature_target.ratings import (
    MAX_RATING,
    PercentilePreset,
    check_grid,
    is_int,
    percentile_edges,
    rating_for_distance,
    rating_thresholds,
)

ObsMode = Literal["grid", "board"]
RewardMode = Literal["bullseye", "rating"]

OBS_MODES: tuple[ObsMode, ...] = ("grid", "board")
REWARD_MODES: tuple[RewardMode, ...] = ("bullseye", "rating")

BULLSEYE_REWARD = 10.0
"""Reward per step at rating MAX_RATING under `reward="bullseye"`."""
MAX_BOARD_CELLS = 2**24
"""Largest `levels**dims` accepted with `obs="board"` (64 MiB of float32 per observation)."""


class FeatureTargetEnv(gym.Env[np.ndarray, np.int64]):
    """Find a listener's hidden favourite combination of feature levels.

    ## Description

    This reproduces the simulated users of the A2C thesis seed. The catalogue is
    a grid of feature-level combinations `{0, ..., levels-1}^dims`. Each feature
    (tempo, energy, ...) has `levels` discrete levels. A simulated user has one
    hidden target cell. The agent starts in the centre of the grid and moves one
    level along one feature per step. After every step the user rates the
    current cell 0-4 from its Manhattan distance to the target, and the agent
    must reach the target and stay there. The thesis's observation modes
    (GridObs, BoardObs), reward modes (Bullseye, Rating) and user types
    (TopTarget, WiderTopTarget) are the `obs`, `reward` and `percentiles`
    arguments.

    Ratings use percentile bands of the distance distribution. Let `D` be the
    Manhattan distance between a uniformly random cell and a uniformly random
    target. Its distribution is computed exactly by convolution
    (`distance_counts`). For band edges `[0, p1, p2, p3, p4, 100]` (in %), the
    distance thresholds are `q_j = min{d : P(D <= d) >= p_j / 100}`, and a
    distance `d` gets `rating = 4 - #{j : d > q_j}` (`rating_thresholds`). So
    `d <= q_1` rates 4, `q_1 < d <= q_2` rates 3, ..., and `d > q_4` rates 0.
    Distance 0 always rates 4. Presets:

    | percentiles | edges (%)                  | thresholds, dims=2, levels=5 |
    |-------------|----------------------------|------------------------------|
    | `"top"`     | 0, 0.01, 15, 30, 50, 100   | (0, 1, 2, 3)                 |
    | `"wider"`   | 0, 5, 15, 30, 50, 100      | (1, 1, 2, 3)                 |

    So on the default grid only the target rates 4 with `"top"`, and the target
    and its neighbours rate 4 with `"wider"` (rating 3 never occurs there).

    With `"top"`, rating 4 means distance 0 whenever `P(D = 0) = levels**-dims`
    is at least 0.01 %, that is `levels**dims <= 10000`. The thresholds of an
    instance are in `env.thresholds`.

    ## Action Space

    `Discrete(2 * dims + 1)`:

    | action       | effect                                     |
    |--------------|--------------------------------------------|
    | `2 * i`      | decrease the level of feature `i` by 1     |
    | `2 * i + 1`  | increase the level of feature `i` by 1     |
    | `2 * dims`   | stay (play the same combination again)     |

    A move past the border is clipped, so the position stays put. `step` accepts
    Python and NumPy integers and raises `ValueError` for anything else
    (floats, bools, out-of-range values).

    ## Observation Space

    `obs="grid"` (GridObs): `Box(low, high, shape=(dims + 2,), dtype=float32)`

    | index     | field                         | min | max        | unit   |
    |-----------|-------------------------------|-----|------------|--------|
    | 0..dims-1 | level of feature `i`          | 0   | levels - 1 | level  |
    | dims      | closer                        | -1  | 1          | sign   |
    | dims + 1  | rating of the current cell    | 0   | 4          | rating |

    `closer` is +1 if the last step reduced the distance to the target, -1 if it
    increased it, and 0 otherwise (stay, clipped move) and after `reset`.

    `obs="board"` (BoardObs): `Box(-1, 4, shape=(levels**dims,), dtype=float32)`

    | index                          | field                                  | min | max | unit   |
    |--------------------------------|----------------------------------------|-----|-----|--------|
    | `ravel_multi_index(cell, ...)` | rating of `cell` if visited, else -1   | -1  | 4   | rating |

    Index `k` is cell `np.unravel_index(k, (levels,) * dims)`. "Visited" means
    visited this episode, the starting cell included. The board is flattened in
    C order, so `obs.reshape((levels,) * dims)` gives the grid back. It is a
    1-D vector because SB3's `check_env` warns about observations that are
    neither 1-D vectors nor images. The board does not mark the current
    position.

    ## Rewards

    With `r` the rating after the step:

    - `reward="bullseye"`: `10 if r == 4 else 0`. Over 21 steps, an agent that
      first reaches rating 4 after `k` moves and then stays scores `10 * (22 - k)`
      (the step that reaches it pays too). The thesis's A2C averaged 188 of 210 with
      GridObs on the 2-D, 5-level grid.
    - `reward="rating"`: `r ** 2`, from 0 to 16.

    ## Starting State

    The position is the centre, `levels // 2` for every feature. The target is
    drawn uniformly from all `levels**dims` cells with `self.np_random`. To fix
    it (for example to evaluate every target), pass
    `reset(options={"target": (t_0, ..., t_{dims-1})})`. The starting cell is
    rated and, with `obs="board"`, marked on the board.

    ## Episode End

    - Termination: never. `terminated` is always False, because the thesis ran
      fixed-length episodes.
    - Truncation: after `max_steps` steps (21 by default). The env sets
      `truncated=True` itself, and the registered id adds
      `max_episode_steps=21`. Calling `step` after truncation, or before the
      first `reset`, raises `RuntimeError`.

    ## Info

    `reset` and `step` return the same keys:

    - `target`: tuple of int, the hidden target cell.
    - `position`: tuple of int, the current cell.
    - `distance`: int, the Manhattan distance from `position` to `target`.
    - `rating`: int, the rating 0..4 of `position`.

    ## Arguments

    | parameter     | type                         | default      | meaning                     |
    |---------------|------------------------------|--------------|-----------------------------|
    | `dims`        | `int`                        | `2`          | features (grid dims), >= 1  |
    | `levels`      | `int`                        | `5`          | levels per feature, >= 2    |
    | `obs`         | `"grid"` or `"board"`        | `"grid"`     | GridObs or BoardObs         |
    | `reward`      | `"bullseye"` or `"rating"`   | `"bullseye"` | 10 at rating 4, or rating^2 |
    | `percentiles` | `"top"`, `"wider"`, sequence | `"wider"`    | rating band edges in %      |
    | `max_steps`   | `int`                        | `21`         | steps per episode, >= 1     |

    `"top"` and `"wider"` are the thesis's TopTarget and WiderTopTarget users. A custom
    `percentiles` is a sequence of 6 strictly increasing numbers from 0 to 100. 2-4 features are
    typical. With `obs="board"`, `levels**dims` must not exceed `MAX_BOARD_CELLS` (2**24).

    ## Version History

    - v0: Initial version.

    Example:
        >>> env = FeatureTargetEnv(dims=2, levels=5, percentiles="top")
        >>> obs, info = env.reset(seed=0, options={"target": (3, 2)})
        >>> obs  # levels (2, 2), closer 0, rating 3 (distance 1)
        array([2., 2., 0., 3.], dtype=float32)
        >>> obs, reward, terminated, truncated, info = env.step(1)  # feature 0 up
        >>> obs, reward, info["distance"]
        (array([3., 2., 1., 4.], dtype=float32), 10.0, 0)
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Env declares it per instance)
    action_space: spaces.Discrete
    observation_space: spaces.Box

    def __init__(
        self,
        *,
        dims: int = 2,
        levels: int = 5,
        obs: ObsMode = "grid",
        reward: RewardMode = "bullseye",
        percentiles: PercentilePreset | Sequence[float] = "wider",
        max_steps: int = 21,
    ) -> None:
        """Build the grid, the rating thresholds and the spaces.

        Args:
            dims: Number of features (grid dimensions), >= 1.
            levels: Number of levels per feature, >= 2.
            obs: `"grid"` (GridObs) or `"board"` (BoardObs).
            reward: `"bullseye"` (10 at rating 4) or `"rating"` (rating squared).
            percentiles: `"top"`, `"wider"` or 6 strictly increasing band edges from 0 to 100 (%).
            max_steps: Steps per episode before truncation, >= 1.

        Raises:
            ValueError: If an argument is out of range or of the wrong type.
        """
        check_grid(dims, levels)
        if obs not in OBS_MODES:
            raise ValueError(f"unknown obs {obs!r}; expected one of {', '.join(OBS_MODES)}")
        if reward not in REWARD_MODES:
            raise ValueError(
                f"unknown reward {reward!r}; expected one of {', '.join(REWARD_MODES)}"
            )
        if not is_int(max_steps) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if obs == "board" and int(levels) ** int(dims) > MAX_BOARD_CELLS:
            raise ValueError(
                f"obs='board' needs levels**dims = {int(levels) ** int(dims)} cells, more than "
                f"MAX_BOARD_CELLS = {MAX_BOARD_CELLS}; use obs='grid' or a smaller grid"
            )

        self.dims = int(dims)
        self.levels = int(levels)
        self.obs_mode: ObsMode = obs
        self.reward_mode: RewardMode = reward
        self.percentiles = percentile_edges(percentiles)
        self.max_steps = int(max_steps)
        self.thresholds = rating_thresholds(self.dims, self.levels, self.percentiles)
        """Distance thresholds (q_1, ..., q_4) of ratings 4, 3, 2, 1."""
        self.grid_shape: tuple[int, ...] = (self.levels,) * self.dims
        self.start: tuple[int, ...] = (self.levels // 2,) * self.dims

        self.action_space = spaces.Discrete(2 * self.dims + 1)
        if obs == "grid":
            low = np.array([0.0] * self.dims + [-1.0, 0.0], dtype=np.float32)
            high = np.array(
                [self.levels - 1.0] * self.dims + [1.0, float(MAX_RATING)], dtype=np.float32
            )
            self.observation_space = spaces.Box(low, high, dtype=np.float32)
        else:
            cells = self.levels**self.dims
            self.observation_space = spaces.Box(
                -1.0, float(MAX_RATING), shape=(cells,), dtype=np.float32
            )

        self._target: np.ndarray | None = None  # (dims,) int64
        self._position: np.ndarray | None = None  # (dims,) int64
        self._closer = 0
        self._steps = 0
        self._done = False
        self._board: np.ndarray | None = None  # (levels**dims,) float32

    @property
    def stay_action(self) -> int:
        """The action that keeps the current position (`2 * dims`)."""
        return 2 * self.dims

    def _distance(self) -> int:
        """Manhattan distance from the current position to the target."""
        assert self._position is not None and self._target is not None
        return int(np.abs(self._position - self._target).sum())

    def _rating(self) -> int:
        """Rating 0..4 of the current position."""
        return rating_for_distance(self._distance(), self.thresholds)

    def _mark_board(self) -> None:
        """Write the current cell's rating on the board (BoardObs)."""
        if self._board is not None and self._position is not None:
            index = np.ravel_multi_index(tuple(self._position), self.grid_shape)
            self._board[index] = self._rating()

    def _get_obs(self) -> np.ndarray:
        """Observation of the current state, in `observation_space`."""
        assert self._position is not None
        if self.obs_mode == "grid":
            return np.concatenate(
                [self._position, [self._closer, self._rating()]], dtype=np.float32
            )  # (dims + 2,)
        assert self._board is not None
        return self._board.copy()  # (levels**dims,)

    def _get_info(self) -> dict[str, Any]:
        """The keys documented under Info."""
        assert self._position is not None and self._target is not None
        return {
            "target": tuple(int(t) for t in self._target),
            "position": tuple(int(p) for p in self._position),
            "distance": self._distance(),
            "rating": self._rating(),
        }

    def _parse_target(self, target: object) -> np.ndarray:
        """Validate a user-given target cell."""
        try:
            values = list(target)  # type: ignore[call-overload]
        except TypeError as error:
            raise ValueError(
                f"options['target'] must be a sequence of {self.dims} integers, got {target!r}"
            ) from error
        if len(values) != self.dims or not all(is_int(v) for v in values):
            raise ValueError(
                f"options['target'] must be a sequence of {self.dims} integers, got {target!r}"
            )
        if not all(0 <= v < self.levels for v in values):
            raise ValueError(
                f"options['target'] levels must be in 0..{self.levels - 1}, got {target!r}"
            )
        return np.array(values, dtype=np.int64)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode at the centre with a new (or given) target.

        Args:
            seed: Seed for `self.np_random`.
            options: `{"target": cell}` fixes the target instead of drawing it.

        Returns:
            The first observation and the info dict.

        Raises:
            ValueError: If `options["target"]` is not a cell of the grid.
        """
        super().reset(seed=seed)
        options = reset_options(options, ("target",))
        if options.get("target") is not None:
            self._target = self._parse_target(options["target"])
        else:
            self._target = self.np_random.integers(0, self.levels, size=self.dims, dtype=np.int64)
        self._position = np.array(self.start, dtype=np.int64)
        self._closer = 0
        self._steps = 0
        self._done = False
        if self.obs_mode == "board":
            self._board = np.full(self.levels**self.dims, -1.0, dtype=np.float32)
            self._mark_board()
        return self._get_obs(), self._get_info()

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move one level along one feature (or stay) and get the user's rating.

        Args:
            action: An integer in `0..2*dims` (see Action Space).

        Returns:
            Observation, reward, terminated (always False), truncated and info.

        Raises:
            RuntimeError: If called before `reset` or after the episode ended.
            ValueError: If `action` is not an integer in the action space.
        """
        if self._position is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError(
                f"the episode ended after max_steps={self.max_steps} steps; call reset()"
            )
        if isinstance(action, (bool, np.bool_)) or not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")

        move = int(action)
        before = self._distance()
        if move != self.stay_action:
            feature, up = divmod(move, 2)
            level = self._position[feature] + (1 if up else -1)
            self._position[feature] = min(max(level, 0), self.levels - 1)
        after = self._distance()
        self._closer = int(np.sign(before - after))
        self._steps += 1
        self._done = self._steps >= self.max_steps
        self._mark_board()

        rating = self._rating()
        if self.reward_mode == "bullseye":
            reward = BULLSEYE_REWARD if rating == MAX_RATING else 0.0
        else:
            reward = float(rating**2)
        return self._get_obs(), reward, False, self._done, self._get_info()
