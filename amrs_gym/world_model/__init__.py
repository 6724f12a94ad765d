"""The world model: a causal transformer that predicts how a listener responds to the next track.

Submodules: `config` (WorldModelConfig), `model` (the torch module), `features` (logs to
tensors), `training` / `train` (fitting, the command line), `checkpoint` (weights-only
files), `rollout` (fast numpy inference for envs, one model or a batched ensemble),
`protocol` (ListenerModel, the members' mixture and disagreement), `member_world` (one member's
listener behind the world model's context), `evaluation` (fidelity metrics).
Names below are imported lazily, so `import amrs_gym.world_model.rollout` does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CheckpointError": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_ensemble": "checkpoint",
    "load_listener_model": "checkpoint",
    "read_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "WorldModelConfig": "config",
    "ModelState": "torch_rollout",
    "Prediction": "model",
    "WorldModel": "model",
    "MemberWorld": "member_world",
    "NumpyRollout": "rollout",
    "TorchRollout": "torch_rollout",
    "EnsembleModel": "protocol",
    "ListenerModel": "protocol",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"amrs_gym.world_model.{_EXPORTS[name]}"), name)
