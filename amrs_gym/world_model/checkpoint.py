"""Saving and safely loading world-model checkpoints (weights and plain metadata only)."""

from __future__ import annotations

import io
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from amrs_gym.catalog import Catalog
from amrs_gym.io import atomic_write
from amrs_gym.world_model.model import WorldModel, WorldModelConfig

FORMAT = "amrs-gym/world-model"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, from another code version, or for another catalog."""


def save_checkpoint(
    path: str | Path, model: WorldModel, catalog_fingerprint: str, card: dict[str, Any] | None = None
) -> Path:
    """Write weights, config, track features and a model card, atomically."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": asdict(model.config),
        "catalog_fingerprint": catalog_fingerprint,
        "track_features": model.track_features.detach().clone(),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "card": card or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def load_checkpoint(path: str | Path, catalog: Catalog | None = None) -> tuple[WorldModel, dict[str, Any]]:
    """Load a checkpoint as weights only (no arbitrary unpickling) and check it fits.

    Args:
        path: the checkpoint file.
        catalog: when given, the checkpoint must have been trained for this catalog.

    Returns:
        The model in eval mode and the checkpoint's card.

    Raises:
        CheckpointError: naming what does not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or unsafe file
        raise CheckpointError(f"{path} is not a loadable weights-only checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an amrs-gym world-model checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')}, this code reads "
            f"version {FORMAT_VERSION}: retrain with `python -m amrs_gym.world_model.train`"
        )
    known = {f.name for f in fields(WorldModelConfig)}
    raw = payload.get("config", {})
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CheckpointError(f"{path} has config fields this code does not know: {', '.join(unknown)}")
    config = WorldModelConfig(**raw)
    features = payload["track_features"]
    if catalog is not None:
        if catalog.n_tracks != features.shape[0] or catalog.embedding_dim != features.shape[1]:
            raise CheckpointError(
                f"{path} was trained for a catalog of {features.shape[0]} tracks x {features.shape[1]} "
                f"features, not {catalog.n_tracks} x {catalog.embedding_dim}"
            )
        if payload.get("catalog_fingerprint") != catalog.fingerprint():
            raise CheckpointError(
                f"{path} was trained for another catalog (fingerprint {payload.get('catalog_fingerprint')}, "
                f"this catalog's is {catalog.fingerprint()})"
            )
    model = WorldModel(config, features)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match this code's world model: {exc}") from None
    model.eval()
    return model, dict(payload.get("card", {}))
