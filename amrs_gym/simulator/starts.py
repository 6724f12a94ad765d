"""Starting histories.

The logged sessions an episode can continue, and the batches models start from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym.modes import COHORTS
from amrs_gym.world_model.protocol import Feedback, StartBatch


@dataclass(frozen=True, eq=False)
class StartSession:
    """How an episode can start.

    A listener's logged session, with the session before it as history.
    """

    listener: int
    session_id: int
    """The logged session this start belongs to."""
    cohort: int
    """Index into `amrs_gym.modes.COHORTS`."""
    start_report: np.ndarray  # (2,) the session's starting valence/arousal report
    tracks: np.ndarray  # (length,) the previous session's tracks
    positions: np.ndarray  # (length,) their positions in that session
    feedback: Feedback  # fields (length,): their logged feedback
    latent_start: (
        np.ndarray
    )  # (2,) latent affect when the session began (nan unless the logs have it)
    profile: np.ndarray  # (embedding_dim,) the listener's taste as their earlier sessions show it


def listener_profiles(frame: pd.DataFrame, unit_embeddings: np.ndarray) -> dict[int, np.ndarray]:
    """Each logged session's listener profile, from that listener's earlier sessions only.

    The engagement-weighted mean of the unit embeddings of every track the listener was played
    before the session (zeros for a first session): what a production recommender knows of a
    listener's taste from their history. Its length (at most 1) says how consistent that taste
    is. Sessions are in time order within a listener. Returns session id -> (embedding_dim,).
    """
    weight = np.nan_to_num(frame["engagement"].to_numpy(float))
    weighted = unit_embeddings[frame["track_id"].to_numpy(np.int64)] * weight[:, None]
    per_session = pd.DataFrame(np.c_[weighted, weight]).groupby(frame["session_id"].to_numpy())
    per_session = per_session.sum()
    listener = frame.groupby("session_id")["listener_id"].first().loc[per_session.index]
    # sessions are in time order within a listener: the running sum less the session's own
    earlier = (per_session.groupby(listener.to_numpy()).cumsum() - per_session).to_numpy()
    total = earlier[:, -1:]
    profile = np.where(total > 0, earlier[:, :-1] / np.maximum(total, 1e-9), 0.0)
    return dict(zip(per_session.index.tolist(), profile.astype(np.float32), strict=True))


def read_start_frame(source: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Logged sessions from a DataFrame or a parquet / CSV file."""
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"start_sessions: no file at {path}")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise ValueError(f"start_sessions: {path} is neither .parquet nor .csv")


def start_sessions_for(
    frame: pd.DataFrame, mode: str, cohort: str, unit_embeddings: np.ndarray | None = None
) -> list[StartSession]:
    """Logged sessions of `mode` (and `cohort`, unless `mixed`) that follow another session.

    The other session is an earlier one of the same listener. With the catalog's
    `unit_embeddings`, each start carries its listener's profile (`listener_profiles`); without,
    an empty one.
    """
    frame = frame.sort_values(["session_id", "position"], kind="stable")
    session = frame["session_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    ends = np.r_[starts[1:], len(session)]
    listener = frame["listener_id"].to_numpy()[starts]
    first = frame.iloc[starts]
    # sessions are in time order within a listener: the one before is the previous start of the
    # same listener
    previous = np.full(len(starts), -1)
    order = np.lexsort((session[starts], listener))
    same = listener[order][1:] == listener[order][:-1]
    previous[order[1:][same]] = order[:-1][same]
    chosen = (first["mode"].to_numpy() == mode) & (previous >= 0)
    if cohort != "mixed":
        chosen &= first["cohort"].to_numpy() == cohort
    if not chosen.any():
        raise ValueError(f"no starting sessions for mode={mode!r}, cohort={cohort!r} in these logs")
    columns = Feedback(
        engagement=frame["engagement"].to_numpy(float),
        skipped=frame["skipped"].to_numpy().astype(bool),
        rating=frame["rating"].to_numpy(float),
        valence_report=frame["valence_report"].to_numpy(float),
        arousal_report=frame["arousal_report"].to_numpy(float),
    )
    tracks, positions = frame["track_id"].to_numpy(np.int64), frame["position"].to_numpy(np.int64)
    reports = first[["valence_start", "arousal_start"]].to_numpy(float)
    latent = (
        first[["latent_valence_before", "latent_arousal_before"]].to_numpy(float)
        if "latent_valence_before" in frame
        else np.full((len(starts), 2), np.nan)
    )
    cohorts = np.array([COHORTS.index(c) for c in first["cohort"]])
    profiles = listener_profiles(frame, unit_embeddings) if unit_embeddings is not None else {}
    empty = np.zeros(0, dtype=np.float32)
    out = []
    for i in np.flatnonzero(chosen):
        rows = slice(starts[previous[i]], ends[previous[i]])
        out.append(
            StartSession(
                listener=int(listener[i]),
                session_id=int(session[starts[i]]),
                cohort=int(cohorts[i]),
                start_report=reports[i],
                tracks=tracks[rows],
                positions=positions[rows],
                feedback=Feedback(*(getattr(columns, f)[rows] for f in _FEEDBACK_FIELDS)),
                latent_start=latent[i],
                profile=profiles.get(int(session[starts[i]]), empty),
            )
        )
    return out


_FEEDBACK_FIELDS = ("engagement", "skipped", "rating", "valence_report", "arousal_report")


def start_batch(
    picks: list[StartSession], mode: int, history_length: int, cold: bool, reports: np.ndarray
) -> StartBatch:
    """The model's view of how `picks` begin.

    Their last `history_length` logged tracks (none if `cold`) and the starting reports `reports`
    (n, 2).
    """
    n = len(picks)
    keep = [0 if cold else min(history_length, len(s.tracks)) for s in picks]
    width = max(keep, default=0)
    tracks = np.full((n, width), -1, dtype=np.int64)
    positions = np.zeros((n, width), dtype=np.int64)
    columns = {f: np.zeros((n, width)) for f in _FEEDBACK_FIELDS}
    columns["skipped"] = np.zeros((n, width), dtype=bool)
    for row, (pick, count) in enumerate(zip(picks, keep, strict=True)):
        if not count:
            continue
        tracks[row, :count] = pick.tracks[-count:]
        positions[row, :count] = pick.positions[-count:]
        for name in _FEEDBACK_FIELDS:
            columns[name][row, :count] = getattr(pick.feedback, name)[-count:]
    return StartBatch(
        mode=np.full(n, mode),
        cohort=np.array([s.cohort for s in picks], dtype=np.int64),
        start_report=reports,
        history_tracks=tracks,
        history_positions=positions,
        history_feedback=Feedback(**columns),
        history_length=np.array(keep, dtype=np.int64),
    )
