"""Command line for logged sessions, catalogs and offline-RL datasets.

    python -m amrs_gym.data generate --out logs.parquet [--listeners N --sessions N --seed S]
        [--exploration EPS] [--catalog FILE | --new-catalog]
    python -m amrs_gym.data validate logs.parquet [--catalog catalog.parquet]
    python -m amrs_gym.data catalog (--deam DIR | --emomusic DIR) --out catalog.parquet
    python -m amrs_gym.data export --bundle BUNDLE --mode calm --format minari|d3rlpy --out DIR

`generate` keeps the shipped catalog unless given another (`--catalog`) or asked for a new
synthetic one from the seed (`--new-catalog`); NAME.config.json records the world as it ran.
Every problem is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import sys
import time

from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.logs_io import catalog_path_for, check_logs_path, read_logs, write_dataset
from amrs_gym.data.schema import LogSchemaError
from amrs_gym.modes import MODES
from amrs_gym.reference_world.production_policy import ProductionPolicyConfig
from amrs_gym.validation import out_of_memory


def _generate(args: argparse.Namespace) -> int:
    from amrs_gym import defaults

    config = DatasetConfig(
        n_listeners=args.listeners,
        n_sessions=args.sessions,
        seed=args.seed,
        policy=ProductionPolicyConfig(exploration=args.exploration),
    )
    check_logs_path(args.out)
    if args.new_catalog:
        catalog = config.resolved().catalog.create()
    else:
        catalog = Catalog.load(args.catalog) if args.catalog else defaults.default_catalog()
    start = time.perf_counter()
    dataset = config.create(catalog=catalog, progress=True)
    write_dataset(dataset, args.out)
    print(
        f"wrote {args.out}: {dataset.summary} in {time.perf_counter() - start:.1f}s; "
        f"catalog: {catalog_path_for(args.out)} ({catalog.fingerprint()})"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        logs, catalog = read_logs(args.file, args.catalog)
    except LogSchemaError as error:  # the problems are validate's report: stdout
        print("\n".join(error.problems))
        return 1
    print(
        f"valid: {args.file}: {len(logs):,} rows, {logs.session_id.nunique():,} sessions, "
        f"{logs.listener_id.nunique():,} listeners, catalog of {catalog.n_tracks:,} tracks"
    )
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from amrs_gym.data.annotated_catalog import load_annotated_catalog

    out = check_logs_path(args.out)
    if args.deam:
        catalog = load_annotated_catalog(args.deam, "deam", args.embedding_dim, args.seed)
    else:
        catalog = load_annotated_catalog(args.emomusic, "emomusic", args.embedding_dim, args.seed)
    kind = catalog.source.partition(":")[0]
    catalog.save(out)
    print(f"wrote {out}: {catalog.n_tracks:,} tracks from {kind} ({catalog.fingerprint()})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from amrs_gym.offline_data import export_logged_dataset

    written = export_logged_dataset(args.bundle, args.mode, args.format, args.out)
    print(f"wrote {written}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m amrs_gym.data`."""
    parse = argparse.ArgumentParser(
        prog="python -m amrs_gym.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parse.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="generate logs from the reference world")
    generate.add_argument("--out", required=True, help="output .parquet (catalog, config beside)")
    generate.add_argument(
        "--listeners",
        type=int,
        default=DatasetConfig.n_listeners,
        help="number of listeners, >= 1 (default: %(default)s)",
    )
    generate.add_argument(
        "--sessions",
        type=int,
        default=DatasetConfig.n_sessions,
        help="number of sessions, >= --listeners: each listener has at least one "
        "(default: %(default)s)",
    )
    generate.add_argument(
        "--seed",
        type=int,
        default=DatasetConfig.seed,
        help="master seed, >= 0: listeners, production policy, sessions, and the catalog with "
        "--new-catalog (default: %(default)s)",
    )
    generate.add_argument(
        "--exploration",
        type=float,
        default=ProductionPolicyConfig.exploration,
        help="share of the production policy's plays drawn uniformly from the catalog, in [0, 1] "
        "(default: %(default)s, the default world's)",
    )
    source = generate.add_mutually_exclusive_group()
    source.add_argument("--catalog", help="use this catalog file (default: the shipped catalog)")
    source.add_argument(
        "--new-catalog", action="store_true", help="generate a synthetic catalog from --seed"
    )
    validate = commands.add_parser("validate", help="check a log file against its catalog")
    validate.add_argument("file", help="logs, .parquet or .csv[.gz]")
    validate.add_argument("--catalog", help="catalog file (default: NAME.catalog.parquet beside)")
    catalog = commands.add_parser("catalog", help="build a catalog from real annotations")
    annotations = catalog.add_mutually_exclusive_group(required=True)
    annotations.add_argument("--deam", help="DEAM folder (static song-level annotations)")
    annotations.add_argument("--emomusic", help="emoMusic (1000 songs) folder")
    catalog.add_argument("--out", required=True, help="catalog .parquet to write")
    catalog.add_argument(
        "--embedding-dim",
        type=int,
        default=16,
        help="content embedding size (default: %(default)s)",
    )
    catalog.add_argument(
        "--seed", type=int, default=0, help="seed of the feature projection (default: %(default)s)"
    )
    export = commands.add_parser("export", help="a mode's logged sessions as offline-RL data")
    export.add_argument("--bundle", required=True, help="bundle directory")
    export.add_argument("--mode", required=True, choices=MODES)
    export.add_argument("--format", required=True, choices=["minari", "d3rlpy"])
    export.add_argument("--out", required=True, help="output directory")
    return parse


COMMANDS = {"generate": _generate, "validate": _validate, "catalog": _catalog, "export": _export}


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m amrs_gym.data`; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LogSchemaError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except (ValueError, CatalogError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except MemoryError as error:  # e.g. logs of millions of sessions: say so, not a traceback
        print(f"error: {out_of_memory(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
