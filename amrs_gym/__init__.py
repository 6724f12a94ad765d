"""amrs-gym: Gymnasium environments for affective music recommendation.

Importing the package registers the environment ids (no heavy imports happen here:
entry points are strings, resolved by `gymnasium.make`).
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

_ENVS: dict[str, tuple[str, int, dict[str, object]]] = {
    "AMRS-FeatureTarget-v0": ("amrs_gym.envs.feature_target:FeatureTargetEnv", 21, {}),
}

for _env_id, (_entry_point, _steps, _kwargs) in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, max_episode_steps=_steps, kwargs=_kwargs)
