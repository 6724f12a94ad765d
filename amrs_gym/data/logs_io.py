"""Reading and writing log files: parquet logs with their catalog beside them, validated on load."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import LoggedDataset
from amrs_gym.data.schema import LogSchemaError, validate_logs
from amrs_gym.io import atomic_write_json, atomic_write_parquet


def catalog_path_for(logs_path: str | Path) -> Path:
    """Where the catalog of a log file lives: `NAME.catalog.parquet` beside `NAME.parquet`."""
    path = Path(logs_path)
    return path.with_name(path.name.removesuffix(".parquet") + ".catalog.parquet")


def write_dataset(dataset: LoggedDataset, path: str | Path) -> Path:
    """Write logs, their catalog and the generating config (JSON) beside each other, atomically."""
    path = Path(path)
    dataset.catalog.save(catalog_path_for(path))
    atomic_write_json(
        asdict(dataset.config), path.with_name(path.name.removesuffix(".parquet") + ".config.json")
    )
    atomic_write_parquet(dataset.logs, path)
    return path


def read_logs(
    path: str | Path, catalog: Catalog | str | Path | None = None
) -> tuple[pd.DataFrame, Catalog]:
    """Load and validate a log file against its catalog (by default the one written beside it).

    Raises:
        LogSchemaError: one line per problem, each naming the file or column.
    """
    path = Path(path)
    if not path.exists():
        raise LogSchemaError([f"file: not found: {path}"])
    if not isinstance(catalog, Catalog):
        catalog_file = Path(catalog) if catalog is not None else catalog_path_for(path)
        try:
            catalog = Catalog.load(catalog_file)
        except CatalogError as exc:
            raise LogSchemaError([f"catalog: {exc}"]) from None
    try:
        logs = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise LogSchemaError(
            [f"file: not a readable parquet file ({type(exc).__name__}: {exc})"]
        ) from None
    return validate_logs(logs, catalog.n_tracks), catalog
