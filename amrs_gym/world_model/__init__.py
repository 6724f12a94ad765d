"""The world model: a causal transformer that predicts how a listener responds to the next track."""

from amrs_gym.world_model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from amrs_gym.world_model.model import ModelState, Prediction, WorldModel, WorldModelConfig

__all__ = [
    "CheckpointError",
    "ModelState",
    "Prediction",
    "WorldModel",
    "WorldModelConfig",
    "load_checkpoint",
    "save_checkpoint",
]
