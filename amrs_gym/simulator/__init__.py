"""The simulator core: batched listening sessions that every env, evaluation and agent drives.

    >>> from amrs_gym.simulator import SessionConfig
    >>> sessions = SessionConfig("calm", episode_length=5).create(4)
    >>> import numpy as np
    >>> sessions.reset(np.arange(4), [np.random.default_rng(i) for i in range(4)], cold=False)
    >>> rewards, info = sessions.step(
    ...     np.array([1, 2, 3, 4]), [np.random.default_rng(i) for i in range(4)]
    ... )
    >>> rewards.shape, sessions.observations().shape
    ((4,), (4, 95))

`SessionConfig` says what to simulate; `create(n)` builds `ListeningSessions`, whose step is
predict (the `ListenerModel`) -> draw (an `OutcomeSource`) -> utility -> observe.
"""

from amrs_gym.simulator.config import SessionConfig, SessionSetup
from amrs_gym.simulator.observation import (
    LAST_SKIPPED_INDEX,
    OBS_FIELDS,
    observation_size,
    observation_space,
)
from amrs_gym.simulator.outcomes import (
    LoggedOutcomes,
    OutcomeSource,
    ReferenceOutcomes,
    StepOutcome,
    WorldModelOutcomes,
)
from amrs_gym.simulator.replay import LoggedSteps, replay_logs
from amrs_gym.simulator.sessions import INFO_KEYS, ListeningSessions
from amrs_gym.simulator.starts import StartSession, read_start_frame, start_sessions_for
from amrs_gym.simulator.view import SessionView

__all__ = [
    "INFO_KEYS",
    "LAST_SKIPPED_INDEX",
    "OBS_FIELDS",
    "ListeningSessions",
    "LoggedOutcomes",
    "LoggedSteps",
    "OutcomeSource",
    "ReferenceOutcomes",
    "SessionConfig",
    "SessionSetup",
    "SessionView",
    "StartSession",
    "StepOutcome",
    "WorldModelOutcomes",
    "observation_size",
    "observation_space",
    "read_start_frame",
    "replay_logs",
    "start_sessions_for",
]
