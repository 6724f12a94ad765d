"""Loader for the Spotify Music Streaming Sessions Dataset (MSSD) session logs.

The logs (Brost, Mehrotra & Jehan, WWW 2019; the WSDM Cup 2019 skip-prediction data)
hold one row per played track: `session_id, session_position, session_length,
track_id_clean`, four nested skip flags, playback and context columns. `load_mssd` turns
them into the project's log layout (integer session and track ids, 0-based positions,
`skipped`, `engagement`) and keeps every original behaviour column with a proper dtype.

MSSD has no user ids, no ratings and no self-reports: `listener_id` is the session id,
and `rating`, `valence_report`, `arousal_report` are all NaN.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym.validation import check_int

RAW_COLUMNS: tuple[str, ...] = (
    "session_id",
    "session_position",
    "session_length",
    "track_id_clean",
    "skip_1",
    "skip_2",
    "skip_3",
    "not_skipped",
    "context_switch",
    "no_pause_before_play",
    "short_pause_before_play",
    "long_pause_before_play",
    "hist_user_behavior_n_seekfwd",
    "hist_user_behavior_n_seekback",
    "hist_user_behavior_is_shuffle",
    "hour_of_day",
    "date",
    "premium",
    "context_type",
    "hist_user_behavior_reason_start",
    "hist_user_behavior_reason_end",
)
"""The columns an MSSD log file must have."""

BOOL_COLUMNS: tuple[str, ...] = (
    "skip_1",
    "skip_2",
    "skip_3",
    "not_skipped",
    "hist_user_behavior_is_shuffle",
    "premium",
)
INT_COLUMNS: tuple[str, ...] = (
    "session_position",
    "session_length",
    "context_switch",
    "no_pause_before_play",
    "short_pause_before_play",
    "long_pause_before_play",
    "hist_user_behavior_n_seekfwd",
    "hist_user_behavior_n_seekback",
    "hour_of_day",
)
CATEGORY_COLUMNS: tuple[str, ...] = (
    "context_type",
    "hist_user_behavior_reason_start",
    "hist_user_behavior_reason_end",
)

IDENTITY_COLUMNS: tuple[str, ...] = (
    "session_id",
    "session_key",
    "listener_id",
    "position",
    "session_length",
    "track_id",
)
"""What the WSDM Cup test input gave for every row, second half included."""

SESSION_CONTEXT_COLUMNS: tuple[str, ...] = ("date", "premium", "hour_of_day")
"""Treated as session-level: known from the session's first half (see `wsdm_halves`)."""

BEHAVIOUR_COLUMNS: tuple[str, ...] = (
    "skipped",
    "engagement",
    "rating",
    "valence_report",
    "arousal_report",
    "skip_1",
    "skip_2",
    "skip_3",
    "not_skipped",
    "context_switch",
    "no_pause_before_play",
    "short_pause_before_play",
    "long_pause_before_play",
    "hist_user_behavior_n_seekfwd",
    "hist_user_behavior_n_seekback",
    "hist_user_behavior_is_shuffle",
    "context_type",
    "hist_user_behavior_reason_start",
    "hist_user_behavior_reason_end",
)
"""Per-row outcome and playback columns, withheld for the second half of a session.

In the WSDM Cup 2019 test set the second half of each session came with only
`session_id, session_position, session_length, track_id_clean`; every other column was
withheld. We are conservative: all per-row playback columns are listed here, including
shuffle and context type (they change inside 12% and 25% of sessions, with the user's
actions), the reason a track started (`fwdbtn` says the previous track was skipped), and
our derived outcomes. Only `SESSION_CONTEXT_COLUMNS` survive, with first-half values.
"""

ENGAGEMENT_LEVELS: dict[str, float] = {
    "skip_1": 0.05,
    "skip_2": 0.25,
    "skip_3": 0.6,
    "late_end": 0.8,
    "not_skipped": 1.0,
}
"""Engagement by how far a track was played, a rough fraction listened.

The earliest skip flag that is set wins: `skip_1` (played very briefly) -> 0.05; else
`skip_2` (played briefly) -> 0.25; else `skip_3` (most of the track played) -> 0.6; else,
when `not_skipped` (played to the end) is set -> 1.0; else (ended late, without a skip
flag, e.g. by `endplay` or `logout`) -> 0.8. More skipping never gives more engagement.
"""


class MssdFormatError(ValueError):
    """An MSSD log file that lacks columns or holds values of the wrong kind."""


def _engagement(
    skip_1: np.ndarray, skip_2: np.ndarray, skip_3: np.ndarray, not_skipped: np.ndarray
) -> np.ndarray:
    levels = ENGAGEMENT_LEVELS
    return np.select(
        [skip_1, skip_2, skip_3, not_skipped],
        [levels["skip_1"], levels["skip_2"], levels["skip_3"], levels["not_skipped"]],
        default=levels["late_end"],
    ).astype(np.float64)


@dataclass(frozen=True, eq=False)
class MssdLogs:
    """MSSD logs in the project's layout.

    `logs` has one row per played track, sorted by (session_id, position):
    `IDENTITY_COLUMNS`; `skipped` (= skip_2, the WSDM Cup target); `engagement` (see
    `ENGAGEMENT_LEVELS`); `rating`, `valence_report`, `arousal_report` (all NaN); then
    the original columns other than session_id, session_position and track_id_clean,
    with bool, int64, datetime64 (`date`) or category dtypes. `track_keys[i]` is the
    original `track_id_clean` of track id i.
    """

    logs: pd.DataFrame
    track_keys: np.ndarray

    @property
    def n_sessions(self) -> int:
        """Number of sessions (session ids run 0 .. n_sessions - 1)."""
        return int(self.logs["session_id"].nunique())

    @property
    def n_tracks(self) -> int:
        """Number of distinct track ids (shared by the parts of a split)."""
        return len(self.track_keys)

    def _subset(self, mask: np.ndarray) -> MssdLogs:
        part = self.logs[mask].reset_index(drop=True)
        _, renumbered = np.unique(part["session_id"].to_numpy(), return_inverse=True)
        part["session_id"] = renumbered.astype(np.int64)
        part["listener_id"] = part["session_id"]
        return MssdLogs(logs=part, track_keys=self.track_keys)

    def split_by_session(self, test_fraction: float, seed: int) -> tuple[MssdLogs, MssdLogs]:
        """Split whole sessions at random into (train, test).

        Args:
            test_fraction: Share of sessions in the test part, in (0, 1); at least one
                session goes to each part.
            seed: Seed of `numpy.random.default_rng`.

        Returns:
            Two `MssdLogs` with disjoint sessions, each renumbered 0..k-1 in the original
            order (`listener_id` follows), sharing the same track ids and `track_keys`.
        """
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        n = self.n_sessions
        if n < 2:
            raise ValueError(f"need at least 2 sessions to split, got {n}")
        n_test = min(n - 1, max(1, round(test_fraction * n)))
        test_ids = np.random.default_rng(seed).permutation(n)[:n_test]
        in_test = self.logs["session_id"].isin(test_ids).to_numpy()
        return self._subset(~in_test), self._subset(in_test)


def _to_bool(values: pd.Series, name: str) -> pd.Series:
    if values.dtype == bool:
        return values
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    mapped = values.astype(str).str.strip().str.lower().map(mapping)
    if mapped.isna().any():
        bad = values[mapped.isna()].iloc[0]
        raise MssdFormatError(f"column {name} must hold True/False, found {bad!r}")
    return mapped.astype(bool)


def _to_int(values: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    finite = np.isfinite(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    if not finite.all() or (numbers != np.round(numbers)).any():
        raise MssdFormatError(f"column {name} must hold integers")
    if name in INT_RANGES:
        low, high = INT_RANGES[name]
        if numbers.min() < low or numbers.max() > high:
            raise MssdFormatError(
                f"column {name} must lie in {low}..{high}, found {numbers.min()}..{numbers.max()}"
            )
    return numbers.astype(np.int64)


INT_RANGES: dict[str, tuple[float, float]] = {
    "hour_of_day": (0, 23),
    "context_switch": (0, 1),
    "no_pause_before_play": (0, 1),
    "short_pause_before_play": (0, 1),
    "long_pause_before_play": (0, 1),
    "hist_user_behavior_n_seekfwd": (0, np.inf),
    "hist_user_behavior_n_seekback": (0, np.inf),
}
"""Ranges of the integer columns whose meaning bounds them."""


def _check_skip_flags(raw: pd.DataFrame) -> None:
    """Refuse contradictory skip flags.

    A track skipped very early (skip_1) but not early (skip_2), or marked both played in full
    (not_skipped) and skipped.
    """
    early_only = raw["skip_1"] & ~raw["skip_2"]
    both = raw["not_skipped"] & (raw["skip_1"] | raw["skip_2"] | raw["skip_3"])
    for name, bad in (("skip_1 without skip_2", early_only), ("not_skipped with a skip", both)):
        if bad.any():
            raise MssdFormatError(f"{int(bad.sum())} rows with contradictory skip flags ({name})")


def _read_raw(path: Path, max_sessions: int | None) -> pd.DataFrame:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise MssdFormatError(f"cannot read {path} (truncated or not a CSV file?): {exc}") from None
    missing = [c for c in RAW_COLUMNS if c not in {str(h).strip() for h in header}]
    if missing:
        raise MssdFormatError(f"{path} is missing column(s): {', '.join(missing)}")
    text_columns = ("session_id", "track_id_clean", "date", *CATEGORY_COLUMNS)
    options = {
        "usecols": lambda c: str(c).strip() in RAW_COLUMNS,
        "dtype": dict.fromkeys(text_columns, str),
    }
    try:
        if max_sessions is None:
            frame = pd.read_csv(path, **options)
        else:
            chunks, seen = [], pd.Index([])
            reader = pd.read_csv(path, chunksize=50_000, **options)
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                seen = seen.append(pd.Index(chunk["session_id"].unique())).unique()
                if len(seen) > max_sessions:
                    chunks.append(chunk[chunk["session_id"].isin(seen[:max_sessions])])
                    break
                chunks.append(chunk)
            frame = pd.concat(chunks, ignore_index=True)
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        raise MssdFormatError(f"cannot read {path} (truncated or not a CSV file?): {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise MssdFormatError(f"{path} has a header but no rows")
    empty = [c for c in RAW_COLUMNS if frame[c].isna().any()]
    if empty:
        raise MssdFormatError(f"{path} has missing values in column(s): {', '.join(empty)}")
    return frame


def load_mssd(path: str | Path, max_sessions: int | None = None) -> MssdLogs:
    """Load an MSSD session-log CSV (plain or gzip) into `MssdLogs`.

    Session ids are 0..n-1 in order of first appearance in the file; track ids are codes
    of `track_id_clean` in order of first appearance. `position` = session_position - 1.
    `listener_id` = `session_id` because MSSD has no user ids. Sessions are kept as they
    are in the file (a session cut by the end of a sample keeps its `session_length`).

    Args:
        path: The CSV file, e.g. `sessions_dev.csv.gz`.
        max_sessions: Keep only the first this many sessions of the file (MSSD files
            are grouped by session, so this reads just the head of the file).

    Returns:
        The logs and the original track keys.

    Raises:
        FileNotFoundError: No such file.
        MssdFormatError: A missing column (named), values of the wrong kind, or positions
            outside 1..session_length.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MSSD log file not found: {path}")
    if max_sessions is not None:
        max_sessions = check_int("max_sessions", max_sessions, 1)
    raw = _read_raw(path, max_sessions)

    for name in BOOL_COLUMNS:
        raw[name] = _to_bool(raw[name], name)
    _check_skip_flags(raw)
    for name in INT_COLUMNS:
        raw[name] = _to_int(raw[name], name)
    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        raise MssdFormatError("column date must hold YYYY-MM-DD dates")
    raw["date"] = dates

    session_codes, _ = pd.factorize(raw["session_id"], sort=False)
    track_codes, track_uniques = pd.factorize(raw["track_id_clean"], sort=False)
    lengths = raw["session_length"].to_numpy()
    positions = raw["session_position"].to_numpy()
    if (lengths < 1).any() or (positions < 1).any() or (positions > lengths).any():
        raise MssdFormatError("session_position must lie in 1..session_length")
    per_session = pd.DataFrame({"s": session_codes, "len": lengths, "pos": positions})
    if (per_session.groupby("s")["len"].nunique() > 1).any():
        raise MssdFormatError("session_length must be constant within a session")
    if per_session.duplicated(["s", "pos"]).any():
        raise MssdFormatError("a session_position appears twice in one session")

    logs = pd.DataFrame(
        {
            "session_id": session_codes.astype(np.int64),
            "session_key": raw["session_id"].astype(str),
            "listener_id": session_codes.astype(np.int64),
            "position": (positions - 1).astype(np.int64),
            "session_length": lengths.astype(np.int64),
            "track_id": track_codes.astype(np.int64),
            "skipped": raw["skip_2"].to_numpy(dtype=bool),
            "engagement": _engagement(
                *(
                    raw[c].to_numpy(dtype=bool)
                    for c in ("skip_1", "skip_2", "skip_3", "not_skipped")
                )
            ),
            "rating": np.full(len(raw), np.nan),
            "valence_report": np.full(len(raw), np.nan),
            "arousal_report": np.full(len(raw), np.nan),
        }
    )
    for name in RAW_COLUMNS[4:]:
        column = raw[name]
        logs[name] = column.astype("category") if name in CATEGORY_COLUMNS else column.to_numpy()
    logs = logs.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)
    track_keys = np.asarray(track_uniques, dtype=object)
    track_keys.flags.writeable = False
    return MssdLogs(logs=logs, track_keys=track_keys)


def wsdm_halves(logs: MssdLogs | pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split every session into the WSDM Cup's known first half and hidden second half.

    The first half is positions < floor(session_length / 2) (0-based), the second half
    the rest, so an odd-length session hides one more track than it shows. This follows
    our reading of the challenge ("the first half" given, the rest to predict; the
    rounding was not verified against the official test files). The first half keeps
    every column. The second half drops `BEHAVIOUR_COLUMNS`; its `SESSION_CONTEXT_COLUMNS`
    are replaced by the session's last first-half value (the session's first row when the
    first half is empty), so they carry nothing observed during the second half.

    Args:
        logs: `MssdLogs` or its `logs` frame.

    Returns:
        (first_half, second_half), each sorted by (session_id, position).
    """
    frame = logs.logs if isinstance(logs, MssdLogs) else logs
    frame = frame.sort_values(["session_id", "position"], kind="stable")
    in_first = (frame["position"] < frame["session_length"] // 2).to_numpy()
    first = frame[in_first].reset_index(drop=True)
    second = frame[~in_first].drop(columns=[c for c in BEHAVIOUR_COLUMNS if c in frame.columns])
    context = [c for c in SESSION_CONTEXT_COLUMNS if c in frame.columns]
    if context:
        known = frame.groupby("session_id", sort=False)[context].first()
        known.update(first.groupby("session_id", sort=False)[context].last())
        values = known.loc[second["session_id"].to_numpy()]
        for name in context:
            second[name] = values[name].to_numpy().astype(frame[name].dtype)
    return first, second.reset_index(drop=True)
