"""amrs-gym: Gymnasium environments for affective music recommendation.

Importing the package registers the environment ids (no heavy imports happen here:
entry points are strings, resolved by `gymnasium.make`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register, registry

from amrs_gym.reward import DEFAULT_PESSIMISM

if TYPE_CHECKING:
    import gymnasium as gym
    import numpy as np

__version__ = "0.1.0"

MODE_ENV_IDS = {
    mode: f"AMRS-{mode.capitalize()}-v0" for mode in ("energize", "focus", "calm", "sleep")
}
REFERENCE_ENV_IDS = {mode: f"AMRS-{mode.capitalize()}-Reference-v0" for mode in MODE_ENV_IDS}
PESSIMISTIC_ENV_IDS = {mode: f"AMRS-{mode.capitalize()}-Pessimistic-v0" for mode in MODE_ENV_IDS}
"""The world-model envs with the ensemble on and reward = utility - DEFAULT_PESSIMISM * its
uncertainty (`amrs_gym.reward.DEFAULT_PESSIMISM`)."""

for _mode, _env_id in MODE_ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="amrs_gym.envs.affective_listening:AffectiveListeningEnv",
            vector_entry_point="amrs_gym.envs.vector:AffectiveListeningVectorEnv",
            kwargs={"mode": _mode},
        )
    if PESSIMISTIC_ENV_IDS[_mode] not in registry:
        register(
            id=PESSIMISTIC_ENV_IDS[_mode],
            entry_point="amrs_gym.envs.affective_listening:AffectiveListeningEnv",
            vector_entry_point="amrs_gym.envs.vector:AffectiveListeningVectorEnv",
            kwargs={"mode": _mode, "pessimism": DEFAULT_PESSIMISM},
        )
    if REFERENCE_ENV_IDS[_mode] not in registry:
        register(
            id=REFERENCE_ENV_IDS[_mode],
            entry_point="amrs_gym.envs.reference:ReferenceListeningEnv",
            kwargs={"mode": _mode},
        )
if "AMRS-FeatureTarget-v0" not in registry:
    register(
        id="AMRS-FeatureTarget-v0",
        entry_point="amrs_gym.envs.feature_target.env:FeatureTargetEnv",
    )
if "AMRS-SkipSession-v0" not in registry:
    register(
        id="AMRS-SkipSession-v0",
        entry_point="amrs_gym.envs.skip_session.env:SkipSessionEnv",
    )


def make_reference_env(mode: str, **kwargs: Any) -> gym.Env[np.ndarray, np.int64]:
    """The reference world (the truth behind the default logs) as an env.

    It has the world-model env's spaces. For evaluating a policy against the truth, not for
    training one: see `ReferenceListeningEnv`.
    """
    import gymnasium as gym

    if mode not in REFERENCE_ENV_IDS:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(REFERENCE_ENV_IDS)}")
    return gym.make(REFERENCE_ENV_IDS[mode], **kwargs)
