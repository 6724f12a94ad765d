"""Wrappers for the suite's envs.

`ContinuousTrackAction` turns a track-picking env (`Discrete(n_tracks)`) into one with a
continuous action in a track feature space, for actor-critic agents such as DDPG
(the Wolpertinger architecture: the actor proposes a point, the nearest tracks are
candidates). `ScaledObservation` maps a bounded Box observation onto [-1, 1].
"""

from __future__ import annotations

from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from amrs_gym.catalog import Catalog

TrackSpace = Literal["features", "embedding"]
TRACK_SPACES: tuple[TrackSpace, ...] = ("features", "embedding")


class ContinuousTrackAction(
    gym.ActionWrapper[Any, np.ndarray, Any], gym.utils.RecordConstructorArgs
):
    """Play the catalog track nearest to a continuous action in a track feature space.

    The action is a point of `Box(-1, 1, (d,), float32)`:

    | `space`       | d  | axes                                                          |
    |---------------|----|---------------------------------------------------------------|
    | `"features"`  | 5  | `Catalog.features()`: valence, arousal, energy, tempo, popularity |
    | `"embedding"` | 16 | `Catalog.unit_embeddings` (unit-length content embeddings)     |

    The wrapper finds the `k` tracks nearest to the point (Euclidean distance, ties by
    track id) and plays one of them. With `k = 1` (default) that is the nearest track.
    With `k > 1` it plays, among the `k` nearest, the one played least recently in this
    episode (a track never played first; ties go to the nearer track), so a policy that
    keeps proposing the same point walks through its `k` nearest tracks instead of
    repeating one. The rule is deterministic and uses no `info` of the wrapped env.

    Any finite point is accepted, also outside [-1, 1] (the nearest track is defined
    for every point); an action of the wrong shape or with NaN/inf raises `ValueError`.
    The track played is `wrapper.last_track` and `info["track_id"]` (set by the wrapper
    when the wrapped env does not report it).

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> from amrs_gym.catalog import CatalogConfig
        >>> catalog = CatalogConfig(n_tracks=50).create()
        >>> class Picker(gym.Env):
        ...     action_space = gym.spaces.Discrete(50)
        ...     observation_space = gym.spaces.Box(0, 1, (1,), np.float32)
        ...     def reset(self, *, seed=None, options=None):
        ...         return np.zeros(1, np.float32), {}
        ...     def step(self, action):
        ...         return np.zeros(1, np.float32), 0.0, False, False, {}
        >>> env = ContinuousTrackAction(Picker(), catalog=catalog)
        >>> _ = env.reset()
        >>> _ = env.step(catalog.features()[7])
        >>> env.last_track
        7
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        space: TrackSpace = "features",
        k: int = 1,
        catalog: Catalog | None = None,
    ) -> None:
        """Check the wrapped action space and precompute the track points.

        Args:
            env: An env whose action space is `Discrete(n_tracks)` (starting at 0) over `catalog`.
            space: `"features"` (5-d) or `"embedding"` (16-d unit embeddings).
            k: Candidate tracks per action, 1 <= k <= n_tracks.
            catalog: The catalog; None reads `env.unwrapped.catalog`.

        Raises:
            ValueError: If there is no catalog, the wrapped action space is not a
                `Discrete` of the catalog's size, or `space`/`k` is invalid.
        """
        gym.utils.RecordConstructorArgs.__init__(self, space=space, k=k, catalog=catalog)
        gym.ActionWrapper.__init__(self, env)
        if catalog is None:
            catalog = getattr(env.unwrapped, "catalog", None)
            if not isinstance(catalog, Catalog):
                raise ValueError(
                    f"{type(env.unwrapped).__name__} has no `catalog` attribute; pass catalog=..."
                )
        wrapped = env.action_space
        if not isinstance(wrapped, spaces.Discrete):
            raise ValueError(
                f"ContinuousTrackAction needs a Discrete(n_tracks) action space, got {wrapped}"
            )
        if int(wrapped.n) != catalog.n_tracks or int(wrapped.start) != 0:
            raise ValueError(
                f"the wrapped action space {wrapped} does not index the catalog's "
                f"{catalog.n_tracks} tracks (expected Discrete({catalog.n_tracks}))"
            )
        if space not in TRACK_SPACES:
            raise ValueError(f"unknown space {space!r}; expected one of {', '.join(TRACK_SPACES)}")
        if (
            isinstance(k, bool)
            or not isinstance(k, (int, np.integer))
            or not 1 <= k <= catalog.n_tracks
        ):
            raise ValueError(f"k must be an integer in 1..{catalog.n_tracks}, got {k!r}")

        self.catalog = catalog
        self.space: TrackSpace = space
        self.k = int(k)
        points = catalog.features() if space == "features" else catalog.unit_embeddings
        self.points: np.ndarray = np.ascontiguousarray(points, dtype=np.float32)  # (n_tracks, d)
        self._squared_norms = np.einsum("ij,ij->i", self.points, self.points)  # (n_tracks,)
        self.dim = int(self.points.shape[1])
        """Size of the action, 5 or 16."""
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.dim,), dtype=np.float32)
        self.last_track: int | None = None
        """The track played by the last `step`; None after `reset`."""
        self._last_played = np.full(
            catalog.n_tracks, -1, dtype=np.int64
        )  # step of last play, -1 = never
        self._steps = 0

    def nearest_tracks(self, point: np.ndarray) -> np.ndarray:
        """The `k` tracks nearest to `point`, nearest first (ties by track id)."""
        distances = self._squared_norms - 2.0 * (self.points @ point)  # ||p - x||^2 - ||x||^2
        if self.k == 1:
            return np.array([int(np.argmin(distances))])
        candidates = np.argpartition(distances, self.k - 1)[: self.k]
        return candidates[np.lexsort((candidates, distances[candidates]))]

    def action(self, action: np.ndarray) -> int:
        """The track id to play for a continuous action.

        Raises:
            ValueError: If the action is not a finite vector of shape (d,).
        """
        try:
            with np.errstate(over="ignore"):  # too large for float32: inf, refused below
                point = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid action {action!r} for {self.action_space}") from error
        if point.shape != (self.dim,) or not np.all(np.isfinite(point)):
            raise ValueError(
                f"invalid action {action!r}: expected {self.dim} finite values "
                f"for {self.action_space}"
            )
        candidates = self.nearest_tracks(point)
        if len(candidates) == 1:
            return int(candidates[0])
        # Least recently played first: never played (-1) < played at step 0 < step 1 ...;
        # candidates are nearest first and argmin keeps the first of equal values.
        return int(candidates[int(np.argmin(self._last_played[candidates]))])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the wrapped env and forget the episode's plays."""
        self._last_played[:] = -1
        self._steps = 0
        self.last_track = None
        return self.env.reset(seed=seed, options=options)

    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Play the track chosen for `action` in the wrapped env."""
        track = self.action(action)
        observation, reward, terminated, truncated, info = self.env.step(np.int64(track))
        self._last_played[track] = self._steps
        self._steps += 1
        self.last_track = track
        info.setdefault("track_id", track)
        return observation, reward, terminated, truncated, info


class ScaledObservation(
    gym.ObservationWrapper[np.ndarray, Any, np.ndarray], gym.utils.RecordConstructorArgs
):
    """Map a bounded Box observation affinely onto [-1, 1] (low -> -1, high -> 1)."""

    def __init__(self, env: gym.Env[np.ndarray, Any]) -> None:
        """Read the bounds of `env.observation_space`, which must be finite."""
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        box = env.observation_space
        if not isinstance(box, spaces.Box) or not (
            np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))
        ):
            raise ValueError(f"ScaledObservation needs a bounded Box, got {box}")
        self._low = box.low.astype(np.float32)
        self._span = (box.high - box.low).astype(np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=box.shape, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """The observation in [-1, 1]."""
        scaled: np.ndarray = (2.0 * (observation - self._low) / self._span - 1.0).astype(np.float32)
        return scaled
