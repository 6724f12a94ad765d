"""Reading and writing log files: parquet (or CSV) logs with their catalog beside them.

Validated on load; written all at once (logs, catalog and config appear together or not at all).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import DatasetConfig, LoggedDataset
from amrs_gym.data.schema import LogSchemaError, validate_logs
from amrs_gym.io import atomic_write_many, prepare_output_dir

LOG_SUFFIXES = (".parquet", ".csv", ".csv.gz")


def _stem(path: Path) -> str:
    for suffix in LOG_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name.removesuffix(suffix)
    return path.name


def catalog_path_for(logs_path: str | Path) -> Path:
    """Where the catalog of a log file lives: `NAME.catalog.parquet` beside `NAME.parquet`."""
    path = Path(logs_path)
    return path.with_name(_stem(path) + ".catalog.parquet")


def config_path_for(logs_path: str | Path) -> Path:
    """Where `generate` records the world behind a log file: `NAME.config.json`."""
    path = Path(logs_path)
    return path.with_name(_stem(path) + ".config.json")


def check_logs_path(path: str | Path, name: str = "--out") -> Path:
    """Check before the work that a log file can be written at `path` (a .parquet file).

    Raises:
        ValueError: one line naming the option, the path and what is wrong.
    """
    path = Path(path)
    if not path.name.endswith(".parquet"):
        raise ValueError(f"{name} {path}: must end in .parquet")
    if path.is_dir():
        raise ValueError(f"{name} {path}: is a directory")
    prepare_output_dir(path.parent, name)
    return path


def write_dataset(dataset: LoggedDataset, path: str | Path) -> Path:
    """Write logs, their catalog and the world's config (`world_record`) together, atomically."""
    path = Path(path)
    atomic_write_many(
        {
            catalog_path_for(path): lambda tmp: tmp.write_bytes(
                _parquet(dataset.catalog.to_frame())
            ),
            config_path_for(path): lambda tmp: tmp.write_text(
                json.dumps(world_record(dataset.config, dataset.catalog), indent=2, sort_keys=True)
                + "\n"
            ),
            path: lambda tmp: tmp.write_bytes(_parquet(dataset.logs)),
        }
    )
    return path


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def world_record(config: DatasetConfig, catalog: Catalog) -> dict[str, Any]:
    """What a log file's config.json records: the world's config as it ran, and its catalog.

    The config's `catalog` part is kept only when the catalog was generated from it.
    """
    dataset = asdict(config.resolved())
    generated = config.resolved().catalog.create().fingerprint() == catalog.fingerprint()
    if not generated:
        del dataset["catalog"]
    return {
        "dataset": dataset,
        "catalog": {
            "fingerprint": catalog.fingerprint(),
            "n_tracks": catalog.n_tracks,
            "source": "generated from dataset.catalog" if generated else catalog.source,
        },
    }


def read_table(path: Path) -> pd.DataFrame:
    """A parquet or CSV (.csv, .csv.gz) file as a frame.

    Raises:
        LogSchemaError: the file is missing, of another kind, or unreadable.
    """
    if not path.is_file():
        raise LogSchemaError([f"file: not found: {path}"])
    if not path.name.endswith(LOG_SUFFIXES):
        raise LogSchemaError(
            [f"file: {path}: expected one of {', '.join(LOG_SUFFIXES)} (parquet or CSV)"]
        )
    try:
        if path.name.endswith(".parquet"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pyarrow and the CSV reader raise many unrelated types
        raise LogSchemaError(
            [f"file: {path} is not readable ({type(exc).__name__}: {exc})"]
        ) from None


def read_logs(
    path: str | Path, catalog: Catalog | str | Path | None = None
) -> tuple[pd.DataFrame, Catalog]:
    """Load and validate a log file against its catalog (by default the one written beside it).

    Raises:
        LogSchemaError: one line per problem, each naming the file or column.
    """
    path = Path(path)
    if not path.is_file():
        raise LogSchemaError([f"file: not found: {path}"])
    if not isinstance(catalog, Catalog):
        catalog_file = Path(catalog) if catalog is not None else catalog_path_for(path)
        if catalog is None and not catalog_file.is_file():
            raise LogSchemaError(
                [f"catalog: no {catalog_file.name} beside {path}: pass the catalog with --catalog"]
            )
        try:
            catalog = Catalog.load(catalog_file)
        except CatalogError as exc:
            raise LogSchemaError([f"catalog: {exc}"]) from None
    return validate_logs(read_table(path), catalog.n_tracks), catalog
