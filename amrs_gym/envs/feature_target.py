"""Feature-target environment: the simulated users of the A2C thesis seed.

A simulated listener likes one hidden combination of feature levels (for example
tempo level 3 and energy level 1). The agent moves through the grid of
feature-level combinations one level at a time and the listener rates every
combination it hears from 0 to 4, depending on how close it is to the hidden one.

The module also holds the exact distance distribution behind the ratings
(`distance_counts`, `rating_thresholds`) and a rule-based baseline that reads only
the grid observation (`CoordinateSearchPolicy`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

ObsMode = Literal["grid", "board"]
RewardMode = Literal["bullseye", "rating"]
PercentilePreset = Literal["top", "wider"]

OBS_MODES: tuple[ObsMode, ...] = ("grid", "board")
REWARD_MODES: tuple[RewardMode, ...] = ("bullseye", "rating")
PERCENTILE_PRESETS: dict[PercentilePreset, tuple[float, ...]] = {
    "top": (0.0, 0.01, 15.0, 30.0, 50.0, 100.0),
    "wider": (0.0, 5.0, 15.0, 30.0, 50.0, 100.0),
}
"""Percentile band edges (in %) of the thesis's TopTarget and WiderTopTarget users."""

MAX_RATING = 4
"""Best rating; ratings are integers 0..MAX_RATING."""
BULLSEYE_REWARD = 10.0
"""Reward per step at rating MAX_RATING under `reward="bullseye"`."""
MAX_BOARD_CELLS = 2**24
"""Largest `levels**dims` accepted with `obs="board"` (64 MiB of float32 per observation)."""


def _is_int(value: object) -> bool:
    """True for Python and NumPy integers, False for bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def distance_counts(dims: int, levels: int) -> list[int]:
    """Exact distribution of Manhattan distances on the grid {0..levels-1}^dims.

    One coordinate of a uniformly random cell and a uniformly random target
    differs by 0 in `levels` of the `levels**2` pairs and by k >= 1 in
    `2 * (levels - k)` pairs. The coordinates are independent, so the counts of
    the Manhattan distance are the `dims`-fold convolution of that 1-D count
    vector. Integers are exact at any size.

    Args:
        dims: Number of features (grid dimensions), >= 1.
        levels: Number of levels per feature, >= 2.

    Returns:
        `counts[d]` = number of (cell, target) pairs at distance d, for
        d = 0..dims*(levels-1); the counts sum to `levels**(2*dims)`.

    Example:
        >>> distance_counts(1, 3)
        [3, 4, 2]
    """
    if not _is_int(dims) or dims < 1:
        raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
    if not _is_int(levels) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
    one_dim = np.array([levels] + [2 * (levels - k) for k in range(1, levels)], dtype=object)
    counts = np.array([1], dtype=object)
    for _ in range(int(dims)):
        counts = np.convolve(counts, one_dim)
    return [int(c) for c in counts]


def _percentile_edges(
    percentiles: PercentilePreset | Sequence[float],
) -> tuple[float, ...]:
    """Validate `percentiles` and return the 6 band edges in %."""
    if isinstance(percentiles, str):
        if percentiles not in PERCENTILE_PRESETS:
            raise ValueError(
                f"unknown percentiles preset {percentiles!r}; expected one of "
                f"{', '.join(PERCENTILE_PRESETS)} or a sequence of {MAX_RATING + 2} numbers"
            )
        return PERCENTILE_PRESETS[percentiles]
    try:
        edges = tuple(float(p) for p in percentiles)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"percentiles must be 'top', 'wider' or a sequence of numbers, got {percentiles!r}"
        ) from error
    if len(edges) != MAX_RATING + 2:
        raise ValueError(
            f"percentiles needs {MAX_RATING + 2} band edges (one band per rating 0..{MAX_RATING}), "
            f"got {len(edges)}: {edges}"
        )
    if not all(math.isfinite(p) for p in edges):
        raise ValueError(f"percentiles must be finite, got {edges}")
    if edges[0] != 0.0 or edges[-1] != 100.0:
        raise ValueError(f"percentiles must start at 0 and end at 100, got {edges}")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"percentiles must be strictly increasing, got {edges}")
    return edges


def rating_thresholds(
    dims: int, levels: int, percentiles: PercentilePreset | Sequence[float] = "wider"
) -> tuple[int, ...]:
    """Distance thresholds that turn percentile bands into ratings.

    With edges `[0, p1, p2, p3, p4, 100]` (in %) and `F(d)` the exact fraction of
    (cell, target) pairs at distance <= d (`distance_counts`), the threshold of
    edge `p_j` is the inverted-CDF percentile `q_j = min{d : F(d) >= p_j / 100}`
    (computed in exact rational arithmetic). A distance `d` then gets

        rating = 4 - #{j in 1..4 : d > q_j},

    that is 4 for `d <= q_1`, 3 for `q_1 < d <= q_2`, ..., 0 for `d > q_4`.
    Equivalently, `d` gets the band whose `[p_(4-rating), p_(5-rating))` holds
    the fraction of pairs strictly closer than `d`, `F(d - 1)`. Distance 0 has
    no pair strictly closer, so it always gets rating 4. Thresholds can repeat;
    the band between two equal thresholds is then empty.

    Args:
        dims: Number of features (grid dimensions), >= 1.
        levels: Number of levels per feature, >= 2.
        percentiles: `"top"`, `"wider"` or 6 strictly increasing edges from 0 to 100.

    Returns:
        `(q_1, q_2, q_3, q_4)`, non-decreasing distances.

    Example:
        >>> rating_thresholds(2, 5, "top"), rating_thresholds(2, 5, "wider")
        ((0, 1, 2, 3), (1, 1, 2, 3))
    """
    edges = _percentile_edges(percentiles)
    counts = distance_counts(dims, levels)
    total = sum(counts)
    # Cumulative counts: cumulative[d] / total = F(d).
    cumulative = list(np.cumsum(np.array(counts, dtype=object)))
    thresholds = []
    for edge in edges[1:-1]:
        # str() keeps the decimal the user wrote: Fraction("0.01") == 1/100 exactly.
        fraction = Fraction(str(edge)) / 100
        thresholds.append(next(d for d, c in enumerate(cumulative) if c >= fraction * total))
    return tuple(thresholds)


def rating_for_distance(distance: int, thresholds: Sequence[int]) -> int:
    """Rating 0..4 of a Manhattan distance, given `rating_thresholds` output."""
    return MAX_RATING - sum(1 for threshold in thresholds if distance > threshold)


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
      first reaches rating 4 after `k` moves and then stays scores `10 * (22 - k)` (the step that reaches it pays too).
      The thesis's A2C averaged 188 of 210 with GridObs on the 2-D, 5-level grid.
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

    `"top"` and `"wider"` are the thesis's TopTarget and WiderTopTarget users. A
    custom `percentiles` is a sequence of 6 strictly increasing numbers from 0
    to 100. 2-4 features are typical. With `obs="board"`, `levels**dims` must not exceed `MAX_BOARD_CELLS` (2**24).

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
        if not _is_int(dims) or dims < 1:
            raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
        if not _is_int(levels) or levels < 2:
            raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
        if obs not in OBS_MODES:
            raise ValueError(f"unknown obs {obs!r}; expected one of {', '.join(OBS_MODES)}")
        if reward not in REWARD_MODES:
            raise ValueError(
                f"unknown reward {reward!r}; expected one of {', '.join(REWARD_MODES)}"
            )
        if not _is_int(max_steps) or max_steps < 1:
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
        self.percentiles = _percentile_edges(percentiles)
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
        if len(values) != self.dims or not all(_is_int(v) for v in values):
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
        if options is not None and options.get("target") is not None:
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


class CoordinateSearchPolicy:
    """Rule-based searcher that finds the target from the GridObs observation alone.

    It reads only `obs = (levels..., closer, rating)`. It needs neither `info`
    nor the target. One feature at a time:

    1. Probe the direction with more levels left (up on a tie). While a step
       moves closer, keep going. When a step moves farther (an overshoot),
       step back and mark the feature solved. Reaching the border also marks
       it solved.
    2. If the first probe moves farther, step back and search the other
       direction the same way. If the first step that way also moves farther
       (or the border leaves no room), the level was already right: step back
       and mark the feature solved.

    Once the rating reaches `stop_rating` (4 by default) it stays forever,
    because under `reward="bullseye"` rating 4 is all that pays. With
    `stop_rating=None` it solves every feature and stays on the exact target.
    Each Manhattan step changes the distance by exactly 1 unless clipped, so the
    closer signal gives the sign of `target_i - level_i` exactly.

    Example:
        >>> env = FeatureTargetEnv(dims=2, levels=5)
        >>> policy = CoordinateSearchPolicy.from_env(env)
        >>> obs, info = env.reset(options={"target": (0, 4)})
        >>> policy.reset()
        >>> total = 0.0
        >>> for _ in range(21):
        ...     obs, reward, terminated, truncated, info = env.step(policy.act(obs))
        ...     total += reward
        >>> total, info["rating"]
        (170.0, 4)
    """

    def __init__(self, dims: int, levels: int, stop_rating: int | None = MAX_RATING) -> None:
        """Set up a searcher for a grid of `levels**dims` cells.

        Args:
            dims: Number of features of the env.
            levels: Levels per feature of the env.
            stop_rating: Stay once the observed rating reaches this; None to
                always search down to the exact target.
        """
        if not _is_int(dims) or dims < 1:
            raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
        if not _is_int(levels) or levels < 2:
            raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
        if stop_rating is not None and not (_is_int(stop_rating) and 0 <= stop_rating <= 4):
            raise ValueError(f"stop_rating must be None or an integer in 0..4, got {stop_rating!r}")
        self.dims = int(dims)
        self.levels = int(levels)
        self.stop_rating = stop_rating
        self.stay_action = 2 * self.dims
        self.reset()

    @classmethod
    def from_env(
        cls, env: gym.Env[Any, Any], stop_rating: int | None = MAX_RATING
    ) -> CoordinateSearchPolicy:
        """Read `dims` and `levels` from a (possibly wrapped) GridObs `FeatureTargetEnv`."""
        base = env.unwrapped
        if not isinstance(base, FeatureTargetEnv) or base.obs_mode != "grid":
            raise ValueError("CoordinateSearchPolicy needs a FeatureTargetEnv with obs='grid'")
        return cls(base.dims, base.levels, stop_rating=stop_rating)

    def reset(self) -> None:
        """Forget the previous episode; call it with every `env.reset`."""
        self._feature = 0
        self._direction = 0  # +1/-1 while searching, 0 before the first probe
        self._first_probe = True  # the next move is the feature's first probe
        self._tried_both = False
        self._pending_back = False  # last action was a step back to a known-better level
        self._last_move: tuple[int, int] | None = None  # (feature, direction)
        self._done = False

    def _move(self, feature: int, direction: int) -> int:
        """Action for one level step and remember it."""
        self._last_move = (feature, direction)
        return 2 * feature + (1 if direction > 0 else 0)

    def _start_feature(self, levels: np.ndarray) -> int:
        """Probe the next unsolved feature, or stay when all are solved."""
        if self._feature < self.dims:
            level = int(levels[self._feature])
            room_up, room_down = self.levels - 1 - level, level
            self._first_probe = True
            self._tried_both = False
            self._direction = 1 if room_up >= room_down else -1
            return self._move(self._feature, self._direction)
        self._done = True
        self._last_move = None
        return self.stay_action

    def _finish_feature(self, levels: np.ndarray) -> int:
        """Mark the current feature solved and move on."""
        self._feature += 1
        return self._start_feature(levels)

    def act(self, obs: np.ndarray) -> int:
        """Next action from a GridObs observation `(levels..., closer, rating)`.

        Args:
            obs: Observation of shape `(dims + 2,)`.

        Returns:
            An action in `0..2*dims`.
        """
        observation = np.asarray(obs, dtype=np.float64).reshape(-1)
        if observation.shape != (self.dims + 2,):
            raise ValueError(
                f"expected a GridObs observation of shape ({self.dims + 2},), "
                f"got {observation.shape}"
            )
        levels = np.rint(observation[: self.dims]).astype(np.int64)
        closer = int(np.rint(observation[self.dims]))
        rating = int(np.rint(observation[self.dims + 1]))

        if self._done or (self.stop_rating is not None and rating >= self.stop_rating):
            self._done = True
            return self.stay_action
        if self._last_move is None:  # first call of the episode
            return self._start_feature(levels)

        feature, direction = self._feature, self._direction
        level = int(levels[feature])
        if self._pending_back:
            # Back on a level no worse than its neighbour on the probed side.
            self._pending_back = False
            if self._first_probe and not self._tried_both:
                # The first probe went the wrong way: search the other direction.
                self._tried_both = True
                self._direction = -direction
                if not self._has_room(level, self._direction):
                    return self._finish_feature(levels)
                return self._move(feature, self._direction)
            return self._finish_feature(levels)

        first = self._first_probe
        self._first_probe = False
        if closer > 0:
            if not self._has_room(level, direction):
                return self._finish_feature(levels)
            return self._move(feature, direction)
        if closer < 0:
            # Overshot (or wrong way on the first probe): step back.
            self._pending_back = True
            self._first_probe = first
            return self._move(feature, -direction)
        # closer == 0 only happens for a clipped move, which is never chosen.
        return self._finish_feature(levels)

    def _has_room(self, level: int, direction: int) -> bool:
        """True if a step of `direction` from `level` stays inside the grid."""
        return 0 <= level + direction <= self.levels - 1
