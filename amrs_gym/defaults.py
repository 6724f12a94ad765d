"""The shipped defaults: the catalog, the world model checkpoint and held-out starting histories.

Everything here is regenerable from the repo: `python -m amrs_gym.world_model.train --ship`
retrains the model on the default logs and rewrites these assets.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from amrs_gym.catalog import Catalog
from amrs_gym.data.generate import DatasetConfig, LoggedDataset
from amrs_gym.data.splits import Split, split_by_listener
from amrs_gym.reference_world import ProductionPolicy, ReferenceWorld

ASSETS = Path(__file__).resolve().parent / "assets"
CATALOG_PATH = ASSETS / "catalog.parquet"
CHECKPOINT_PATH = ASSETS / "world_model.npz"
MODEL_CARD_PATH = ASSETS / "MODEL_CARD.md"
START_SESSIONS_PATH = ASSETS / "start_sessions.parquet"

#: the listener split every default artefact uses: train/val listeners train models, test
#: listeners start episodes.
SPLIT_SEED = 0


def default_dataset_config() -> DatasetConfig:
    """The config of the default logs (2,000 listeners, 10,000 sessions, seed 0)."""
    return DatasetConfig()


@lru_cache(maxsize=1)
def default_dataset() -> LoggedDataset:
    """The default logs, generated once per process (about 10 s)."""
    return default_dataset_config().create(catalog=default_catalog())


@lru_cache(maxsize=1)
def default_split() -> Split:
    """The listener-cold split of the default logs."""
    return split_by_listener(default_dataset().logs, seed=SPLIT_SEED)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped default catalog.

    It is identical to `DatasetConfig().catalog` generated with seed 0.
    """
    if CATALOG_PATH.exists():
        return Catalog.load(CATALOG_PATH)
    return default_dataset_config().build_world()[0].catalog


@lru_cache(maxsize=1)
def start_sessions() -> pd.DataFrame:
    """Logged sessions of held-out (test) listeners, with the latent affect after each row.

    The `latent_*` columns are for the reference-world env only, which continues the
    same listener from the same hidden state; the world-model env never reads them.
    """
    if not START_SESSIONS_PATH.exists():
        raise FileNotFoundError(
            f"{START_SESSIONS_PATH} is missing: run `python -m amrs_gym.world_model.train --ship`"
        )
    return pd.read_parquet(START_SESSIONS_PATH)


@lru_cache(maxsize=1)
def _world_and_policy() -> tuple[ReferenceWorld, ProductionPolicy]:
    return default_dataset_config().build_world(default_catalog())


def reference_world() -> ReferenceWorld:
    """The reference world that generated the default logs.

    Same catalog, population and dynamics.
    """
    return _world_and_policy()[0]


def production_policy() -> ProductionPolicy:
    """The policy that logged the default sessions."""
    return _world_and_policy()[1]
