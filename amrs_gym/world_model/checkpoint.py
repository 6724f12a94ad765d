"""World-model checkpoints: plain arrays plus JSON metadata in an `.npz` file.

`np.load(..., allow_pickle=False)` can only return arrays, so a checkpoint is weights
by construction: no object in it can run code when loaded. Reading needs no torch, so
the envs start without importing it; `load_checkpoint` builds the torch model.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from amrs_gym.catalog import Catalog
from amrs_gym.io import atomic_write
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.track_features import content_columns

if TYPE_CHECKING:
    from amrs_gym.world_model.model import WorldModel
    from amrs_gym.world_model.protocol import ListenerModel

FORMAT = "amrs-gym/world-model"
FORMAT_VERSION = 2
_STATE = "state/"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used.

    Unreadable, from another code version, or for another catalog.
    """


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """The contents of a checkpoint file, as numpy arrays."""

    config: WorldModelConfig
    state: dict[str, np.ndarray]
    track_features: np.ndarray  # (n_tracks, n_features)
    catalog_fingerprint: str
    card: dict[str, Any]


def save_checkpoint(
    path: str | Path,
    model: WorldModel,
    catalog_fingerprint: str,
    card: dict[str, Any] | None = None,
) -> Path:
    """Write weights, config, track features and a model card, atomically."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": asdict(model.config),
        "catalog_fingerprint": catalog_fingerprint,
        "card": card or {},
    }
    arrays = {_STATE + k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrays["track_features"] = model.track_features.detach().cpu().numpy()
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta, default=float)), **arrays)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def read_checkpoint(path: str | Path, catalog: Catalog | None = None) -> Checkpoint:
    """Read and check a checkpoint without torch.

    Args:
        path: the checkpoint file.
        catalog: when given, the checkpoint must have been trained for this catalog.

    Raises:
        CheckpointError: naming what does not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise CheckpointError(
            f"{path} is not a weights-only amrs-gym checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(
            f"{path} is not an amrs-gym world-model checkpoint (no metadata)"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an amrs-gym world-model checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {meta.get('format_version')}, this code reads "
            f"version {FORMAT_VERSION}: retrain with `python -m amrs_gym.world_model.train`"
        )
    known = {f.name for f in fields(WorldModelConfig)}
    unknown = sorted(set(meta.get("config", {})) - known)
    if unknown:
        raise CheckpointError(
            f"{path} has config fields this code does not know: {', '.join(unknown)}"
        )
    try:
        config = WorldModelConfig(**meta.get("config", {}))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid config: {exc}") from None
    features = arrays.pop("track_features", None)
    if features is None or features.ndim != 2:
        raise CheckpointError(f"{path} has no track features")
    if catalog is not None:
        content = content_columns(features, config).shape[1]
        if (features.shape[0], content) != (catalog.n_tracks, catalog.embedding_dim):
            raise CheckpointError(
                f"{path} was trained for a catalog of {features.shape[0]} tracks x "
                f"{content} features, not {catalog.n_tracks} x {catalog.embedding_dim}"
            )
        if meta.get("catalog_fingerprint") != catalog.fingerprint():
            raise CheckpointError(
                f"{path} was trained for another catalog "
                f"(fingerprint {meta.get('catalog_fingerprint')}, "
                f"this catalog's is {catalog.fingerprint()})"
            )
    state = {k.removeprefix(_STATE): v for k, v in arrays.items() if k.startswith(_STATE)}
    _check_state(path, config, features, state)
    return Checkpoint(
        config=config,
        state=state,
        track_features=features,
        catalog_fingerprint=str(meta.get("catalog_fingerprint")),
        card=dict(meta.get("card", {})),
    )


def expected_state_shapes(config: WorldModelConfig, n_features: int) -> dict[str, tuple[int, ...]]:
    """The name and shape of every array a `WorldModel` of `config` keeps.

    A test holds this to the torch module's `state_dict`.
    """
    d, ff, bins = config.d_model, config.ff_dim, config.engagement_bins

    def linear(name: str, out: int, inp: int) -> dict[str, tuple[int, ...]]:
        return {f"{name}.weight": (out, inp), f"{name}.bias": (out,)}

    def norm(name: str) -> dict[str, tuple[int, ...]]:
        return {f"{name}.weight": (d,), f"{name}.bias": (d,)}

    shapes = {
        **linear("context_track", d, n_features),
        **linear("context_feedback", d, config.feedback_dim),
        **linear("query_track", d, n_features),
        **linear("query_candidate", d, config.candidate_features),
        "mode_embedding.weight": (config.n_modes, d),
        "cohort_embedding.weight": (config.n_cohorts, d),
        **linear("start_report", d, 2),
        "start_token": (d,),
        "position_table.weight": (config.position_cap + 1, d),
        "segment.weight": (2, d),
        **norm("norm"),
        **linear("memory", 2 * d, d),
        **norm("query_norm"),
        **linear("head.0", ff, 3 * d),
        **linear("head.3", ff, ff),
        **linear("head.5", 1 + 2 * bins + 1 + 4, ff),
    }
    for i in range(config.n_layers):
        if config.encoder == "transformer":
            block = f"blocks.{i}"
            shapes |= norm(f"{block}.norm1") | norm(f"{block}.norm2")
            shapes |= linear(f"{block}.qkv", 3 * d, d) | linear(f"{block}.out", d, d)
            shapes |= linear(f"{block}.ff.0", ff, d) | linear(f"{block}.ff.2", d, ff)
        else:
            for kind in ("ih", "hh"):
                shapes[f"gru.weight_{kind}_l{i}"] = (3 * d, d)
                shapes[f"gru.bias_{kind}_l{i}"] = (3 * d,)
    return shapes


def _check_state(
    path: Path, config: WorldModelConfig, features: np.ndarray, state: dict[str, np.ndarray]
) -> None:
    """Refuse weights that do not fit `config` or are not finite, naming the array."""
    expected = expected_state_shapes(config, features.shape[1])
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(f"{path} lacks weights for its config: {', '.join(missing[:5])}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise CheckpointError(
            f"{path} holds weights its config has no use for: {', '.join(extra[:5])}"
        )
    for name, array in {"track_features": features, **state}.items():
        shape = expected.get(name, array.shape)
        if array.shape != shape:
            raise CheckpointError(
                f"{path}: {name} has shape {array.shape}, its config needs {shape}"
            )
        if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
            raise CheckpointError(f"{path}: {name} holds non-finite or non-numeric values")


def load_checkpoint(
    path: str | Path, catalog: Catalog | None = None
) -> tuple[WorldModel, dict[str, Any]]:
    """The torch model of a checkpoint (eval mode) and its card; see `read_checkpoint`."""
    checkpoint = read_checkpoint(path, catalog)
    return _torch_model(checkpoint, path), checkpoint.card


def load_listener_model(path: str | Path, catalog: Catalog | None = None) -> ListenerModel:
    """The checkpoint as a `ListenerModel`.

    The fast numpy path for a transformer that uses history (no torch import), the torch module's
    own rollout path for anything else (a GRU).
    """
    checkpoint = read_checkpoint(path, catalog)
    if checkpoint.config.encoder == "transformer" and checkpoint.config.use_history:
        from amrs_gym.world_model.rollout import NumpyRollout

        return NumpyRollout(checkpoint.config, checkpoint.state, checkpoint.track_features)
    from amrs_gym.world_model.torch_rollout import TorchRollout

    return TorchRollout(_torch_model(checkpoint, path))


def load_ensemble(paths: list[str | Path], catalog: Catalog | None = None) -> ListenerModel:
    """Checkpoints of one transformer architecture as one batched ensemble (`NumpyRollout`).

    Raises:
        CheckpointError: a member is unreadable, for another catalog, or of another architecture.
    """
    if not paths:
        raise CheckpointError("an ensemble needs at least one checkpoint")
    checkpoints = [read_checkpoint(path, catalog) for path in paths]
    first = checkpoints[0]
    if first.config.encoder != "transformer" or not first.config.use_history:
        raise CheckpointError(
            f"{paths[0]}: an ensemble runs transformer world models that use history, "
            f"not encoder={first.config.encoder!r}, use_history={first.config.use_history}"
        )
    for path, checkpoint in zip(paths[1:], checkpoints[1:], strict=True):
        if checkpoint.config != first.config:
            raise CheckpointError(
                f"{path} has another architecture than {paths[0]} (ensemble members share one)"
            )
        if not np.array_equal(checkpoint.track_features, first.track_features):
            raise CheckpointError(f"{path} has other track features than {paths[0]}")
    from amrs_gym.world_model.rollout import NumpyRollout

    return NumpyRollout.ensemble(first.config, [c.state for c in checkpoints], first.track_features)


def _torch_model(checkpoint: Checkpoint, path: str | Path) -> WorldModel:
    """The torch module of a checkpoint's arrays, in eval mode."""
    import torch

    from amrs_gym.world_model.model import WorldModel

    model = WorldModel(checkpoint.config, checkpoint.track_features)
    try:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in checkpoint.state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match this code's world model: {exc}") from None
    return model.eval()
