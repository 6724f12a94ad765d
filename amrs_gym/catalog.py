"""The track catalog: content embeddings plus interpretable descriptors for every track.

A track's id is its row index. The world model only ever sees a track through its
content embedding (so unseen tracks work); the descriptors (own valence/arousal
character, energy, tempo, popularity, cluster) drive the reference world and make
results readable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym.io import atomic_write_parquet
from amrs_gym.validation import check_fields

DESCRIPTOR_COLUMNS = ("valence", "arousal", "energy", "tempo", "popularity", "cluster")


class CatalogError(ValueError):
    """A catalog file or array that does not have the expected shape or ranges."""


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
        n = len(self.embeddings)
        if self.embeddings.ndim != 2 or n == 0:
            raise CatalogError("embeddings must be a non-empty (n_tracks, dim) array")
        for name in DESCRIPTOR_COLUMNS:
            values = getattr(self, name)
            if values.shape != (n,):
                raise CatalogError(f"{name} has shape {values.shape}, expected ({n},)")
            if not np.all(np.isfinite(values)):
                raise CatalogError(f"{name} has non-finite values")
        for name, low, high in (
            ("valence", -1, 1),
            ("arousal", -1, 1),
            ("energy", 0, 1),
            ("popularity", 0, 1),
        ):
            values = getattr(self, name)
            if values.min() < low or values.max() > high:
                raise CatalogError(f"{name} must lie in [{low}, {high}]")
        if not np.all(np.isfinite(self.embeddings)):
            raise CatalogError("embeddings have non-finite values")

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
        emb_cols = sorted(
            (c for c in frame.columns if c.startswith("emb_")), key=lambda c: int(c[4:])
        )
        if missing or not emb_cols:
            raise CatalogError(f"catalog is missing columns: {', '.join(missing or ['emb_*'])}")
        if not np.array_equal(frame["track_id"].to_numpy(), np.arange(len(frame))):
            raise CatalogError("track_id must run 0 .. n_tracks - 1 in order")
        try:
            arrays = {c: frame[c].to_numpy(dtype=np.float64) for c in DESCRIPTOR_COLUMNS}
            embeddings = frame[emb_cols].to_numpy(dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise CatalogError(f"catalog has a non-numeric column: {exc}") from None
        titles = tuple(frame["title"].astype(str)) if "title" in frame.columns else ()
        return cls(
            embeddings=embeddings,
            valence=arrays["valence"],
            arousal=arrays["arousal"],
            energy=arrays["energy"],
            tempo=arrays["tempo"],
            popularity=arrays["popularity"],
            cluster=arrays["cluster"].astype(np.int64),
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
    embedding_dim: int = field(default=16, metadata={"min": 1})
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
