"""Train the world model on logged sessions.

    # default logs -> results/world_model.npz
    python -m amrs_gym.world_model.train
    python -m amrs_gym.world_model.train --logs logs.parquet --out model.npz
    # rewrite the packaged checkpoint and assets
    python -m amrs_gym.world_model.train --ship
    # distributed data parallel (gloo, CPU)
    torchrun --nproc_per_node=2 -m amrs_gym.world_model.train

Test listeners never reach training: the listener split holds them out, and only
train/validation listeners' sessions are fitted (validation drives early stopping).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amrs_gym.catalog import Catalog
from amrs_gym.data.logs_io import read_logs
from amrs_gym.data.schema import LogSchemaError
from amrs_gym.data.splits import Split, split_by_listener
from amrs_gym.world_model.checkpoint import save_checkpoint
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.features import SessionTensors, sessions_to_tensors
from amrs_gym.world_model.model import WorldModel
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
    model, history = fit_world_model(config, catalog.embeddings, train, val, train_config, progress)
    return TrainedModel(model=model, history=history, config=config, train_config=train_config)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m amrs_gym.world_model.train`."""
    parser = argparse.ArgumentParser(
        prog="python -m amrs_gym.world_model.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--logs", help="log parquet (default: generate the default logs)")
    parser.add_argument("--out", default="results/world_model.npz", help="checkpoint to write")
    parser.add_argument(
        "--ship", action="store_true", help="write the packaged assets instead of --out"
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--encoder", choices=["transformer", "gru"], default="transformer")
    parser.add_argument(
        "--quick", action="store_true", help="a small run for tests (few sessions and epochs)"
    )
    args = parser.parse_args(argv)
    if args.ship and (args.logs or args.quick):
        parser.error("--ship rewrites the packaged default: it takes neither --logs nor --quick")

    from amrs_gym import defaults  # local import: builds the default logs only when needed

    rank = int(os.environ.get("RANK", "0"))
    if args.logs:
        try:
            logs, catalog = read_logs(args.logs)
        except LogSchemaError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            return 1
        split = split_by_listener(logs, seed=defaults.SPLIT_SEED)
    else:
        dataset_config = defaults.default_dataset_config()
        if args.quick:
            dataset_config = replace(dataset_config, n_listeners=200, n_sessions=600)
        catalog = defaults.default_catalog()
        dataset = dataset_config.create(catalog=catalog)
        split = split_by_listener(dataset.logs, seed=defaults.SPLIT_SEED)
    train_config = replace(TrainConfig(), epochs=2 if args.quick else args.epochs, seed=args.seed)
    started = time.perf_counter()
    trained = train_world_model(
        split, catalog, WorldModelConfig(encoder=args.encoder), train_config
    )
    seconds = time.perf_counter() - started
    if rank != 0:
        return 0
    card = {
        "data": args.logs or "default logs (DatasetConfig(), seed 0), listener split seed 0",
        "train_sessions": int(split.train["session_id"].nunique()),
        "val_sessions": int(split.val["session_id"].nunique()),
        "config": asdict(trained.config),
        "train_config": asdict(train_config),
        "best_epoch": trained.history["best_epoch"],
        "best_val_loss": trained.history["best_val_loss"],
        "train_seconds": seconds,
        "world_size": trained.history["world_size"],
        "command": "python -m amrs_gym.world_model.train "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = defaults.CHECKPOINT_PATH if args.ship else Path(args.out)
    save_checkpoint(out, trained.model, catalog.fingerprint(), card)
    if args.ship:
        from amrs_gym.world_model.shipping import write_assets

        write_assets(dataset, split, card)
    print(
        f"wrote {out} (best epoch {card['best_epoch']}, "
        f"val loss {card['best_val_loss']:.4f}, {seconds:.0f}s)"
    )
    print(json.dumps({k: card[k] for k in ("train_sessions", "val_sessions", "train_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
