"""The logged-sessions schema and its validation.

Every problem named by column, never a traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amrs_gym.modes import COHORTS, MODES

#: column -> (kind, meaning). kinds: int, float, bool, str; `nullable` floats may be missing.
LOG_COLUMNS: dict[str, tuple[str, str]] = {
    "listener_id": ("int", "listener index (>= 0)"),
    "session_id": ("int", "session index (>= 0), unique across listeners"),
    "mode": ("str", "energize, focus, calm or sleep"),
    "cohort": ("str", "consumer or clinical"),
    "position": ("int", "0-based position of the track in its session"),
    "track_id": ("int", "catalog index of the recommended track"),
    "propensity": (
        "nullable",
        "logging policy's probability of that track, in (0, 1]; optional, missing when unknown "
        "(off-policy estimates need it)",
    ),
    "engagement": ("float", "fraction of the track listened to, in [0, 1]"),
    "skipped": ("bool", "whether the listener skipped the track"),
    "rating": ("nullable", "1 like, 0 dislike, missing when not given"),
    "valence_report": ("nullable", "self-reported valence after the track, [-1, 1], or missing"),
    "arousal_report": ("nullable", "self-reported arousal after the track, [-1, 1], or missing"),
    "valence_start": ("float", "self-reported valence at the session's start, [-1, 1]"),
    "arousal_start": ("float", "self-reported arousal at the session's start, [-1, 1]"),
}

_RANGES: dict[str, tuple[float, float]] = {
    "listener_id": (0, np.inf),
    "session_id": (0, np.inf),
    "position": (0, np.inf),
    "propensity": (1e-300, 1.0),
    "engagement": (0.0, 1.0),
    "rating": (0.0, 1.0),
    "valence_report": (-1.0, 1.0),
    "arousal_report": (-1.0, 1.0),
    "valence_start": (-1.0, 1.0),
    "arousal_start": (-1.0, 1.0),
}


OPTIONAL_COLUMNS = ("propensity",)
"""Columns a log may leave out; `validate_logs` then fills them with NaN (unknown)."""


NO_ROWS = "file: no rows (a log needs at least one session)"
"""The one problem of a log without rows (its columns' types cannot be told: a header-only CSV)."""


class LogSchemaError(ValueError):
    """Logged sessions that do not fit the schema; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid logs:\n" + "\n".join(f"  {p}" for p in problems))


def find_problems(logs: pd.DataFrame, n_tracks: int | None = None) -> list[str]:
    """Every way `logs` breaks the schema, one line each naming the column (empty when valid)."""
    problems = [
        f"{c}: missing column ({meaning})"
        for c, (_, meaning) in LOG_COLUMNS.items()
        if c not in logs.columns and c not in OPTIONAL_COLUMNS
    ]
    if logs.empty:  # no values to check (a header-only CSV has no column types either)
        return [*problems, NO_ROWS]
    for column, (kind, _) in LOG_COLUMNS.items():
        if column not in logs.columns:
            continue
        problems += _column_problems(column, kind, logs[column])
    if (
        n_tracks is not None
        and "track_id" in logs.columns
        and pd.api.types.is_numeric_dtype(logs["track_id"])
    ):
        ids = logs["track_id"].to_numpy(dtype=np.float64, na_value=np.nan)
        unknown = (ids < 0) | (ids >= n_tracks) | np.isnan(ids)
        if unknown.any():
            problems.append(
                f"track_id: {int(unknown.sum())} unknown track ids "
                f"(catalog has {n_tracks} tracks, ids 0..{n_tracks - 1})"
            )
    if not problems:
        problems += _session_problems(logs)
    return problems


SESSION_CONSTANTS = ("listener_id", "mode", "cohort", "valence_start", "arousal_start")
"""Columns that describe a whole session: one value per session."""


def _session_problems(logs: pd.DataFrame) -> list[str]:
    """Problems of whole sessions (the columns are valid): rows, positions, per-session columns."""
    problems = []
    if logs.duplicated(["session_id", "position"]).any():
        problems.append("position: duplicated (session_id, position) pairs")
    sessions = logs.groupby("session_id", sort=False)
    position = sessions["position"]
    gaps = (position.min() != 0) | (position.max() != position.count() - 1)
    if gaps.any():
        first = gaps[gaps].index[0]
        problems.append(
            f"position: {int(gaps.sum())} sessions whose positions are not 0..n-1 "
            f"(e.g. session_id {first})"
        )
    for column in SESSION_CONSTANTS:
        varying = sessions[column].nunique(dropna=False) > 1
        if varying.any():
            problems.append(
                f"{column}: changes within {int(varying.sum())} sessions (one value per session; "
                f"e.g. session_id {varying[varying].index[0]})"
            )
    return problems


def _column_problems(column: str, kind: str, values: pd.Series) -> list[str]:
    """The problems of one present column of `LOG_COLUMNS`, whose values are `values`."""
    problems: list[str] = []
    if kind == "str":
        allowed = MODES if column == "mode" else COHORTS
        bad = sorted(set(values.dropna().astype(str)) - set(allowed))
        if bad or values.isna().any():
            problems.append(
                f"{column}: unknown values {bad[:5] or ['<missing>']}; "
                f"allowed: {', '.join(allowed)}"
            )
        return problems
    if kind == "bool":
        if not pd.api.types.is_bool_dtype(values):
            problems.append(f"{column}: expected bool, got {values.dtype}")
        elif values.isna().any():  # a nullable "boolean" column
            problems.append(f"{column}: {int(values.isna().sum())} missing values (not allowed)")
        return problems
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        problems.append(
            f"{column}: expected {'integer' if kind == 'int' else 'number'}, got {values.dtype}"
        )
        return problems
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(numbers)
    if kind != "nullable" and missing.any():
        problems.append(f"{column}: {int(missing.sum())} missing values (not allowed)")
    present = numbers[~missing]
    if kind == "int" and np.any(present != np.round(present)):
        problems.append(f"{column}: expected integers, found fractions")
    if column == "rating" and np.any((present != 0) & (present != 1)):
        problems.append("rating: values must be 1 (like), 0 (dislike) or missing")
        return problems
    low, high = _RANGES.get(column, (-np.inf, np.inf))
    if present.size and (present.min() < low or present.max() > high):
        problems.append(
            f"{column}: values out of range [{low:g}, {high:g}] "
            f"(found {present.min():g} .. {present.max():g})"
        )
    return problems


def validate_logs(logs: pd.DataFrame, n_tracks: int | None = None) -> pd.DataFrame:
    """Return `logs` with canonical dtypes, sorted by session and position.

    A missing optional column (`propensity`) is added as NaN: unknown, never guessed.

    Raises:
        LogSchemaError: if `logs` breaks the schema (every problem listed).
    """
    problems = find_problems(logs, n_tracks)
    if problems:
        raise LogSchemaError(problems)
    logs = logs.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in logs.columns:
            logs[column] = np.nan
    for column, (kind, _) in LOG_COLUMNS.items():
        if kind == "int":
            logs[column] = logs[column].astype(np.int64)
        elif kind in ("float", "nullable"):
            logs[column] = logs[column].astype(np.float64)
        elif kind == "str":
            logs[column] = logs[column].astype(str)
    return logs.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)
