"""Quick training data for agent tests (a fifth of the default training listeners, calm mode)."""

from __future__ import annotations

import pytest

from agents.data import TrainingData


@pytest.fixture(scope="session")
def calm_data() -> TrainingData:
    return TrainingData.default("calm", quick=True)
