"""Quick training data for agent tests (a fifth of the default training listeners, calm mode), and
every registered agent fitted on it once per test session."""

from __future__ import annotations

from typing import Any

import pytest

import agents
from agents.data import TrainingData


@pytest.fixture(scope="session")
def calm_data() -> TrainingData:
    return TrainingData.default("calm", quick=True)


@pytest.fixture(scope="session")
def zoo(calm_data: TrainingData) -> dict[str, Any]:
    """Every built-in agent, fitted on the quick calm data (tiny budgets)."""
    return {name: agents.make(name, mode="calm").fit(calm_data) for name in agents.AGENTS}
