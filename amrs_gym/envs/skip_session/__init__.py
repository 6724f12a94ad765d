"""The DDPG poster seed's data-driven environment: `SkipSessionEnv` and its logged memory."""

from amrs_gym.envs.skip_session.env import (
    EPISODE_LENGTH,
    INFO_KEYS,
    START_MODES,
    SkipSessionEnv,
    kept_reward,
)
from amrs_gym.envs.skip_session.memory import (
    DEFAULT_ACTION_WEIGHT,
    FEATURE_NAMES,
    HISTORY_LENGTH,
    SLOT_FIELDS,
    SLOT_SIZE,
    LoggedPairs,
    StartHistories,
    default_logged_pairs,
    default_start_histories,
    history_states,
)

__all__ = [
    "DEFAULT_ACTION_WEIGHT",
    "EPISODE_LENGTH",
    "FEATURE_NAMES",
    "HISTORY_LENGTH",
    "INFO_KEYS",
    "SLOT_FIELDS",
    "SLOT_SIZE",
    "START_MODES",
    "LoggedPairs",
    "SkipSessionEnv",
    "StartHistories",
    "default_logged_pairs",
    "default_start_histories",
    "history_states",
    "kept_reward",
]
