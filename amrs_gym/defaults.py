"""The shipped default bundle (`amrs_gym/assets`) and shortcuts to its pieces.

The default bundle's logs come from the reference world `DatasetConfig()` (2,000 listeners,
10,000 sessions, seed 0) and are regenerated from its world.json on first use (about 10 s).
`python -m amrs_gym.world_model.train --ship` rebuilds the whole bundle from that world.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from amrs_gym.bundle import Bundle
from amrs_gym.catalog import Catalog
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.splits import Split
from amrs_gym.reference_world import ProductionPolicy, ReferenceWorld

ASSETS = Path(__file__).resolve().parent / "assets"
CHECKPOINT_PATH = ASSETS / "world_model.npz"

#: the listener split of the default bundle: train/val listeners train models, test listeners
#: start episodes.
SPLIT_SEED = 0


def default_bundle() -> Bundle:
    """The shipped bundle (loaded and checked once per process)."""
    return Bundle.load(ASSETS)


def bundle_or_shipped(bundle: Bundle | str | Path | None) -> Bundle:
    """The bundle given (loaded and checked), or the shipped one for None."""
    return default_bundle() if bundle is None else Bundle.load(bundle)


def default_dataset_config() -> DatasetConfig:
    """The config of the default logs (2,000 listeners, 10,000 sessions, seed 0)."""
    return DatasetConfig()


def default_catalog() -> Catalog:
    """The shipped catalog (identical to `DatasetConfig().catalog` generated with seed 0)."""
    return default_bundle().catalog


def default_split() -> Split:
    """The listener-cold split of the default logs."""
    return default_bundle().split


def start_sessions() -> pd.DataFrame:
    """Logged sessions of held-out (test) listeners, with the latent affect before each row.

    The `latent_*` columns are for the reference-world env only, which continues the
    same listener from the same hidden state; the world-model env never reads them.
    """
    return default_bundle().start_sessions


def reference_world() -> ReferenceWorld:
    """The reference world that generated the default logs (same catalog, population, dynamics)."""
    return default_bundle().reference_world()


def production_policy() -> ProductionPolicy:
    """The policy that logged the default sessions."""
    return default_bundle().production_policy()
