"""The `train` command line: logs and a catalog in, a simulator bundle out.

Every problem is one line on stderr and a non-zero exit, before any long work where it can be.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym import defaults
from amrs_gym.bundle.build import BuildSettings, BundleSource, build_bundle, check_bundle_dir
from amrs_gym.bundle.bundle import config_from_dict, frame_fingerprint
from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.logs_io import config_path_for, read_logs
from amrs_gym.data.schema import LOG_COLUMNS, LogSchemaError
from amrs_gym.validation import out_of_memory
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.training import TrainConfig

QUICK_LISTENERS = 200
"""Listeners kept by `--quick` (tests and trying the path out)."""
QUICK_EPOCHS = 2
SHIPPED_MEMBERS = 5
"""Ensemble size of the shipped bundle: the usual size in offline model-based RL (MOPO, MOReL use
5-7), not validated here; `--members` sets another."""


def parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m amrs_gym.world_model.train`."""
    from amrs_gym.world_model import train

    parse = argparse.ArgumentParser(
        prog="python -m amrs_gym.world_model.train",
        description=train.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument(
        "--logs",
        help="logged sessions, .parquet or .csv[.gz] (default: generate the default reference "
        "world's logs)",
    )
    parse.add_argument(
        "--catalog",
        help="catalog parquet/CSV (default: NAME.catalog.parquet beside --logs, else the shipped "
        "catalog)",
    )
    parse.add_argument("--out", help="bundle directory to write (default results/bundle)")
    parse.add_argument(
        "--ship", action="store_true", help="rebuild the shipped default bundle (amrs_gym/assets)"
    )
    parse.add_argument(
        "--epochs", type=int, help=f"most epochs (default {TrainConfig.epochs}; --quick: 2)"
    )
    parse.add_argument("--seed", type=int, default=TrainConfig.seed, help="seed of training")
    parse.add_argument(
        "--split-seed", type=int, default=defaults.SPLIT_SEED, help="seed of the listener split"
    )
    parse.add_argument("--encoder", choices=["transformer", "gru"], default="transformer")
    parse.add_argument(
        "--workers", type=int, default=2, help="1: train the models one by one; 2: two at once"
    )
    parse.add_argument(
        "--members",
        type=int,
        help="ensemble size, the world model included (default 1; --ship: "
        f"{SHIPPED_MEMBERS}); each further member trains with its own seed (about 6 min per "
        "member on one core for 2,000 listeners); pessimism needs >= 2",
    )
    parse.add_argument(
        "--bootstrap",
        action="store_true",
        help="train members 2..K on bootstraps of the training listeners too (off: on the shipped "
        "logs bootstrap members overfit; benchmarks/NOTES.md)",
    )
    parse.add_argument(
        "--track-popularity",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the world model also reads each track's popularity in the training logs (default "
        "on: chosen on validation loss on the shipped logs, benchmarks/NOTES.md)",
    )
    parse.add_argument(
        "--production-propensity",
        action=argparse.BooleanOptionalAction,
        help="the world model also reads the production policy's propensity of each candidate "
        "(default off; --ship: on). Needs logs with propensities, and the simulator then needs "
        "a production policy to ask: the bundle's reference world or `production=`. Removes "
        "most of the logs' confounding (benchmarks/NOTES.md)",
    )
    parse.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_LISTENERS} listeners and {QUICK_EPOCHS} epochs (unless --epochs): to try it",
    )
    return parse


def train_bundle(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parse = parser()
    args = parse.parse_args(argv)
    conflicts = _ship_conflicts(args)
    if args.ship and conflicts:
        print(
            f"error: --ship rebuilds the shipped bundle as it is: drop {conflicts}", file=sys.stderr
        )
        return 2
    command = "python -m amrs_gym.world_model.train " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    try:
        epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else None)
        training = TrainConfig(seed=args.seed, **({} if epochs is None else {"epochs": epochs}))
        if args.workers not in (1, 2):
            raise ValueError(f"--workers must be 1 or 2, got {args.workers}")
        if args.split_seed < 0:
            raise ValueError(f"--split-seed must be >= 0, got {args.split_seed}")
        members = (
            args.members if args.members is not None else (SHIPPED_MEMBERS if args.ship else 1)
        )
        settings = BuildSettings(
            model_config(args),
            training,
            args.split_seed,
            args.workers,
            members,
            args.bootstrap,
        )
        out = check_bundle_dir(defaults.ASSETS if args.ship else args.out or "results/bundle")
        source = _logged_source(args) if args.logs else _generated_source(args)
        started = time.perf_counter()
        bundle = build_bundle(out, source, settings, command=command.strip())
    except LogSchemaError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except (ValueError, CatalogError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # e.g. logs of millions of sessions: say so, not a traceback
        print(f"error: {out_of_memory(error)}", file=sys.stderr)
        return 2
    if bundle is None:  # a torchrun process other than the first
        return 0
    card = bundle.fidelity
    print(
        f"wrote bundle {out} (fingerprint {bundle.fingerprint}, {bundle.catalog.n_tracks} tracks, "
        f"truth: {'yes' if bundle.has_truth else 'no'}) in {time.perf_counter() - started:.0f}s"
    )
    print(
        json.dumps(
            {
                name: {m: _rounded(card[name][m]) for m in ("engagement_auc", "valence_mae")}
                for name in ("world_model", "history_free", "oracle")
                if name in card
            }
        )
    )
    return 0


def model_config(args: argparse.Namespace) -> WorldModelConfig:
    """The world model the command line asks for (`--ship`: the shipped one's inputs)."""
    propensity = args.production_propensity
    return WorldModelConfig(
        encoder=args.encoder,
        track_popularity=args.track_popularity,
        production_propensity=args.ship if propensity is None else propensity,
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ship_conflicts(args: argparse.Namespace) -> str:
    """The options given that `--ship` refuses (it rebuilds the shipped bundle as it is)."""
    given = {
        "--logs": args.logs,
        "--catalog": args.catalog,
        "--out": args.out,
        "--quick": args.quick,
        "--epochs": args.epochs is not None,
        "--seed": args.seed != TrainConfig.seed,
        "--split-seed": args.split_seed != defaults.SPLIT_SEED,
        "--encoder": args.encoder != "transformer",
        "--members": args.members is not None,
        "--bootstrap": args.bootstrap,
        "--no-track-popularity": not args.track_popularity,
        "--no-production-propensity": args.production_propensity is False,
    }
    return ", ".join(name for name, value in given.items() if value)


def _generated_source(args: argparse.Namespace) -> BundleSource:
    """The default reference world's logs (small with --quick), generated now, with their truth."""
    config = defaults.default_dataset_config()
    if args.quick:
        config = DatasetConfig(n_listeners=QUICK_LISTENERS, n_sessions=5 * QUICK_LISTENERS)
    catalog = Catalog.load(args.catalog) if args.catalog else defaults.default_catalog()
    dataset = config.create(catalog=catalog, progress=True)
    return BundleSource(
        logs=pd.concat([dataset.logs, dataset.latent], axis=1),
        catalog=catalog,
        description=f"the reference world DatasetConfig(n_listeners={config.n_listeners}, "
        f"n_sessions={config.n_sessions}, seed={config.seed}) on catalog {catalog.fingerprint()}",
        world=config,
        regenerate_logs=args.ship,
    )


def _logged_source(args: argparse.Namespace) -> BundleSource:
    """A log file (validated), with its reference world when its config.json regenerates it."""
    logs, catalog = read_logs(args.logs, args.catalog)
    world, frame = _truth(Path(args.logs), logs, catalog)
    if args.quick:
        listeners = np.sort(frame["listener_id"].unique())
        keep = np.random.default_rng(args.seed).choice(
            listeners, size=min(QUICK_LISTENERS, len(listeners)), replace=False
        )
        frame = frame[frame["listener_id"].isin(keep)].reset_index(drop=True)
    return BundleSource(
        logs=frame,
        catalog=catalog,
        description=f"logs {args.logs} ({frame['listener_id'].nunique():,} listeners), "
        f"catalog {catalog.source}",
        world=world,
    )


def _truth(
    path: Path, logs: pd.DataFrame, catalog: Catalog
) -> tuple[DatasetConfig | None, pd.DataFrame]:
    """The world config beside `path` and `logs` with its latent columns, if it regenerates them.

    Otherwise (no config, another catalog, or logs that were edited) None and `logs` alone.
    """
    record_file = config_path_for(path)
    if not record_file.is_file():
        return None, logs
    try:
        record = json.loads(record_file.read_text())
        config: DatasetConfig = config_from_dict(DatasetConfig, record["dataset"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"note: {record_file} is not a world config ({error}): no truth", file=sys.stderr)
        return None, logs
    if record.get("catalog", {}).get("fingerprint") != catalog.fingerprint():
        print(f"note: {record_file} is for another catalog: no truth attached", file=sys.stderr)
        return None, logs
    dataset = config.create(catalog=catalog, progress=True)
    columns = list(LOG_COLUMNS)
    regenerated = dataset.logs.sort_values(["session_id", "position"], kind="stable")
    if frame_fingerprint(regenerated[columns].reset_index(drop=True)) != frame_fingerprint(
        logs[columns]
    ):
        print(
            f"note: {record_file} does not regenerate these logs (edited?): no truth attached",
            file=sys.stderr,
        )
        return None, logs
    latent = dataset.latent.loc[regenerated.index].reset_index(drop=True)
    return config, pd.concat([logs, latent], axis=1)
