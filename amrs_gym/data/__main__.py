"""Command line for logged sessions.

python -m amrs_gym.data generate --out logs.parquet [--listeners N --sessions N --seed S]
python -m amrs_gym.data validate logs.parquet [--catalog catalog.parquet]
"""

from __future__ import annotations

import argparse
import sys
import time

from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.logs_io import catalog_path_for, read_logs, write_dataset
from amrs_gym.data.schema import LogSchemaError


def _generate(args: argparse.Namespace) -> int:
    try:
        config = DatasetConfig(n_listeners=args.listeners, n_sessions=args.sessions, seed=args.seed)
        catalog = Catalog.load(args.catalog) if args.catalog else None
    except (ValueError, CatalogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    dataset = config.create(catalog=catalog, progress=True)
    write_dataset(dataset, args.out)
    print(
        f"wrote {args.out}: {dataset.summary} in {time.perf_counter() - start:.1f}s; "
        f"catalog: {catalog_path_for(args.out)}"
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    try:
        logs, catalog = read_logs(args.file, args.catalog)
    except LogSchemaError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    print(
        f"valid: {args.file}: {len(logs):,} rows, {logs.session_id.nunique():,} sessions, "
        f"{logs.listener_id.nunique():,} listeners, catalog of {catalog.n_tracks:,} tracks"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m amrs_gym.data`."""
    parser = argparse.ArgumentParser(
        prog="python -m amrs_gym.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="generate logs from the reference world")
    generate.add_argument(
        "--out", required=True, help="output parquet file (catalog written beside it)"
    )
    generate.add_argument("--listeners", type=int, default=DatasetConfig.n_listeners)
    generate.add_argument("--sessions", type=int, default=DatasetConfig.n_sessions)
    generate.add_argument("--seed", type=int, default=DatasetConfig.seed)
    generate.add_argument("--catalog", help="use this catalog parquet instead of the synthetic one")
    validate = commands.add_parser(
        "validate", help="check a log file against the schema and its catalog"
    )
    validate.add_argument("file")
    validate.add_argument("--catalog", help="catalog parquet (default: the one beside the file)")
    args = parser.parse_args(argv)
    return _generate(args) if args.command == "generate" else _validate(args)


if __name__ == "__main__":
    sys.exit(main())
