"""Build a bundle from logs and a catalog.

Validate the logs, split listeners (test listeners are never trained on), train the world model
and its history-free twin (in two processes), score both on the test listeners (the fidelity
card), then write every piece into a fresh directory and move it into place in one rename.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from amrs_gym.bundle import bundle as layout
from amrs_gym.bundle.bundle import Bundle, file_sha256, frame_fingerprint, pieces_fingerprint
from amrs_gym.bundle.fidelity import card_markdown, fidelity_card
from amrs_gym.bundle.model_card import model_card
from amrs_gym.catalog import Catalog
from amrs_gym.data.generate import LATENT_COLUMNS, DatasetConfig
from amrs_gym.data.logs_io import world_record
from amrs_gym.data.schema import LOG_COLUMNS, validate_logs
from amrs_gym.data.splits import Split, bootstrap_listeners, split_by_listener
from amrs_gym.io import (
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    ordinary_permissions,
)
from amrs_gym.validation import check_int
from amrs_gym.world_model.checkpoint import save_checkpoint
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel
from amrs_gym.world_model.track_features import model_track_features
from amrs_gym.world_model.train import fit_world_model
from amrs_gym.world_model.training import TrainConfig


@dataclass(frozen=True)
class BundleSource:
    """The logs a bundle is built from, and what is known about where they came from."""

    logs: pd.DataFrame
    """Logged sessions (the schema of data/README.md); may carry the latent columns too."""
    catalog: Catalog
    description: str
    """Where the logs came from, in words (recorded in the manifest and model card)."""
    world: DatasetConfig | None = None
    """The reference world's config when the logs came from one (the truth can be rebuilt)."""
    regenerate_logs: bool = False
    """Store world.json only and regenerate the logs from it (the shipped default: small)."""


@dataclass(frozen=True)
class BuildSettings:
    """How to split and train."""

    model: WorldModelConfig = field(default_factory=lambda: WorldModelConfig(track_popularity=True))
    """The world model; a bundle's reads track popularity by default (chosen on validation loss
    on the shipped logs: benchmarks/NOTES.md "The world model's tracks")."""
    training: TrainConfig = field(default_factory=TrainConfig)
    split_seed: int = 0
    """Seed of the listener split (the shipped bundle uses 0)."""
    workers: int = 2
    """Processes: 2 trains two models at once (one torch thread each)."""
    members: int = 1
    """Ensemble size, the world model included: members 2..K are fitted with seeds
    `training.seed + 1..K-1` (their disagreement is the simulator's epistemic uncertainty;
    `pessimism` needs K >= 2)."""
    bootstrap: bool = False
    """Fit members 2..K on bootstraps of the training listeners too. Off by default: on the shipped
    logs a bootstrap member overfits the listeners it repeats (validation loss -0.93 to -0.97
    against the full-data model's -1.09; benchmarks/NOTES.md), as Lakshminarayanan et al. (2017)
    found for deep ensembles."""

    def __post_init__(self) -> None:
        check_int("members", self.members, 1, layout.MAX_MEMBERS)
        check_int("split_seed", self.split_seed, 0)
        if self.members > 1 and self.model.encoder != "transformer":
            raise ValueError(
                f"members={self.members} needs the transformer encoder (an ensemble runs as one "
                f"batched numpy computation), not {self.model.encoder!r}"
            )
        check_int("workers", self.workers, 1, 2)


def check_bundle_dir(path: str | Path) -> Path:
    """Check, before any work, that a bundle can be written at `path`.

    Raises:
        ValueError: one line naming the path and what is wrong.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / layout.MANIFEST).is_file():
        raise ValueError(
            f"--out {path}: a non-empty directory that is not a bundle (refusing to replace it)"
        )
    existing = path.resolve().parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"--out {path}: cannot write there ({existing} is not a writable directory)"
        )
    try:  # access() can say yes where writing fails (a root user on /proc, a read-only mount)
        os.rmdir(tempfile.mkdtemp(prefix=".amrs-probe-", dir=existing))
    except OSError as error:
        raise ValueError(f"--out {path}: cannot write there ({error.strerror})") from None
    return path


def _fit(
    job: tuple[WorldModelConfig, np.ndarray, Any, Any, TrainConfig, bool],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train one model (in a worker process or this one); its weights as arrays and history."""
    config, features, train, val, train_config, progress = job
    torch.set_num_threads(1)
    model, history = fit_world_model(config, features, train, val, train_config, progress)
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}, history


def member_name(index: int) -> str:
    """The name of ensemble member `index` (1..K-1; member 0 is "world_model")."""
    return f"member_{index}"


def train_models(
    split: Split,
    catalog: Catalog,
    settings: BuildSettings,
    progress: bool = True,
    names: tuple[str, ...] | None = None,
) -> dict[str, tuple[WorldModel, dict[str, Any]]]:
    """The world model, its history-free twin and the ensemble's other members.

    All early-stop on `split.val`. `names` picks some of them ("world_model", "history_free",
    "member_1", ...). With `settings.workers == 2` two train at once, in this process (which shows
    its progress) and a second one; under torchrun one after the other, data parallel.
    """
    val = sessions_to_tensors(split.val)
    configs = {
        "world_model": settings.model,
        "history_free": replace(settings.model, use_history=False),
        **{member_name(m): settings.model for m in range(1, settings.members)},
    }
    chosen = [name for name in configs if names is None or name in names]
    features = model_track_features(catalog.embeddings, settings.model, split.train)
    everyone = sessions_to_tensors(split.train)  # padded once, shared by the models fitted on it
    jobs, trainings = [], {}
    for name in chosen:
        index = int(name.removeprefix("member_")) if name.startswith("member_") else 0
        train = everyone
        if index and settings.bootstrap:  # a bootstrap of the training listeners
            seed = settings.training.seed * 1000 + index
            train = sessions_to_tensors(bootstrap_listeners(split.train, seed=seed))
        training = trainings[name] = replace(settings.training, seed=settings.training.seed + index)
        jobs.append((configs[name], features, train, val, training, progress))
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    results: dict[str, Any] = {}
    if settings.workers >= 2 and not distributed and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=1) as pool:
            others = {
                name: pool.submit(_fit, (*job[:-1], False))
                for name, job in zip(chosen[1::2], jobs[1::2], strict=True)
            }
            for name, job in zip(chosen[::2], jobs[::2], strict=True):
                results[name] = _fit(job)
            results |= {name: future.result() for name, future in others.items()}
    else:
        results = {name: _fit(job) for name, job in zip(chosen, jobs, strict=True)}
    models = {}
    for name in chosen:
        state, history = results[name]
        history["train_config"] = asdict(trainings[name])
        model = WorldModel(configs[name], features)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        models[name] = (model.eval(), history)
    return models


def build_bundle(
    out: str | Path,
    source: BundleSource,
    settings: BuildSettings | None = None,
    command: str = "",
    progress: bool = True,
) -> Bundle | None:
    """Train and write a bundle at `out` from `source`; returns it loaded (and checked).

    Under torchrun every process trains and process 0 writes; the others return None.

    Raises:
        LogSchemaError: the logs break the schema (one line per problem).
        ValueError: `out` cannot take a bundle.
    """
    settings = settings or BuildSettings()
    out = check_bundle_dir(out)
    frame = sorted_logs(source)
    split = split_by_listener(frame, seed=settings.split_seed)
    empty = [part for part in ("train", "val", "test") if getattr(split, part).empty]
    if empty:
        raise ValueError(
            f"--logs: {frame['listener_id'].nunique()} listener(s) leave no {' or '.join(empty)} "
            "listeners in the 75/10/15 listener split (at least 10 listeners are needed)"
        )
    started = time.perf_counter()
    models = train_models(split, source.catalog, settings, progress)
    seconds = time.perf_counter() - started
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    cards = model_cards(models, split, source.description, settings, command, seconds)
    trained = {name: model for name, (model, _) in models.items()}
    contents = BundleContents(source, frame, split, trained, cards, settings.split_seed)
    return write_bundle(out, contents, command)


def model_cards(
    models: dict[str, tuple[WorldModel, dict[str, Any]]],
    split: Split,
    data: str,
    settings: BuildSettings,
    command: str,
    seconds: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Each trained model's checkpoint card: its data, config, training and how it went.

    `seconds` is the wall time of the whole training (default: each model's own).
    """
    return {
        name: {
            "data": data,
            "train_sessions": int(split.train["session_id"].nunique()),
            "val_sessions": int(split.val["session_id"].nunique()),
            "config": asdict(model.config),
            "train_config": history["train_config"],
            "best_epoch": history["best_epoch"],
            "best_val_loss": history["best_val_loss"],
            "train_seconds": history["seconds"] if seconds is None else seconds,
            "world_size": history["world_size"],
            "command": command,
            "bootstrap": settings.bootstrap and name.startswith("member_"),
        }
        for name, (model, history) in models.items()
    }


def sorted_logs(source: BundleSource) -> pd.DataFrame:
    """The source's logs validated (canonical dtypes), sorted by session and position.

    The latent columns ride along when the logs came from a reference world.
    """
    frame = source.logs
    log_columns = [c for c in LOG_COLUMNS if c in frame.columns]
    latent = [c for c in LATENT_COLUMNS if c in frame.columns] if source.world else []
    logs = validate_logs(frame[log_columns], source.catalog.n_tracks)  # sorted as `frame` below
    frame = frame.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)
    return pd.concat([logs, frame[latent]], axis=1)


@dataclass(frozen=True, eq=False)
class BundleContents:
    """Everything a bundle is written from."""

    source: BundleSource
    frame: pd.DataFrame
    """The sorted logs (`sorted_logs`), latent columns beside them where there is a truth."""
    split: Split
    """The listener split of `frame`."""
    models: dict[str, WorldModel]
    """The trained "world_model" and "history_free"."""
    cards: dict[str, dict[str, Any]]
    """Their checkpoint cards."""
    split_seed: int


def write_bundle(out: Path, contents: BundleContents, command: str) -> Bundle:
    """Write every piece into a fresh directory, then move it to `out` (the manifest last)."""
    out.resolve().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    ordinary_permissions(staging, directory=True)  # mkdtemp makes it private
    try:
        logs_entry = _write_pieces(staging, contents)
        write_manifest(staging, contents.source, logs_entry, command)
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Bundle.load(out)


def _write_pieces(staging: Path, contents: BundleContents) -> dict[str, Any]:
    """Every piece but the manifest; returns the manifest's entry for the logs."""
    source, frame, split, models, cards = (
        contents.source,
        contents.frame,
        contents.split,
        contents.models,
        contents.cards,
    )
    log_columns = [c for c in LOG_COLUMNS if c in frame.columns]
    catalog = source.catalog
    catalog.save(staging / layout.CATALOG)
    for name, file in (("world_model", layout.WORLD_MODEL), ("history_free", layout.HISTORY_FREE)):
        save_checkpoint(staging / file, models[name], catalog.fingerprint(), cards[name])
    for name in sorted(n for n in models if n.startswith("member_")):
        save_checkpoint(staging / f"{name}.npz", models[name], catalog.fingerprint(), cards[name])
    test = split.test
    card = fidelity_card(
        models["world_model"], models["history_free"], test, plot=staging / "calibration.png"
    )
    atomic_write_json(card, staging / layout.FIDELITY)
    atomic_write_text(
        "# Fidelity report card\n\n" + card_markdown(card) + "\n", staging / "FIDELITY.md"
    )
    atomic_write_text(model_card(cards["world_model"], card), staging / layout.MODEL_CARD)
    start = test[log_columns].copy()
    if source.world is not None:
        start[list(layout.LATENT_START_COLUMNS)] = test[
            ["true_valence_before", "true_arousal_before"]
        ].to_numpy()
        atomic_write_json(world_record(source.world, catalog), staging / layout.WORLD)
    atomic_write_parquet(start, staging / layout.START_SESSIONS)
    listeners = {"train": split.train, "val": split.val, "test": test}
    split_data = {
        part: sorted(int(i) for i in logs["listener_id"].unique())
        for part, logs in listeners.items()
    }
    atomic_write_json({"seed": contents.split_seed, **split_data}, staging / layout.SPLIT)
    tested = frame["listener_id"].isin(test["listener_id"].unique())
    training_logs = frame.loc[~tested, log_columns].reset_index(drop=True)
    entry: dict[str, Any] = {"fingerprint": frame_fingerprint(training_logs)}
    if source.regenerate_logs and source.world is not None:
        entry["regenerate"] = layout.WORLD
    else:
        atomic_write_parquet(training_logs, staging / layout.LOGS)
        entry["file"] = layout.LOGS
    return entry


def write_manifest(
    path: Path, source: BundleSource, logs_entry: dict[str, Any], command: str
) -> None:
    """bundle.json: the fingerprint of every piece already written in `path`."""
    catalog = source.catalog
    if "file" in logs_entry:
        logs_entry = {**logs_entry, "sha256": file_sha256(path / logs_entry["file"])}
    pieces: dict[str, Any] = {
        "catalog": {
            "fingerprint": catalog.fingerprint(),
            "n_tracks": catalog.n_tracks,
            "embedding_dim": catalog.embedding_dim,
        },
        "start_sessions": {
            "fingerprint": frame_fingerprint(pd.read_parquet(path / layout.START_SESSIONS))
        },
        "logs": logs_entry,
        "truth": None,
    }
    for key, name in layout.FILE_HASHES.items():
        if (path / name).is_file():
            pieces[key] = {**(pieces.get(key) or {}), "sha256": file_sha256(path / name)}
    members = _member_files(path)
    if members:
        pieces["ensemble"] = {
            "members": [{"file": f.name, "sha256": file_sha256(f)} for f in members]
        }
    manifest = {
        "format": layout.FORMAT,
        "version": layout.VERSION,
        "fingerprint": pieces_fingerprint(pieces),
        "logs_source": source.description,
        "command": command,
        **pieces,
    }
    atomic_write_json(manifest, path / layout.MANIFEST)


def _member_files(path: Path) -> list[Path]:
    """The ensemble members' files in a bundle directory, in member order."""
    files = path.glob("member_*.npz")
    return sorted(files, key=lambda f: int(f.stem.removeprefix("member_")))


def add_members(path: str | Path, settings: BuildSettings, progress: bool = True) -> Bundle:
    """Give an existing bundle an ensemble of `settings.members` (its world model kept as member 0).

    The new members are fitted on the bundle's own training listeners (as `build_bundle` fits
    them), written beside the other pieces, and the manifest is rewritten
    with them; the bundle is swapped into place whole. This is how the shipped bundle got its
    ensemble (benchmarks/NOTES.md).
    """
    bundle = Bundle.load(path)
    names = tuple(member_name(m) for m in range(len(bundle.members), settings.members))
    if not names:
        raise ValueError(f"bundle {bundle.path} already has {len(bundle.members)} members")
    models = train_models(bundle.split, bundle.catalog, settings, progress, names=names)
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.path.name}.", dir=bundle.path.parent))
    ordinary_permissions(staging, directory=True)
    try:
        for file in bundle.path.iterdir():
            shutil.copy2(file, staging / file.name)
        data = f"the training listeners of bundle {bundle.fingerprint}"
        cards = model_cards(models, bundle.split, data, settings, "add_members")
        for name, (model, _) in models.items():
            save_checkpoint(
                staging / f"{name}.npz", model, bundle.catalog.fingerprint(), cards[name]
            )
        manifest = dict(bundle.manifest)
        manifest["ensemble"] = {
            "members": [{"file": f.name, "sha256": file_sha256(f)} for f in _member_files(staging)]
        }
        manifest["fingerprint"] = pieces_fingerprint(manifest)
        atomic_write_json(manifest, staging / layout.MANIFEST)
        _swap_into_place(staging, bundle.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Bundle.load(bundle.path)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Replace `out` by `staging`, checked first; an old bundle is removed only after the swap."""
    Bundle.load(staging)
    if not out.exists():
        os.replace(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.resolve().parent)) / "bundle"
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(old, out)  # put the old bundle back
        raise
    finally:
        shutil.rmtree(old.parent, ignore_errors=True)
