"""What every benchmark writes beside its figures: provenance, and markdown tables."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from amrs_gym.io import atomic_write, atomic_write_json, atomic_write_text

PACKAGES = ("amrs-gym", "torch", "numpy", "pandas", "gymnasium", "stable-baselines3", "d3rlpy", "scikit-learn")


def provenance(args: Any) -> dict[str, Any]:
    """Config, git commit, package versions and device of a run."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
    except OSError:
        commit = None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "config": asdict(args) if is_dataclass(args) else dict(vars(args)),
        "git_commit": commit,
        "versions": versions,
        "device": "cpu",
        "python": platform.python_version(),
        "command": _command(),
    }


def _command() -> str:
    """How this process was started, as `python -m module args` when run as a module."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    target = ["-m", spec.name] if spec is not None else sys.argv[:1]
    return " ".join(["python", *target, *sys.argv[1:]])


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats get 3 decimals."""

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path, dpi: int = 110) -> None:
    """Write a figure as PNG, atomically, and free it."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))
    pyplot().close(figure)


def write_outputs(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> None:
    """Write `<name>.json` and `<name>.md` atomically into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(data, out_dir / f"{name}.json")
    atomic_write_text(markdown.rstrip() + "\n", out_dir / f"{name}.md")
