"""Fixtures of the SkipSession baseline tests.

Tiny random logs, and the registered env on the default logs.
"""

from __future__ import annotations

import gymnasium
import pandas as pd
import pytest

import amrs_gym  # noqa: F401 (registers the ids)
from amrs_gym.catalog import Catalog
from amrs_gym.envs.skip_session import SkipSessionEnv
from tests.skip_logs import hand_made_logs, random_logs, tiny_catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """A 40-track synthetic catalog."""
    return tiny_catalog()


@pytest.fixture(scope="module")
def logs() -> pd.DataFrame:
    """300 random sessions of 8 tracks."""
    return random_logs(300, 8, seed=0)


@pytest.fixture(scope="module")
def hand_made() -> pd.DataFrame:
    """After track 0 kept, track 1 is always skipped; after track 5 kept, always kept."""
    return hand_made_logs()


@pytest.fixture()
def env(logs: pd.DataFrame, catalog: Catalog) -> SkipSessionEnv:
    """A SkipSessionEnv on the random tiny logs."""
    return SkipSessionEnv(logs=logs, catalog=catalog)


@pytest.fixture(scope="session")
def default_env() -> SkipSessionEnv:
    """The registered env on the default logs (builds the default logs once)."""
    made = gymnasium.make("AMRS-SkipSession-v0")
    assert isinstance(made.unwrapped, SkipSessionEnv)
    return made.unwrapped
