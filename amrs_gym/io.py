"""Atomic file writes: a reader never sees a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    atomic_write_many({path: write})
    return path


def atomic_write_many(writers: dict[Path, Callable[[Path], object]]) -> None:
    """Write several files as one: every `write(tmp)` runs first, then the renames.

    A failure while writing changes no file; the renames follow one another at once.
    """
    staged: dict[Path, Path] = {}
    try:
        for path, write in writers.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(
                    prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
                )
            except OSError as error:  # name the file asked for, not the temporary one
                raise OSError(error.errno, f"cannot write {path}: {error.strerror}") from None
            os.close(fd)
            staged[path] = Path(tmp_name)
            write(staged[path])
            _publishable(staged[path])
        for path, tmp in staged.items():
            os.replace(tmp, path)
            _fsync(path.parent)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def ordinary_permissions(path: Path, directory: bool = False) -> None:
    """The permissions a new file (or directory) gets under the umask.

    Temporaries are created private (0600, 0700).
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


def _publishable(tmp: Path) -> None:
    """Give a temporary file ordinary permissions and flush it."""
    ordinary_permissions(tmp)
    _fsync(tmp)


def _fsync(path: Path) -> None:
    """Flush a file's (or a directory's) data to the disk, where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories
    finally:
        os.close(fd)


def prepare_output_dir(path: str | Path, name: str = "--out") -> Path:
    """Create the directory `path` if needed and check it is writable, before any long work.

    Raises:
        ValueError: one line naming the option, the path and what is wrong.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-check.", delete=True)
        probe.close()
    except OSError as error:
        raise ValueError(f"{name} {path}: cannot write there ({error.strerror or error})") from None
    return path


def atomic_write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as parquet, atomically."""
    return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write text (UTF-8), atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(data: Any, path: str | Path) -> Path:
    """Write JSON with sorted keys and indentation, atomically."""
    return atomic_write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n", path)


def pyplot() -> Any:
    """Matplotlib's pyplot on the file-only Agg backend (imported on first use.

    It is slow to import).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path, dpi: int = 110) -> None:
    """Write a figure as PNG, atomically, and free it."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))
    pyplot().close(figure)
