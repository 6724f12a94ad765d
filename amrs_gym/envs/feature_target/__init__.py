"""The A2C thesis seed's simulated users: `FeatureTargetEnv` and its rating rule."""

from amrs_gym.envs.feature_target.env import (
    BULLSEYE_REWARD,
    MAX_BOARD_CELLS,
    OBS_MODES,
    REWARD_MODES,
    FeatureTargetEnv,
    ObsMode,
    RewardMode,
)
from amrs_gym.envs.feature_target.ratings import (
    MAX_RATING,
    PERCENTILE_PRESETS,
    PercentilePreset,
    distance_counts,
    rating_for_distance,
    rating_thresholds,
)

__all__ = [
    "BULLSEYE_REWARD",
    "MAX_BOARD_CELLS",
    "MAX_RATING",
    "OBS_MODES",
    "PERCENTILE_PRESETS",
    "REWARD_MODES",
    "FeatureTargetEnv",
    "ObsMode",
    "PercentilePreset",
    "RewardMode",
    "distance_counts",
    "rating_for_distance",
    "rating_thresholds",
]
