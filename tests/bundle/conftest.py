"""Small bundles built once per session: one from generated logs with their reference world, one
from the same logs as a platform would have them (CSV, no propensities, no world config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from amrs_gym import defaults
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.logs_io import write_dataset

EMOMUSIC = Path(__file__).resolve().parents[3] / "shared" / "data" / "emomusic_1000songs"


def train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m amrs_gym.world_model.train ARGS`, captured."""
    return subprocess.run(
        [sys.executable, "-m", "amrs_gym.world_model.train", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    """Generated logs (150 listeners) on the shipped catalog, with their config.json."""
    folder = tmp_path_factory.mktemp("logs")
    dataset = DatasetConfig(n_listeners=150, n_sessions=600, seed=5).create(
        catalog=defaults.default_catalog()
    )
    write_dataset(dataset, folder / "logs.parquet")
    return folder


@pytest.fixture(scope="session")
def truth_bundle(logs_dir) -> Path:
    """A bundle of the generated logs: its world config regenerates them, so it has a truth."""
    result = train("--logs", "logs.parquet", "--out", "bundle", "--epochs", "1", cwd=logs_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return logs_dir / "bundle"


@pytest.fixture(scope="session")
def platform_bundle(logs_dir) -> Path:
    """The same logs as a platform has them: CSV, no propensity column, no world config; built
    with a two-member ensemble."""
    import pandas as pd

    logs = pd.read_parquet(logs_dir / "logs.parquet").drop(columns=["propensity"])
    logs.to_csv(logs_dir / "platform.csv", index=False)
    result = train(
        "--logs",
        "platform.csv",
        "--catalog",
        "logs.catalog.parquet",
        "--out",
        "platform_bundle",
        "--epochs",
        "1",
        "--members",
        "2",
        cwd=logs_dir,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return logs_dir / "platform_bundle"
