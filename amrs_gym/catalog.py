"""The track catalog: content embeddings plus interpretable descriptors for every track.

A track's id is its row index. The world model only ever sees a track through its
content embedding (so unseen tracks work); the descriptors (own valence/arousal
character, energy, tempo, popularity, cluster) drive the reference world and make
results readable.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym.io import atomic_write_parquet
from amrs_gym.validation import check_fields

DESCRIPTOR_COLUMNS = ("valence", "arousal", "energy", "tempo", "popularity", "cluster")


MIN_EMBEDDING_NORM = 1e-8
"""A track's embedding must be longer than this (`unit_embeddings` divides by the norm)."""

_EMBEDDING_COLUMN = re.compile(r"emb_(0|[1-9][0-9]*)")
"""The name of an embedding column: `emb_<i>`, i without leading zeros."""

MAX_EMBEDDING_DIM = 1024
"""Largest content embedding accepted: every observation carries one (a mistyped size would
allocate gigabytes before anything is learned)."""


class CatalogError(ValueError):
    """A catalog file or array that does not have the expected shape or ranges."""


def _refuse_rows(name: str, bad: np.ndarray, values: np.ndarray | None, rule: str) -> None:
    """Raise one line naming column `name`, `rule` and the first few bad tracks (with values).

    Raises:
        CatalogError: if any of `bad` (a boolean mask over the tracks) is set.
    """
    rows = np.flatnonzero(bad)
    if not rows.size:
        return
    shown = 3
    if values is None:
        first = "track_id " + ", ".join(str(row) for row in rows[:shown])
    else:
        first = ", ".join(f"track_id {row}: {values[row]:g}" for row in rows[:shown])
    more = f" and {rows.size - shown} more" if rows.size > shown else ""
    raise CatalogError(f"{name}: {rule}; found {first}{more}")


def _numeric_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column of `frame` as float64, or a CatalogError naming it and its first non-number."""
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        bad = (pd.to_numeric(values, errors="coerce").isna() & values.notna()).to_numpy()
        row = int(np.flatnonzero(bad)[0]) if bad.any() else 0
        where = f"row {row}" if column == "track_id" else f"track_id {row}"
        raise CatalogError(f"{column}: expected numbers, found {values.iloc[row]!r} ({where})")
    numbers: np.ndarray = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers


@dataclass(frozen=True, eq=False)
class Catalog:
    """An immutable table of tracks, indexed by track id (0 .. n_tracks - 1)."""

    embeddings: np.ndarray  # (n_tracks, embedding_dim) float32
    valence: np.ndarray  # (n_tracks,) in [-1, 1]
    arousal: np.ndarray  # (n_tracks,) in [-1, 1]
    energy: np.ndarray  # (n_tracks,) in [0, 1]
    tempo: np.ndarray  # (n_tracks,) beats per minute
    popularity: np.ndarray  # (n_tracks,) in [0, 1]
    cluster: np.ndarray  # (n_tracks,) int, genre-like group
    titles: tuple[str, ...] = field(default=())
    source: str = "synthetic"

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or len(self.embeddings) == 0 or self.embeddings.shape[1] == 0:
            raise CatalogError(
                f"embeddings: expected a non-empty (n_tracks, dim) array, got shape "
                f"{self.embeddings.shape}"
            )
        n = len(self.embeddings)
        for name in DESCRIPTOR_COLUMNS:
            values = getattr(self, name)
            if values.shape != (n,):
                raise CatalogError(f"{name}: has shape {values.shape}, expected ({n},)")
            _refuse_rows(name, ~np.isfinite(values), values, "must be finite")
        for name, low, high in (
            ("valence", -1, 1),
            ("arousal", -1, 1),
            ("energy", 0, 1),
            ("popularity", 0, 1),
        ):
            values = getattr(self, name)
            _refuse_rows(
                name, (values < low) | (values > high), values, f"must lie in [{low}, {high}]"
            )
        _refuse_rows("tempo", self.tempo <= 0, self.tempo, "must be > 0 (beats per minute)")
        _refuse_rows(
            "cluster", self.cluster != np.round(self.cluster), self.cluster, "must be an integer"
        )
        finite = np.isfinite(self.embeddings).all(axis=1)
        _refuse_rows("embeddings", ~finite, None, "must be finite (no NaN or inf)")
        norms = np.linalg.norm(self.embeddings.astype(np.float64), axis=1)
        _refuse_rows(
            "embeddings",
            norms <= MIN_EMBEDDING_NORM,
            None,
            f"all-zero embedding (norm <= {MIN_EMBEDDING_NORM:g}); each track needs a non-zero "
            "norm, similarities use unit vectors",
        )

    @property
    def n_tracks(self) -> int:
        """Number of tracks."""
        return len(self.embeddings)

    @property
    def embedding_dim(self) -> int:
        """Size of a track's content embedding."""
        return int(self.embeddings.shape[1])

    @property
    def unit_embeddings(self) -> np.ndarray:
        """Embeddings scaled to unit length, for cosine similarities."""
        norms = np.linalg.norm(self.embeddings, axis=1, keepdims=True)
        unit: np.ndarray = (self.embeddings / np.maximum(norms, 1e-8)).astype(np.float32)
        return unit

    def features(self) -> np.ndarray:
        """Interpretable features scaled to about [-1, 1].

        Valence, arousal, energy, tempo, popularity.
        """
        tempo = np.clip((self.tempo - 120.0) / 60.0, -1.0, 1.0)
        return np.stack(
            [self.valence, self.arousal, 2 * self.energy - 1, tempo, 2 * self.popularity - 1],
            axis=1,
        ).astype(np.float32)  # (n_tracks, 5)

    def fingerprint(self) -> str:
        """A short hash of the embeddings, so a checkpoint can refuse a different catalog."""
        digest = hashlib.sha256(np.ascontiguousarray(self.embeddings, np.float32).tobytes())
        return digest.hexdigest()[:16]

    def to_frame(self) -> pd.DataFrame:
        """One row per track: descriptors, then `emb_0 .. emb_{d-1}`."""
        frame = pd.DataFrame({name: getattr(self, name) for name in DESCRIPTOR_COLUMNS})
        frame.insert(0, "track_id", np.arange(self.n_tracks))
        if self.titles:
            frame["title"] = list(self.titles)
        emb = pd.DataFrame(self.embeddings, columns=[f"emb_{i}" for i in range(self.embedding_dim)])
        return pd.concat([frame, emb], axis=1)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "file") -> Catalog:
        """Inverse of `to_frame`; raises CatalogError naming a missing or bad column."""
        missing = [c for c in ("track_id", *DESCRIPTOR_COLUMNS) if c not in frame.columns]
        emb_names = [str(c) for c in frame.columns if str(c).startswith("emb_")]
        if missing or not emb_names:
            raise CatalogError(f"catalog is missing columns: {', '.join(missing or ['emb_*'])}")
        misnamed = [c for c in emb_names if not _EMBEDDING_COLUMN.fullmatch(c)]
        if misnamed:
            raise CatalogError(
                f"{misnamed[0]}: not an embedding column name; allowed: emb_0, emb_1, ... "
                "(emb_ and the dimension's index, without leading zeros)"
            )
        indices = sorted(int(c[4:]) for c in emb_names)
        gaps = sorted(set(range(indices[-1] + 1)) - set(indices))
        if gaps:
            named = ", ".join(f"emb_{i}" for i in gaps[:3]) + (" ..." if len(gaps) > 3 else "")
            raise CatalogError(
                f"{named}: missing embedding column(s); the embedding columns must be emb_0 .. "
                f"emb_{indices[-1]} without gaps (found {len(indices)} of {indices[-1] + 1})"
            )
        if frame.empty:
            raise CatalogError("track_id: no rows (a catalog needs at least one track)")
        track_id = _numeric_column(frame, "track_id")
        _refuse_rows(
            "track_id",
            track_id != np.arange(len(frame)),
            track_id,
            f"must run 0 .. {len(frame) - 1} in order (the row number)",
        )
        arrays = {c: _numeric_column(frame, c) for c in DESCRIPTOR_COLUMNS}
        for c in emb_names:
            _numeric_column(frame, c)
        cluster = arrays["cluster"]
        _refuse_rows(
            "cluster",
            ~np.isfinite(cluster) | (cluster != np.round(cluster)),
            cluster,
            "must be an integer (a genre-like group)",
        )
        embeddings = frame[[f"emb_{i}" for i in indices]].to_numpy(dtype=np.float32)
        titles = tuple(frame["title"].astype(str)) if "title" in frame.columns else ()
        return cls(
            embeddings=embeddings,
            valence=arrays["valence"],
            arousal=arrays["arousal"],
            energy=arrays["energy"],
            tempo=arrays["tempo"],
            popularity=arrays["popularity"],
            cluster=cluster.astype(np.int64),
            titles=titles,
            source=source,
        )

    def save(self, path: str | Path) -> None:
        """Write the catalog as parquet, atomically."""
        atomic_write_parquet(self.to_frame(), Path(path))

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """Read a catalog written by `save` (parquet; CSV with the same columns is accepted).

        Raises:
            CatalogError: the file is missing or unreadable, or a column is missing or bad.
        """
        path = Path(path)
        if not path.is_file():
            raise CatalogError(f"catalog file not found: {path}")
        try:
            frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        except Exception as exc:  # pyarrow and the CSV reader raise many unrelated types
            raise CatalogError(
                f"{path} is not a readable catalog file ({type(exc).__name__}: {exc})"
            ) from None
        try:
            return cls.from_frame(frame, source=str(path))
        except CatalogError as exc:
            raise CatalogError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class CatalogConfig:
    """Parameters of the synthetic catalog."""

    n_tracks: int = field(default=1200, metadata={"min": 1})
    """Number of tracks."""
    embedding_dim: int = field(default=16, metadata={"min": 1, "max": MAX_EMBEDDING_DIM})
    """Size of the content embedding."""
    n_clusters: int = field(default=12, metadata={"min": 1})
    """Number of genre-like clusters."""
    affect_spread: float = field(default=0.3, metadata={"min": 0})
    """Std of a track's valence/arousal around its cluster's centre."""
    embedding_noise: float = field(default=0.35, metadata={"min": 0})
    """Std of the embedding noise that content features do not explain."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the generator."""

    def __post_init__(self) -> None:
        check_fields(self)

    def create(self) -> Catalog:
        """Generate the catalog.

        Each cluster has a centre in embedding space and an affective centre. A
        track draws its valence/arousal around its cluster's affect, energy from
        its arousal, tempo from its energy, and its embedding mixes the cluster
        centre with a fixed linear map of its descriptors, so content predicts
        affect but not perfectly.
        """
        if self.n_tracks < 2 or self.embedding_dim < 4 or self.n_clusters < 1:
            raise ValueError("need n_tracks >= 2, embedding_dim >= 4 and n_clusters >= 1")
        rng = np.random.default_rng(self.seed)
        centres = rng.normal(0.0, 1.0, (self.n_clusters, self.embedding_dim))
        cluster_affect = rng.uniform(-0.75, 0.75, (self.n_clusters, 2))
        shares = rng.dirichlet(np.full(self.n_clusters, 3.0))
        cluster = rng.choice(self.n_clusters, size=self.n_tracks, p=shares)
        affect = cluster_affect[cluster] + rng.normal(0.0, self.affect_spread, (self.n_tracks, 2))
        affect = np.clip(affect, -0.98, 0.98)
        valence, arousal = affect[:, 0], affect[:, 1]
        energy = 1.0 / (1.0 + np.exp(-(1.8 * arousal + rng.normal(0.0, 0.4, self.n_tracks))))
        tempo = np.clip(70.0 + 90.0 * energy + rng.normal(0.0, 12.0, self.n_tracks), 50.0, 200.0)
        popularity = rng.beta(1.3, 4.0, self.n_tracks)
        descriptors = np.stack([valence, arousal, 2 * energy - 1, (tempo - 120) / 60], axis=1)
        projection = rng.normal(0.0, 1.0, (4, self.embedding_dim))
        embeddings = (
            0.7 * centres[cluster]
            + descriptors @ projection
            + rng.normal(0.0, self.embedding_noise, (self.n_tracks, self.embedding_dim))
        )
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True).mean()
        return Catalog(
            embeddings=embeddings.astype(np.float32),
            valence=valence,
            arousal=arousal,
            energy=energy,
            tempo=tempo,
            popularity=popularity,
            cluster=cluster.astype(np.int64),
            source=f"synthetic(seed={self.seed})",
        )
