"""The baselines the reproductions are scored against.

The thesis's predicted rule-based searcher (`CoordinateSearchPolicy`, on FeatureTarget) and the
poster's non-skip benchmark of similar states and a random policy (on SkipSession).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from amrs_gym.envs.feature_target import MAX_RATING, FeatureTargetEnv
from amrs_gym.envs.feature_target.ratings import is_int
from amrs_gym.envs.skip_session import SkipSessionEnv


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
        if not is_int(dims) or dims < 1:
            raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
        if not is_int(levels) or levels < 2:
            raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
        if stop_rating is not None and not (is_int(stop_rating) and 0 <= stop_rating <= 4):
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


def _skip_session_env(env: gym.Env[Any, Any]) -> SkipSessionEnv:
    base = env.unwrapped
    if not isinstance(base, SkipSessionEnv):
        raise TypeError(
            f"expected a SkipSessionEnv (or a wrapper of one), got {type(base).__name__}"
        )
    return base


def nonskip_baseline_score(
    env: gym.Env[Any, Any], episodes: int = 200, seed: int = 0, batch: int = 50
) -> float:
    """The poster's "non-skip benchmark of similar states".

    Mean episode score (out of `max_steps`).

    At each step the policy finds the logged states nearest to the current one (state
    distance only) among rows whose track was kept, and plays the features of the nearest
    such row's track that has not been played this episode (looking at `env.k` of them;
    if all are played, the nearest, which the env then replaces by the nearest unplayed
    track). Episode i starts with `reset(seed=seed + i)`, as in `random_score`, so both
    scores use the same starting sessions. Episodes run `batch` at a time in lockstep on
    copies of the env that share its memory, which gives the same result as one by one.

    Args:
        env: A `SkipSessionEnv`, or a wrapper of one (only `env.unwrapped` is used).
        episodes: Number of episodes, >= 1.
        seed: Seed of the first episode.
        batch: Episodes simulated together.

    Returns:
        The mean of the episodes' summed rewards.
    """
    base = _skip_session_env(env)
    if episodes < 1 or batch < 1:
        raise ValueError("need episodes >= 1 and batch >= 1")
    total = 0.0
    for first in range(0, episodes, batch):
        envs = [
            SkipSessionEnv(
                logs=base.pairs,
                start_logs=base.starts,
                k=base.k,
                action_weight=base.action_weight,
                history_length=base.history_length,
                max_steps=base.max_steps,
                start=base.start,
                reward_fn=base.reward_fn,
            )
            for _ in range(min(batch, episodes - first))
        ]
        observations = np.stack([e.reset(seed=seed + first + i)[0] for i, e in enumerate(envs)])
        for _ in range(base.max_steps):
            candidates = base.pairs.nearest_kept_states(observations, base.k)  # (batch, k)
            for i, e in enumerate(envs):
                fresh = candidates[i][~np.isin(candidates[i], e.played_track_ids)]
                track_id = int(fresh[0] if len(fresh) else candidates[i][0])
                observation, reward, _, _, _ = e.step(base.features[track_id])
                observations[i] = observation
                total += reward
    return total / episodes


def random_score(env: gym.Env[Any, Any], episodes: int = 200, seed: int = 0) -> float:
    """Mean episode score of a uniformly random action policy.

    Episode i starts with `reset(seed=seed + i)`; actions come from
    `env.action_space.sample()` after `env.action_space.seed(seed)`.

    Args:
        env: A `SkipSessionEnv`, or a wrapper of one whose episodes end by truncation.
        episodes: Number of episodes, >= 1.
        seed: Seed of the first episode and of the action sampler.

    Returns:
        The mean of the episodes' summed rewards.
    """
    if episodes < 1:
        raise ValueError("need episodes >= 1")
    env.action_space.seed(seed)
    total = 0.0
    for i in range(episodes):
        env.reset(seed=seed + i)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    return total / episodes
