"""Train the world model on logged sessions; the command line writes a simulator bundle.

    # your logs and catalog -> a bundle (about 7 min for 2,000 listeners on 2 cores)
    python -m amrs_gym.world_model.train --logs logs.parquet --catalog cat.parquet --out mine
    # the default reference world's logs -> results/bundle
    python -m amrs_gym.world_model.train
    # rebuild the shipped default bundle (amrs_gym/assets)
    python -m amrs_gym.world_model.train --ship
    # distributed data parallel (gloo, CPU)
    torchrun --nproc_per_node=2 -m amrs_gym.world_model.train

Test listeners never reach training: the listener split holds them out, and only
train/validation listeners' sessions are fitted (validation drives early stopping).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from amrs_gym.catalog import Catalog
from amrs_gym.data.splits import Split
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.features import SessionTensors, sessions_to_tensors
from amrs_gym.world_model.model import WorldModel
from amrs_gym.world_model.track_features import model_track_features
from amrs_gym.world_model.training import TrainConfig, fit


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with what produced it."""

    model: WorldModel
    history: dict[str, Any]
    config: WorldModelConfig
    train_config: TrainConfig


def fit_world_model(
    config: WorldModelConfig,
    track_features: torch.Tensor | np.ndarray,
    train: SessionTensors,
    val: SessionTensors,
    train_config: TrainConfig,
    progress: bool = True,
) -> tuple[WorldModel, dict[str, Any]]:
    """Build a world model and fit it with early stopping.

    Initialisation and dropout are seeded with `train_config.seed` and the global torch generator
    is restored after.
    """
    if config.production_propensity:
        for name, data in (("training", train), ("validation", val)):
            if torch.isnan(data.propensity[data.scored]).any():
                raise ValueError(
                    f"production_propensity needs the logging policy's propensity of every "
                    f"logged track: the {name} logs lack some (column propensity)"
                )
    with torch.random.fork_rng():
        torch.manual_seed(train_config.seed)
        model = WorldModel(config, track_features)
        history = fit(model, train, val, train_config, progress=progress)
    return model, history


def train_world_model(
    split: Split,
    catalog: Catalog,
    config: WorldModelConfig | None = None,
    train_config: TrainConfig | None = None,
    progress: bool = True,
) -> TrainedModel:
    """Fit a world model on `split.train` with early stopping on `split.val`.

    Seeded, so reproducible.
    """
    config = config or WorldModelConfig()
    train_config = train_config or TrainConfig()
    train, val = sessions_to_tensors(split.train), sessions_to_tensors(split.val)
    features = model_track_features(catalog.embeddings, config, split.train)
    model, history = fit_world_model(config, features, train, val, train_config, progress)
    return TrainedModel(model=model, history=history, config=config, train_config=train_config)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m amrs_gym.world_model.train`."""
    from amrs_gym.bundle.cli import train_bundle  # local import: the CLI needs the bundle writer

    return train_bundle(argv)


if __name__ == "__main__":
    sys.exit(main())
