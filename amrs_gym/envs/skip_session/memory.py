"""The SkipSession env's memory.

Logged (state, track) pairs with the listener's response, found by exact nearest-neighbour search,
and the logged session starts episodes begin from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from amrs_gym import defaults
from amrs_gym.catalog import Catalog

HISTORY_LENGTH = 5
"""Tracks of history in the state (the poster's 5)."""
FEATURE_NAMES = ("valence", "arousal", "energy", "tempo", "popularity")
"""The columns of `Catalog.features()`, the action space's axes."""
SLOT_FIELDS = (*FEATURE_NAMES, "skipped", "engagement", "present")
"""The fields of one history slot in the observation."""
SLOT_SIZE = len(SLOT_FIELDS)
DEFAULT_ACTION_WEIGHT = 10.0
"""Default weight `w` of the track part of the neighbour distance (see `LoggedPairs.nearest`)."""


def _session_order(logs: pd.DataFrame) -> pd.DataFrame:
    """Logs sorted by session, then position, with a clean index."""
    missing = [
        c for c in ("session_id", "position", "track_id", "skipped", "engagement") if c not in logs
    ]
    if missing:
        raise ValueError(f"logs are missing columns: {', '.join(missing)}")
    return logs.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)


def history_states(
    track_ids: np.ndarray,
    skipped: np.ndarray,
    engagement: np.ndarray,
    rank: np.ndarray,
    features: np.ndarray,
    history_length: int,
) -> np.ndarray:
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


def memory_for(
    logs: pd.DataFrame | LoggedPairs | None, catalog: Catalog | None, history_length: int
) -> LoggedPairs:
    """The memory of a `SkipSessionEnv`: `logs` itself, the default one, or built from `logs`."""
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
    return pairs


def starts_for(
    start_logs: pd.DataFrame | StartHistories | None,
    logs: pd.DataFrame | LoggedPairs | None,
    history_length: int,
) -> StartHistories:
    """The start histories of a `SkipSessionEnv`: from `start_logs`, else as `logs` implies."""
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
    return starts
