"""Weights-only agent files: named arrays plus a JSON header in one `.npz`, never a pickle."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from amrs_gym.io import atomic_write

WEIGHTS_FORMAT = 2
"""Version 2 records the catalog size and observation size the agent was trained for."""


class AgentFileError(ValueError):
    """An agent file that cannot be used.

    Unreadable, from another code version, or another agent's.
    """


def save_weights(
    path: str | Path,
    kind: str,
    mode: str,
    config: Any,
    arrays: dict[str, np.ndarray],
    resolved: dict[str, Any] | None = None,
    **sizes: int | None,
) -> None:
    """Write arrays plus a JSON header to one `.npz`, atomically.

    The header holds the agent kind, mode, config, the settings the config left to module
    defaults as training resolved them (`resolved`), and sizes.
    """
    header = {
        "format": WEIGHTS_FORMAT,
        "kind": kind,
        "mode": mode,
        "config": asdict(config),
        **({"resolved": resolved} if resolved else {}),
        **sizes,
    }
    payload = {f"array/{k}": np.asarray(v) for k, v in arrays.items()}
    payload["header"] = np.array(json.dumps(header))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **payload)  # type: ignore[arg-type]  # a str-keyed mapping of arrays

    atomic_write(path, write)


def load_weights(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by `save_weights` without unpickling anything.

    Another agent's file is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no agent file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            arrays = {
                k.removeprefix("array/"): archive[k]
                for k in archive.files
                if k.startswith("array/")
            }
    except (
        ValueError,
        KeyError,
        OSError,
        EOFError,
        NotImplementedError,
        zipfile.BadZipFile,
    ) as error:
        raise AgentFileError(
            f"{path} is not an amrs-gym agent file ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(header, dict):
        raise AgentFileError(
            f"{path} is not an amrs-gym agent file (its header is not a JSON object)"
        )
    if header.get("format") != WEIGHTS_FORMAT:
        raise AgentFileError(
            f"{path} has agent file format {header.get('format')}, "
            f"this code reads {WEIGHTS_FORMAT}: retrain it"
        )
    if header.get("kind") != kind:
        raise AgentFileError(f"{path} holds a {header.get('kind')!r} agent, not {kind!r}")
    return header, arrays


def module_arrays(module: nn.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's parameters and buffers as numpy arrays."""
    return {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module: nn.Module, arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    """Load arrays from `module_arrays` into `module`; a clear error if the shapes do not fit."""
    state = {
        k.removeprefix(prefix): torch.from_numpy(v)
        for k, v in arrays.items()
        if k.startswith(prefix)
    }
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise AgentFileError(
            f"agent weights do not fit this network: {str(error).splitlines()[0]}"
        ) from None
