"""Logged sessions replayed through the world model, for offline agents.

Offline agents thus see observations exactly as the env builds them. Each logged session of a mode
starts from its listener's previous logged session (the env's history start); its logged tracks and
feedback are then fed to the world model one step at a time (sessions whose outcomes are
`LoggedOutcomes`). Rewards are the mode's utility on the logged outcomes: logged engagement, the
rating where one was given, else the world model's like probability, and the reported
valence/arousal where reported, else the world model's estimate (about 1 step in 5 has a report:
filling the rest with 0 would read as "neutral affect" and reward tracks for being unreported).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from amrs_gym.simulator.config import SessionConfig
from amrs_gym.simulator.outcomes import LoggedOutcomes
from amrs_gym.simulator.sessions import ListeningSessions
from amrs_gym.world_model.protocol import Feedback


@dataclass(frozen=True)
class LoggedSteps:
    """Transitions of replayed logged sessions, in session order (N steps)."""

    observations: np.ndarray  # (N, obs_dim) float32, before the step
    next_observations: np.ndarray  # (N, obs_dim) float32, after the step
    actions: np.ndarray  # (N,) logged track ids
    propensities: np.ndarray  # (N,) the logging policy's probability of that track
    rewards: np.ndarray  # (N,) the mode's utility on the logged outcome
    timeouts: np.ndarray  # (N,) True on the last replayed step of a session
    session_id: np.ndarray  # (N,)
    step: np.ndarray  # (N,) index within the session
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    """What `replay_logs`'s `watch` recorded before each step, by name.  # (N, ...)"""

    def __len__(self) -> int:
        return len(self.actions)

    def played_before(self, width: int) -> np.ndarray:
        """The tracks each step's session had already played, in order, padded with -1.

        # (N, width)

        Relies on the replay's order: a session's steps are consecutive rows, from step 0.
        """
        played = np.full((len(self), width), -1, dtype=np.int64)
        for lag in range(1, width + 1):
            rows = np.flatnonzero(self.step >= lag)
            played[rows, self.step[rows] - lag] = self.actions[rows - lag]
        return played


Watch = Callable[[ListeningSessions, np.ndarray], Mapping[str, np.ndarray]]
"""`watch(sessions, logged_actions)` -> per-session arrays, each (n, ...), to record."""


def replay_logs(
    config: SessionConfig,
    batch: int = 512,
    progress: bool = True,
    watch: Watch | None = None,
    starts: Sequence[int] | None = None,
) -> LoggedSteps:
    """Replay the first `episode_length` steps of every logged session of `config`'s starts.

    The starting sessions are each session of its mode that has an earlier session of its
    listener (`starts`: the indices of those to replay, default all). `watch(sessions,
    actions)`, if given, is called before each step with the logged tracks about to be played
    (to read what the simulator, or an agent bound to its view, makes of each logged state; it
    must not step the sessions); what it returns is kept in `extras`.
    """
    logs = config.start_frame()
    every = config.setup.starts
    indices = list(range(len(every))) if starts is None else [int(i) for i in starts]
    if not indices or not all(0 <= i < len(every) for i in indices):
        raise ValueError(f"starts must be indices in [0, {len(every)}), got {starts}")
    mode, episode_length = config.mode, config.episode_length
    ids = [every[i].session_id for i in indices]
    ordered = logs[logs["session_id"].isin(ids)].sort_values(
        ["session_id", "position"], kind="stable"
    )
    by_session = {sid: rows for sid, rows in ordered.groupby("session_id", sort=False)}
    columns = (
        "track_id",
        "propensity",
        "engagement",
        "skipped",
        "rating",
        "valence_report",
        "arousal_report",
    )
    parts: list[dict[str, np.ndarray]] = []
    rng = [np.random.default_rng(0)]  # logged steps draw nothing; the argument is required
    for first in tqdm(
        range(0, len(indices), batch), desc=f"replaying {mode} logs", disable=not progress
    ):
        chunk = list(range(first, min(first + batch, len(indices))))
        n = len(chunk)
        table = {c: np.zeros((n, episode_length)) for c in columns}
        length = np.zeros(n, dtype=np.int64)
        for row, index in enumerate(chunk):
            rows = by_session[ids[index]].head(episode_length)
            length[row] = len(rows)
            for c in columns:
                table[c][row, : len(rows)] = rows[c].to_numpy(float)
        sessions = config.create(n, LoggedOutcomes(Feedback(*(table[c] for c in columns[2:]))))
        sessions.reset(np.arange(n), rng * n, cold=False, start_indices=[indices[i] for i in chunk])
        for t in range(int(length.max())):
            observations = sessions.observations()
            actions = table["track_id"][:, t].astype(np.int64)
            live = t < length
            watched = {} if watch is None else watch(sessions, actions)
            rewards, _ = sessions.step(actions, rng * n)
            parts.append(
                {
                    **{f"extra:{k}": np.asarray(v)[live] for k, v in watched.items()},
                    "observations": observations[live],
                    "next_observations": sessions.observations()[live],
                    "actions": actions[live],
                    "propensities": table["propensity"][live, t],
                    "rewards": rewards[live],
                    "timeouts": (length - 1 == t)[live],
                    "session_id": np.array([ids[i] for i in chunk])[live],
                    "step": np.full(int(live.sum()), t),
                }
            )
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((merged["step"], merged["session_id"]))
    ordered = {k: v[order] for k, v in merged.items()}
    extras = {k.removeprefix("extra:"): ordered.pop(k) for k in list(ordered) if ":" in k}
    return LoggedSteps(**ordered, extras=extras)
