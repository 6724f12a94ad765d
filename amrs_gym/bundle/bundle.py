"""`Bundle`: one directory holding everything a simulator needs and says about itself.

    bundle.json             manifest: format, fingerprints of every piece, where the logs are
    catalog.parquet         the catalog (columns in data/README.md)
    world_model.npz         the world-model checkpoint (weights only), MODEL_CARD.md its card
    history_free.npz        the history-free twin the fidelity card compares against
    member_1.npz ...        further ensemble members (other seeds; `ensemble` in the manifest)
    split.json              the listener-cold split: train / val / test listener ids
    start_sessions.parquet  the test listeners' logged sessions (episodes start from them)
    logs.parquet            the train and validation listeners' logs (agents train on them)
    world.json              only when the logs came from a reference world: its config
    fidelity.json, FIDELITY.md, calibration.png   the fidelity report card

The shipped default (`amrs_gym/assets`) is a bundle whose logs are regenerated from world.json
(they are checked against the manifest's fingerprint). `Bundle.load` checks the pieces against
each other and refuses a mismatch with one message naming both sides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, is_dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amrs_gym.catalog import Catalog, CatalogError
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.schema import validate_logs
from amrs_gym.data.splits import Split
from amrs_gym.reference_world import ProductionPolicy, ReferenceWorld
from amrs_gym.world_model.checkpoint import CheckpointError, read_checkpoint

FORMAT = "amrs-gym-bundle"
VERSION = 2
"""Version 2: frame fingerprints hash float columns at float32 precision (`frame_fingerprint`)."""
MANIFEST = "bundle.json"
CATALOG = "catalog.parquet"
WORLD_MODEL = "world_model.npz"
HISTORY_FREE = "history_free.npz"
MODEL_CARD = "MODEL_CARD.md"
SPLIT = "split.json"
START_SESSIONS = "start_sessions.parquet"
LOGS = "logs.parquet"
WORLD = "world.json"
FIDELITY = "fidelity.json"
MAX_MEMBERS = 16
"""Most ensemble members a bundle holds (the world model included)."""
SPLIT_PARTS = ("train", "val", "test")
LATENT_START_COLUMNS = ("latent_valence_before", "latent_arousal_before")
"""Start-session columns with the true affect before each row (bundles with a truth only)."""


class BundleError(ValueError):
    """A bundle directory that is incomplete or whose pieces do not fit together."""


class NoTruthError(BundleError):
    """Something needs the reference world, and the bundle's logs did not come from one."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A short hash of a frame's values, column by column in name order (stable across files).

    Float columns are hashed at float32 precision: logs regenerated from a world config differ
    in the last bit of some values from one CPU's SIMD paths to another's (NumPy dispatches exp
    and tanh by CPU), and those are the same logs.
    """
    digest = hashlib.sha256()
    for name in sorted(frame.columns):
        column = frame[name]
        digest.update(str(name).encode())
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            values = column.to_numpy(np.float64)
            if pd.api.types.is_float_dtype(column):
                values = values.astype(np.float32).astype(np.float64)
            digest.update(np.ascontiguousarray(values).tobytes())
        else:
            digest.update("\x00".join(column.astype(str)).encode())
    return digest.hexdigest()[:16]


PIECES = (
    "catalog",
    "world_model",
    "history_free",
    "ensemble",
    "split",
    "start_sessions",
    "logs",
    "truth",
)
"""Manifest entries whose contents make up the bundle's fingerprint."""
FILE_HASHES = {
    "catalog": CATALOG,
    "world_model": WORLD_MODEL,
    "history_free": HISTORY_FREE,
    "split": SPLIT,
    "truth": WORLD,
}
"""Manifest entries that hold the SHA-256 of a whole file, checked on every load."""


def pieces_fingerprint(manifest: dict[str, Any]) -> str:
    """The bundle's fingerprint: a hash of its pieces' fingerprints (manifest entries)."""
    pieces = {name: manifest[name] for name in PIECES if manifest.get(name) is not None}
    return hashlib.sha256(json.dumps(pieces, sort_keys=True).encode()).hexdigest()[:16]


def _tuples(value: Any) -> Any:
    """JSON lists back as the tuples a frozen config holds."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """A (nested) frozen dataclass from its `asdict` form; unknown keys are refused by name."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        default = known[name].default_factory  # nested configs are built by a factory
        nested = default() if callable(default) else known[name].default
        if is_dataclass(nested) and isinstance(value, dict):
            value = config_from_dict(type(nested), value)
        elif isinstance(nested, tuple):
            value = _tuples(value)
        values[name] = value
    return cls(**values)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A simulator bundle on disk, checked when loaded (`Bundle.load`)."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path | Bundle) -> Bundle:
        """Read and check the bundle at `path` (cached while its files stay unchanged).

        Raises:
            BundleError: one line naming the file, and both sides of any mismatch.
        """
        if isinstance(path, Bundle):
            return path
        path = Path(path).resolve()
        if not (path / MANIFEST).is_file():
            raise BundleError(
                f"bundle {path}: no {MANIFEST} (build one with "
                "`python -m amrs_gym.world_model.train --logs LOGS --out BUNDLE`)"
            )
        return _load(path, _state(path))

    @property
    def fingerprint(self) -> str:
        """A hash of every piece: what agents trained in this simulator are cached under."""
        return str(self.manifest["fingerprint"])

    @property
    def has_truth(self) -> bool:
        """Whether the logs came from a reference world this bundle can rebuild."""
        return self.manifest.get("truth") is not None

    @property
    def logs_source(self) -> str:
        """Where the logs came from, in words."""
        return str(self.manifest.get("logs_source", "unknown"))

    @property
    def checkpoint(self) -> Path:
        """The world-model checkpoint file."""
        return self.path / WORLD_MODEL

    @property
    def members(self) -> list[Path]:
        """The ensemble's checkpoint files, the world model first (just it without an ensemble)."""
        entries = (self.manifest.get("ensemble") or {}).get("members", [])
        return [self.checkpoint, *(self.path / entry["file"] for entry in entries)]

    @property
    def history_free_checkpoint(self) -> Path:
        """The history-free twin's checkpoint file."""
        return self.path / HISTORY_FREE

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog every piece indexes into."""
        return Catalog.load(self.path / CATALOG)

    @cached_property
    def listeners(self) -> dict[str, np.ndarray]:
        """Listener ids of each part of the split: "train", "val", "test"."""
        data = json.loads((self.path / SPLIT).read_text())
        return {part: np.asarray(data[part], dtype=np.int64) for part in SPLIT_PARTS}

    @cached_property
    def start_sessions(self) -> pd.DataFrame:
        """The test listeners' logged sessions (with latent start affect when there is a truth)."""
        return pd.read_parquet(self.path / START_SESSIONS)

    @cached_property
    def dataset_config(self) -> DatasetConfig | None:
        """The reference world's config, when the logs came from one."""
        if not self.has_truth:
            return None
        record = json.loads((self.path / WORLD).read_text())
        config: DatasetConfig = config_from_dict(DatasetConfig, record["dataset"])
        return config

    @cached_property
    def logs(self) -> pd.DataFrame:
        """The train and validation listeners' logged sessions.

        Read from logs.parquet, or regenerated from world.json and checked against the manifest.
        """
        entry = self.manifest["logs"]
        if "file" in entry:
            logs = pd.read_parquet(self.path / entry["file"])
        else:
            dataset = self._dataset_config_or_raise("regenerating its logs").create(self.catalog)
            logs = validate_logs(dataset.logs)  # canonical dtypes and order, as when built
            logs = logs[logs["listener_id"].isin(self.training_listeners)].reset_index(drop=True)
        found = frame_fingerprint(logs)
        if found != entry["fingerprint"]:
            raise BundleError(
                f"bundle {self.path}: the logs' fingerprint is {found}, "
                f"the manifest says {entry['fingerprint']}"
            )
        return logs

    @property
    def training_listeners(self) -> np.ndarray:
        """Train and validation listener ids (agents and the world model learn from them)."""
        return np.concatenate([self.listeners["train"], self.listeners["val"]])

    @cached_property
    def split(self) -> Split:
        """The listener-cold split as frames (train, val from `logs`, test = start sessions)."""
        logs = self.logs
        parts = {
            part: logs[logs["listener_id"].isin(self.listeners[part])].reset_index(drop=True)
            for part in ("train", "val")
        }
        test = self.start_sessions.drop(columns=list(LATENT_START_COLUMNS), errors="ignore")
        return Split(train=parts["train"], val=parts["val"], test=test, kind="listener")

    @cached_property
    def _world(self) -> tuple[ReferenceWorld, ProductionPolicy]:
        return self._dataset_config_or_raise("a reference world").build_world(self.catalog)

    def reference_world(self) -> ReferenceWorld:
        """The reference world that produced the logs (`NoTruthError` without one)."""
        return self._world[0]

    def production_policy(self) -> ProductionPolicy:
        """The policy that logged the sessions (`NoTruthError` without a truth)."""
        return self._world[1]

    @property
    def fidelity(self) -> dict[str, Any]:
        """The fidelity report card (fidelity.json)."""
        file = self.path / FIDELITY
        card: dict[str, Any] = json.loads(file.read_text()) if file.is_file() else {}
        return card

    def _dataset_config_or_raise(self, need: str) -> DatasetConfig:
        config = self.dataset_config
        if config is None:
            raise NoTruthError(
                f"bundle {self.path} has no reference world (its logs: {self.logs_source}), so it "
                f"cannot give {need}"
            )
        return config


def _state(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file: a changed piece is checked again."""
    return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(path.iterdir()))


@lru_cache(maxsize=16)
def _load(path: Path, _files: tuple[tuple[str, int, int], ...]) -> Bundle:
    """Read and check a bundle (cached while its files stay as they are)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BundleError(f"bundle {path}: {MANIFEST} is not readable JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {path}: {MANIFEST} is not an amrs-gym bundle manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"bundle {path}: format version {manifest.get('version')}, this code reads {VERSION} "
            "(rebuild it with `python -m amrs_gym.world_model.train`)"
        )
    optional = ("history_free", "ensemble")
    missing = [name for name in PIECES if name not in manifest and name not in optional]
    if missing or manifest.get("fingerprint") != pieces_fingerprint(manifest):
        raise BundleError(
            f"bundle {path}: {MANIFEST} is incomplete or edited "
            f"({'missing ' + ', '.join(missing) if missing else 'its fingerprint does not match'})"
        )
    bundle = Bundle(path, manifest)
    _check(bundle)
    return bundle


def _check(bundle: Bundle) -> None:
    """Refuse a bundle whose pieces are missing or do not fit together."""
    path, manifest = bundle.path, bundle.manifest
    recorded = {
        name: manifest[key]["sha256"]
        for key, name in FILE_HASHES.items()
        if manifest.get(key) is not None
    }
    if "file" in manifest["logs"]:
        recorded[manifest["logs"]["file"]] = manifest["logs"]["sha256"]
    entries = _member_entries(bundle)
    members = [entry["file"] for entry in entries]
    recorded |= {entry["file"]: entry["sha256"] for entry in entries}
    missing = [name for name in {START_SESSIONS, *recorded} if not (path / name).is_file()]
    if missing:
        raise BundleError(f"bundle {path}: missing {', '.join(sorted(missing))}")
    try:
        catalog = bundle.catalog
    except CatalogError as error:
        raise BundleError(f"bundle {path}: {CATALOG}: {error}") from None
    expected = manifest["catalog"]["fingerprint"]
    if catalog.fingerprint() != expected:
        raise BundleError(
            f"bundle {path}: {CATALOG} has fingerprint {catalog.fingerprint()}, "
            f"the manifest says {expected}"
        )
    configs = {}
    for name, sha256 in recorded.items():
        found = file_sha256(path / name)
        if found != sha256:
            raise BundleError(
                f"bundle {path}: {name} has SHA-256 {found[:16]}, the manifest says {sha256[:16]}"
            )
        if name in (WORLD_MODEL, HISTORY_FREE, *members):
            try:
                configs[name] = read_checkpoint(path / name, catalog).config
            except CheckpointError as error:
                raise BundleError(f"bundle {path}: {error}") from None
    for name in members:  # they run as one batched computation: one architecture
        if configs[name] != configs[WORLD_MODEL]:
            raise BundleError(
                f"bundle {path}: ensemble member {name} has config {configs[name]}, "
                f"{WORLD_MODEL} has {configs[WORLD_MODEL]} (members must share one architecture)"
            )
    _check_split(bundle)


def _member_entries(bundle: Bundle) -> list[dict[str, str]]:
    """The manifest's ensemble members ({"file", "sha256"} each), checked for form."""
    entry = bundle.manifest.get("ensemble")
    if entry is None:
        return []
    members = entry.get("members") if isinstance(entry, dict) else None
    if (
        not isinstance(members, list)
        or not all(isinstance(m, dict) and {"file", "sha256"} <= set(m) for m in members)
        or len(members) + 1 > MAX_MEMBERS
        or any(Path(str(m["file"])).name != m["file"] for m in members)
    ):
        raise BundleError(
            f"bundle {bundle.path}: {MANIFEST}: ensemble must list at most {MAX_MEMBERS - 1} "
            'members as {"file": NAME, "sha256": HEX} in the bundle directory'
        )
    return members


def _check_split(bundle: Bundle) -> None:
    """The split's parts are disjoint and the start sessions are the test listeners'."""
    listeners = bundle.listeners
    for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = np.intersect1d(listeners[first], listeners[second])
        if len(shared):
            raise BundleError(
                f"bundle {bundle.path}: {SPLIT}: {len(shared)} listener(s) in both {first} and "
                f"{second} (e.g. {shared[0]})"
            )
    found = frame_fingerprint(bundle.start_sessions)
    if found != bundle.manifest["start_sessions"]["fingerprint"]:
        raise BundleError(
            f"bundle {bundle.path}: {START_SESSIONS} has fingerprint {found}, the manifest says "
            f"{bundle.manifest['start_sessions']['fingerprint']}"
        )
    started = np.unique(bundle.start_sessions["listener_id"].to_numpy())
    outside = np.setdiff1d(started, listeners["test"])
    if len(outside):
        raise BundleError(
            f"bundle {bundle.path}: {START_SESSIONS} has {len(outside)} listener(s) that "
            f"{SPLIT} does not hold out as test listeners (e.g. {outside[0]})"
        )
    if bundle.has_truth and not set(LATENT_START_COLUMNS) <= set(bundle.start_sessions.columns):
        raise BundleError(
            f"bundle {bundle.path}: has a reference world but {START_SESSIONS} lacks "
            f"{', '.join(LATENT_START_COLUMNS)}"
        )
