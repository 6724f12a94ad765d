"""Train an agent, or load it from a cache of agent files when one was trained the same way.

Files are named `<agent>-<mode>[-quick]-<bundle fingerprint>.npz`: one cache serves several
bundles. A cached file is reused only if its header matches the agent's config, the defaults it
resolved (`resolved_settings`) and the data's catalog and observation sizes; a file that is
missing, stale or unreadable is retrained and rewritten. Agents that fine-tune another (DPO
names its reference in its config) get that reference from the same cache.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import agents
from agents.data import TrainingData
from agents.weights import AgentFileError, load_weights


def cache_path(cache: Path, name: str, data: TrainingData) -> Path:
    """Where the cache keeps agent `name` trained on `data`."""
    return cache / f"{name}-{data.mode}{'-quick' if data.quick else ''}-{data.source}.npz"


def train_or_load(
    names: list[str], data: TrainingData, cache: Path | None, progress: bool = True
) -> tuple[dict[str, Any], dict[str, float]]:
    """Every agent in `names` for `data.mode`, fitted (or read from `cache`).

    Returns:
        The agents and their fit seconds.
    """
    torch.set_num_threads(1)
    order = sorted(
        names, key=lambda n: hasattr(agents.agent_class(n), "reference_agent")
    )  # references first
    trained: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in tqdm(order, desc=f"agents ({data.mode})", disable=not progress):
        trained[name], seconds[name] = _train_or_load(
            agents.make(name, mode=data.mode, seed=data.seed), data, cache, trained
        )
    return {n: trained[n] for n in names}, seconds


def _train_or_load(
    fresh: Any, data: TrainingData, cache: Path | None, trained: dict[str, Any]
) -> tuple[Any, float]:
    """`fresh` fitted on `data` (or its cached twin), and the seconds its fit took (0 if loaded).

    An agent already in `trained` with `fresh`'s config (e.g. fitted as another's reference) is
    reused as it is.
    """
    known = trained.get(fresh.name)
    if known is not None and asdict(known.config) == asdict(fresh.config):
        return known, 0.0
    path = cache_path(cache, fresh.name, data) if cache is not None else None
    cached = _cached(path, fresh, data) if path is not None else None
    if cached is not None:
        return cached, 0.0
    started = time.perf_counter()
    if hasattr(fresh, "reference_agent"):
        reference, _ = _train_or_load(fresh.reference_agent(), data, cache, trained)
        trained.setdefault(reference.name, reference)
        fresh.use_reference(reference)
    fresh.fit(data)
    elapsed = time.perf_counter() - started
    if path is not None:
        fresh.save(path)
    return fresh, elapsed


def _cached(path: Path, fresh: Any, data: TrainingData) -> Any:
    """The agent stored at `path` if it was trained as `fresh` would be on `data`, else None.

    The file is read once.
    """
    if not path.exists():
        return None
    try:
        header, arrays = load_weights(path, fresh.name)
        trained_as = [header["config"], *map(header.get, ("resolved", "n_tracks", "obs_dim"))]
        wanted = [
            asdict(fresh.config),
            fresh.resolved_settings() or None,
            data.n_tracks,
            data.obs_dim,
        ]
        if trained_as != wanted:
            return None
        return type(fresh).from_weights(header, arrays)
    except (AgentFileError, KeyError, TypeError, ValueError) as error:
        print(f"{path}: unreadable ({error}); fitting the agent again", file=sys.stderr)
        return None  # retrain and overwrite
