"""Fixtures of the world-model tests: a batch of sessions and a seeded, untrained model."""

from __future__ import annotations

import pytest
import torch

from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel, WorldModelConfig


@pytest.fixture(scope="module")
def batch(small_dataset):
    logs = small_dataset.logs
    chosen = logs["listener_id"].isin(logs["listener_id"].unique()[:12])
    return sessions_to_tensors(logs[chosen])


def make_model(catalog, **kwargs) -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(WorldModelConfig(**kwargs), torch.as_tensor(catalog.embeddings))
    return model.eval()
