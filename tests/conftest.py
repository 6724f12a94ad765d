"""Shared fixtures: a small generated dataset (a few hundred listeners) for fast tests."""

from __future__ import annotations

import pytest

from amrs_gym.data.generate import DatasetConfig, LoggedDataset


@pytest.fixture(scope="session")
def small_dataset() -> LoggedDataset:
    """400 listeners, 2,000 sessions, seed 0: enough rows for the datasheet's statistical claims."""
    return DatasetConfig(n_listeners=400, n_sessions=2000, seed=0).create()
