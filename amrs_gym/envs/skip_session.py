"""SkipSessionEnv: the DDPG poster seed's data-driven environment (`AMRS-SkipSession-v0`).

The env has no listener model. It answers with the logs: the response to a
(state, track) pair is read off the `k` nearest logged (state, track) pairs. The
module also holds that memory (`LoggedPairs`, built once per process for the
default logs), the logged starting histories (`StartHistories`) and the poster's
two reference scores (`nonskip_baseline_score`, `random_score`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from amrs_gym import defaults
from amrs_gym.catalog import Catalog

StartMode = Literal["logged", "empty"]
RewardFn = Callable[[bool, float], float]

HISTORY_LENGTH = 5
"""Tracks of history in the state (the poster's 5)."""
EPISODE_LENGTH = 15
"""Tracks per episode (the poster's 15-track sessions)."""
FEATURE_NAMES = ("valence", "arousal", "energy", "tempo", "popularity")
"""The columns of `Catalog.features()`, the action space's axes."""
SLOT_FIELDS = (*FEATURE_NAMES, "skipped", "engagement", "present")
"""The fields of one history slot in the observation."""
SLOT_SIZE = len(SLOT_FIELDS)
DEFAULT_ACTION_WEIGHT = 10.0
"""Default weight `w` of the track part of the neighbour distance (see `LoggedPairs.nearest`)."""
START_MODES: tuple[StartMode, ...] = ("logged", "empty")
INFO_KEYS = ("track_id", "skip_probability", "skipped", "engagement", "neighbours")


def kept_reward(skipped: bool, engagement: float) -> float:
    """The poster's reward: 1 for a track that is not skipped, else 0."""
    return 0.0 if skipped else 1.0


def _session_order(logs: pd.DataFrame) -> pd.DataFrame:
    """Logs sorted by session, then position, with a clean index."""
    missing = [
        c for c in ("session_id", "position", "track_id", "skipped", "engagement") if c not in logs
    ]
    if missing:
        raise ValueError(f"logs are missing columns: {', '.join(missing)}")
    return logs.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)


def history_states(
    track_ids: np.ndarray, skipped: np.ndarray, engagement: np.ndarray, rank: np.ndarray,
    features: np.ndarray, history_length: int,
) -> np.ndarray:  # fmt: skip
    """The state before every logged row: the previous `history_length` rows of its session.

    Args:
        track_ids: Track of every row, rows sorted by session then position.
        skipped: Whether the row's track was skipped.
        engagement: Fraction of the row's track listened.
        rank: 0-based index of the row within its session.
        features: `Catalog.features()`, (n_tracks, 5).
        history_length: Slots in the state.

    Returns:
        (n_rows, SLOT_SIZE * history_length) float32; slot j (0 = most recent) holds the
        features, skipped, engagement and present = 1 of the row j + 1 rows back, or zeros.
    """
    n_rows = len(track_ids)
    states = np.zeros((n_rows, history_length, SLOT_SIZE), dtype=np.float32)
    for j in range(history_length):
        has = rank > j  # rows with at least j + 1 earlier rows in their session
        source = np.flatnonzero(has) - (j + 1)
        states[has, j, :5] = features[track_ids[source]]
        states[has, j, 5] = skipped[source]
        states[has, j, 6] = engagement[source]
        states[has, j, 7] = 1.0
    return states.reshape(n_rows, history_length * SLOT_SIZE)


def _slice_rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of `arange(s, s + c)` for every (s, c)."""
    total = int(counts.sum())
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return offsets + np.arange(total)


@dataclass(frozen=True, eq=False)
class LoggedPairs:
    """The env's memory: every logged row as a (state, track) pair with the listener's response.

    Rows are sorted by track id, so the rows of track t are `starts[t]:starts[t + 1]`.
    Build it with `LoggedPairs.from_logs`; it is read-only and can be shared by many envs.
    """

    catalog: Catalog
    """The catalog whose track ids the logs use."""
    states: np.ndarray  # (n_rows, SLOT_SIZE * history_length) float32
    track_ids: np.ndarray  # (n_rows,) int64, sorted
    skipped: np.ndarray  # (n_rows,) bool
    engagement: np.ndarray  # (n_rows,) float32
    starts: np.ndarray  # (n_tracks + 1,) int64
    features: np.ndarray  # (n_tracks, 5) float32, catalog.features()

    @classmethod
    def from_logs(
        cls, logs: pd.DataFrame, catalog: Catalog, history_length: int = HISTORY_LENGTH
    ) -> LoggedPairs:
        """Build the pairs of every row of `logs` (columns as in data/README.md).

        Raises:
            ValueError: If a column is missing, the logs are empty or name an unknown track.
        """
        if not isinstance(history_length, int) or history_length < 1:
            raise ValueError(f"history_length must be an integer >= 1, got {history_length!r}")
        logs = _session_order(logs)
        if logs.empty:
            raise ValueError("logs are empty")
        track_ids = logs["track_id"].to_numpy(dtype=np.int64)
        if track_ids.min() < 0 or track_ids.max() >= catalog.n_tracks:
            raise ValueError(f"logs name track ids outside 0..{catalog.n_tracks - 1}")
        skipped = logs["skipped"].to_numpy(dtype=bool)
        engagement = logs["engagement"].to_numpy(dtype=np.float32)
        if not np.all(np.isfinite(engagement)):
            raise ValueError("logs have missing or non-finite engagement")
        rank = logs.groupby("session_id", sort=False).cumcount().to_numpy()
        features = catalog.features()
        states = history_states(track_ids, skipped, engagement, rank, features, history_length)
        order = np.argsort(track_ids, kind="stable")
        sorted_ids = track_ids[order]
        return cls(
            catalog=catalog,
            states=np.ascontiguousarray(states[order]),
            track_ids=sorted_ids,
            skipped=skipped[order],
            engagement=engagement[order],
            starts=np.searchsorted(sorted_ids, np.arange(catalog.n_tracks + 1)).astype(np.int64),
            features=features,
        )

    def __repr__(self) -> str:
        """A one-line summary (the arrays are large)."""
        return (
            f"LoggedPairs(n_rows={self.n_rows}, history_length={self.history_length}, "
            f"n_tracks={self.catalog.n_tracks}, catalog={self.catalog.source!r})"
        )

    @property
    def history_length(self) -> int:
        """Slots in a state."""
        return int(self.states.shape[1] // SLOT_SIZE)

    @property
    def n_rows(self) -> int:
        """Number of logged pairs."""
        return len(self.track_ids)

    @cached_property
    def _counts(self) -> np.ndarray:
        return np.diff(self.starts)  # (n_tracks,) logged rows per track

    @cached_property
    def _kept(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """States, squared norms and track ids of the rows whose track was not skipped."""
        kept = ~self.skipped
        states = np.ascontiguousarray(self.states[kept])
        return states, np.einsum("ij,ij->i", states, states), self.track_ids[kept]

    def nearest(
        self, state: np.ndarray, track_id: int, k: int, action_weight: float = DEFAULT_ACTION_WEIGHT
    ) -> tuple[np.ndarray, np.ndarray]:
        """The exact `k` nearest logged pairs to (state, track).

        The distance between (s, t) and a logged (s_i, t_i) is

            d^2 = ||s - s_i||^2 + w^2 ||f(t) - f(t_i)||^2,

        with f the track's 5 features and w = `action_weight` (w = 1 is the plain Euclidean
        distance between the concatenated vectors). The search visits tracks in order of
        w ||f(t) - f(t_i)||, a lower bound on d for all their rows, in chunks of doubling size,
        and stops when that bound reaches the k-th best distance, so the answer is exact. The
        larger w, the fewer tracks it visits (w = 10: a few; w = 1: about all rows).

        Args:
            state: (SLOT_SIZE * history_length,) the state vector.
            track_id: The chosen track.
            k: Number of neighbours, 1 <= k <= n_rows.
            action_weight: w, > 0.

        Returns:
            Row indices (into this object's arrays) and distances d, both (k,), nearest first
            (ties broken by row index).
        """
        gaps = self.features - self.features[track_id]
        bound = (action_weight * action_weight) * np.einsum("ij,ij->i", gaps, gaps)  # (n_tracks,)
        order = np.argsort(bound, kind="stable")
        counts = self._counts[order]
        covered = np.cumsum(counts)  # rows of the first i + 1 tracks in `order`
        n_tracks = len(order)
        best_rows = np.empty(0, dtype=np.int64)
        best_d2 = np.empty(0, dtype=np.float32)
        done, chunk = 0, max(8 * k, 256)
        while done < n_tracks:
            target = (covered[done - 1] if done else 0) + chunk
            end = min(int(np.searchsorted(covered, target)) + 1, n_tracks)
            tracks = order[done:end]
            rows = _slice_rows(self.starts[tracks], counts[done:end])
            diff = self.states[rows] - state
            d2 = np.einsum("ij,ij->i", diff, diff) + np.repeat(bound[tracks], counts[done:end])
            rows_all = np.concatenate([best_rows, rows])
            d2_all = np.concatenate([best_d2, d2.astype(np.float32)])
            if len(d2_all) > k:
                keep = d2_all <= np.partition(d2_all, k - 1)[k - 1]  # the k best and their ties
                rows_all, d2_all = rows_all[keep], d2_all[keep]
            ranked = np.lexsort((rows_all, d2_all))[:k]
            best_rows, best_d2 = rows_all[ranked], d2_all[ranked]
            done, chunk = end, 2 * chunk
            # Strict: a tie with the k-th distance in a later track could have a lower row index.
            if len(best_d2) == k and done < n_tracks and bound[order[done]] > best_d2[-1]:
                break
        return best_rows, np.sqrt(np.maximum(best_d2, 0.0))

    def nearest_kept_states(self, states: np.ndarray, k: int) -> np.ndarray:
        """Tracks of the `k` nearest logged states whose track was kept (not skipped), for a batch.

        Distances use the state part only (the track is what we look up).

        Args:
            states: (batch, SLOT_SIZE * history_length) state vectors.
            k: Neighbours per state.

        Returns:
            (batch, k) track ids, nearest first.
        """
        kept_states, kept_sq, kept_tracks = self._kept
        k = min(k, len(kept_tracks))
        states = np.asarray(states, dtype=np.float32)
        d2 = kept_sq[None, :] - 2.0 * (states @ kept_states.T)  # (batch, n_kept) minus ||s||^2
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        ranked = np.take_along_axis(
            part, np.argsort(np.take_along_axis(d2, part, 1), 1, kind="stable"), 1
        )
        result: np.ndarray = kept_tracks[ranked]
        return result


@dataclass(frozen=True, eq=False)
class StartHistories:
    """The first `history_length` tracks, with their logged responses, of logged sessions.

    Sessions shorter than `history_length` are padded with track id -1 (absent).
    """

    session_ids: np.ndarray  # (n_sessions,) int64
    track_ids: np.ndarray  # (n_sessions, history_length) int64, -1 = absent, oldest first
    skipped: np.ndarray  # (n_sessions, history_length) bool
    engagement: np.ndarray  # (n_sessions, history_length) float32

    @classmethod
    def from_logs(cls, logs: pd.DataFrame, history_length: int = HISTORY_LENGTH) -> StartHistories:
        """The start of every session of `logs`."""
        logs = _session_order(logs)
        if logs.empty:
            raise ValueError("start logs are empty")
        rank = logs.groupby("session_id", sort=False).cumcount().to_numpy()
        head = logs[rank < history_length]
        session_ids, row_session = np.unique(head["session_id"].to_numpy(), return_inverse=True)
        column = rank[rank < history_length]
        shape = (len(session_ids), history_length)
        track_ids = np.full(shape, -1, dtype=np.int64)
        skipped = np.zeros(shape, dtype=bool)
        engagement = np.zeros(shape, dtype=np.float32)
        track_ids[row_session, column] = head["track_id"].to_numpy(dtype=np.int64)
        skipped[row_session, column] = head["skipped"].to_numpy(dtype=bool)
        engagement[row_session, column] = head["engagement"].to_numpy(dtype=np.float32)
        return cls(session_ids.astype(np.int64), track_ids, skipped, engagement)

    def __repr__(self) -> str:
        """A one-line summary."""
        return f"StartHistories(n_sessions={len(self)}, history_length={self.history_length})"

    @property
    def history_length(self) -> int:
        """Slots per start history."""
        return int(self.track_ids.shape[1])

    def __len__(self) -> int:
        """Number of sessions."""
        return len(self.session_ids)


def default_logged_pairs(history_length: int = HISTORY_LENGTH) -> LoggedPairs:
    """The pairs of the training listeners of the default logs (built once per process)."""
    return _default_logged_pairs(int(history_length))


def default_start_histories(history_length: int = HISTORY_LENGTH) -> StartHistories:
    """The session starts of the held-out (test) listeners of the default logs (built once)."""
    return _default_start_histories(int(history_length))


@lru_cache(maxsize=2)
def _default_logged_pairs(history_length: int) -> LoggedPairs:
    # Keyed by the positional value only, so f() and f(5) share one entry.
    return LoggedPairs.from_logs(
        defaults.default_split().train, defaults.default_catalog(), history_length
    )


@lru_cache(maxsize=2)
def _default_start_histories(history_length: int) -> StartHistories:
    return StartHistories.from_logs(defaults.default_split().test, history_length)


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

    Example:
        >>> import gymnasium as gym, amrs_gym
        >>> env = gym.make("AMRS-SkipSession-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs[7]  # 40 values; slot 0 holds a logged track
        ((40,), np.float32(1.0))
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> sorted(info)
        ['engagement', 'neighbours', 'skip_probability', 'skipped', 'track_id']
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
        if not isinstance(history_length, int) or history_length < 1:
            raise ValueError(f"history_length must be an integer >= 1, got {history_length!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if not np.isfinite(action_weight) or action_weight <= 0:
            raise ValueError(f"action_weight must be a finite number > 0, got {action_weight!r}")
        if start not in START_MODES:
            raise ValueError(f"unknown start {start!r}; expected one of {', '.join(START_MODES)}")

        if isinstance(logs, LoggedPairs):
            if catalog is not None and catalog is not logs.catalog:
                raise ValueError("catalog differs from the catalog the LoggedPairs were built with")
            pairs = logs
        elif logs is None:
            if catalog is not None:
                raise ValueError("catalog without logs: pass the logs that use this catalog")
            pairs = default_logged_pairs(history_length)
        else:
            if catalog is None:
                catalog = defaults.default_catalog()
            pairs = LoggedPairs.from_logs(logs, catalog, history_length)
        if pairs.history_length != history_length:
            raise ValueError(
                f"the LoggedPairs have history_length {pairs.history_length}, not {history_length}"
            )

        if isinstance(start_logs, StartHistories):
            starts = start_logs
        elif start_logs is not None:
            starts = StartHistories.from_logs(start_logs, history_length)
        elif logs is None:
            starts = default_start_histories(history_length)
        elif isinstance(logs, pd.DataFrame):
            starts = StartHistories.from_logs(logs, history_length)
        else:
            raise ValueError("pass start_logs with prebuilt LoggedPairs")
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
        start = self.start if options is None else options.get("start", self.start)
        if start not in START_MODES:
            raise ValueError(
                f"unknown options['start'] {start!r}; expected one of {', '.join(START_MODES)}"
            )
        # Fresh arrays (not in-place clears), so a shallow copy of the env never shares an episode.
        self._history = np.zeros((self.history_length, SLOT_SIZE), dtype=np.float32)
        self._played = np.zeros(self.catalog.n_tracks, dtype=bool)
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
        self._last = {
            "track_id": -1, "skip_probability": float("nan"), "skipped": False,
            "engagement": float("nan"), "neighbours": float("nan"),
        }  # fmt: skip
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
            "track_id": track_id, "skip_probability": skip_probability, "skipped": skipped,
            "engagement": engagement, "neighbours": float(distances[0]),
        }  # fmt: skip
        reward = float(self.reward_fn(skipped, engagement))
        return self._get_obs(), reward, False, self._done, self._get_info()


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
    """The poster's "non-skip benchmark of similar states": mean episode score (out of `max_steps`).

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
                logs=base.pairs, start_logs=base.starts, k=base.k, action_weight=base.action_weight,
                history_length=base.history_length, max_steps=base.max_steps, start=base.start,
                reward_fn=base.reward_fn,
            )
            for _ in range(min(batch, episodes - first))
        ]  # fmt: skip
        observations = np.stack([e.reset(seed=seed + first + i)[0] for i, e in enumerate(envs)])
        for _ in range(base.max_steps):
            candidates = base.pairs.nearest_kept_states(observations, base.k)  # (batch, k)
            for i, e in enumerate(envs):
                assert e._played is not None
                fresh = candidates[i][~e._played[candidates[i]]]
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
