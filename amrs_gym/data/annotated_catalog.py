"""Catalogs built from real, human-annotated music-emotion datasets (DEAM and emoMusic).

Both datasets rate clips on the 1-9 Self-Assessment Manikin (SAM) scale for valence and
arousal. A loader here maps those ratings to the circumplex ([-1, 1]), builds a content
descriptor from the annotation features of each clip, and derives the descriptors the data
does not carry (energy, tempo, popularity) with fixed, documented rules.

Data is never bundled: every function takes the path of the dataset's folder (the readers are
`amrs_gym.data.annotations`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from amrs_gym.catalog import MAX_EMBEDDING_DIM, Catalog, CatalogError
from amrs_gym.data.annotations import (
    DEAM_BASE_COLUMNS,
    DEAM_FILES,
    DEAM_RANGE_COLUMNS,
    EMOMUSIC_STATIC,
    read_deam,
    read_emomusic,
    require_folder,
)
from amrs_gym.validation import check_int

DatasetKind = Literal["auto", "deam", "emomusic"]

POPULARITY = 0.5
"""Neither dataset has popularity: every track gets this neutral value."""


def sam_to_unit(values: np.ndarray | pd.Series | float) -> np.ndarray:
    """Map the 1-9 SAM scale to [-1, 1] by (x - 5) / 4, clipped."""
    return np.clip((np.asarray(values, dtype=np.float64) - 5.0) / 4.0, -1.0, 1.0)


def energy_from_arousal(arousal: np.ndarray) -> np.ndarray:
    """Energy in (0, 1) as the logistic of 2 * arousal: monotone, 0.5 at neutral arousal."""
    return 1.0 / (1.0 + np.exp(-2.0 * np.asarray(arousal, dtype=np.float64)))


def tempo_from_energy(energy: np.ndarray) -> np.ndarray:
    """A tempo-like value, 70 + 90 * energy bpm. DERIVED: neither dataset has tempo."""
    return 70.0 + 90.0 * np.asarray(energy, dtype=np.float64)


def project_features(features: np.ndarray, embedding_dim: int, seed: int) -> np.ndarray:
    """Standardise feature columns and project them to `embedding_dim` dims.

    Each column is z-scored ignoring NaNs (a constant column becomes 0); remaining NaNs
    become 0, the column mean. The projection is a random Gaussian matrix from
    `numpy.random.default_rng(seed)` orthonormalised by QR: orthonormal columns when
    there are at least `embedding_dim` features, orthonormal rows otherwise. The result
    is scaled so the mean row norm is 1, as in the synthetic catalog.

    Args:
        features: (n, n_features) float array; NaN marks a missing value.
        embedding_dim: Size of the embedding.
        seed: Seed of the projection.

    Returns:
        (n, embedding_dim) float32 embeddings.
    """
    check_int("embedding_dim", embedding_dim, 1, MAX_EMBEDDING_DIM)
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise CatalogError(f"need a non-empty (n, n_features) feature array, got {x.shape}")
    known = np.isfinite(x)
    counts = np.maximum(known.sum(axis=0), 1)
    mean = np.where(known, x, 0.0).sum(axis=0) / counts
    centred = np.where(known, x - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=0) / counts)
    z = centred / np.where(std > 1e-12, std, 1.0)
    rng = np.random.default_rng(seed)
    n_features = z.shape[1]
    gaussian = rng.normal(0.0, 1.0, (n_features, embedding_dim))
    if n_features >= embedding_dim:
        projection, _ = np.linalg.qr(gaussian)  # (n_features, dim), orthonormal columns
    else:
        q, _ = np.linalg.qr(gaussian.T)  # (dim, n_features), orthonormal columns
        projection = q.T  # orthonormal rows
    embeddings = z @ projection
    mean_norm = float(np.linalg.norm(embeddings, axis=1).mean())
    if mean_norm > 1e-12:
        embeddings /= mean_norm
    result: np.ndarray = embeddings.astype(np.float32)
    return result


def _catalog(
    valence_sam: np.ndarray,
    arousal_sam: np.ndarray,
    features: np.ndarray,
    cluster: np.ndarray,
    titles: tuple[str, ...],
    source: str,
    embedding_dim: int,
    seed: int,
) -> Catalog:
    valence = sam_to_unit(valence_sam)
    arousal = sam_to_unit(arousal_sam)
    energy = energy_from_arousal(arousal)
    return Catalog(
        embeddings=project_features(features, embedding_dim, seed),
        valence=valence,
        arousal=arousal,
        energy=energy,
        tempo=tempo_from_energy(energy),
        popularity=np.full(len(valence), POPULARITY),
        cluster=cluster.astype(np.int64),
        titles=titles,
        source=source,
    )


def _detect(folder: Path) -> Literal["deam", "emomusic"]:
    if (folder / DEAM_FILES[0]).is_file():
        return "deam"
    if (folder / EMOMUSIC_STATIC).is_file():
        return "emomusic"
    raise CatalogError(
        f"{folder} holds neither DEAM ({DEAM_FILES[0]}) nor emoMusic ({EMOMUSIC_STATIC}) files"
    )


def load_annotated_catalog(
    path: str | Path, kind: DatasetKind = "auto", embedding_dim: int = 16, seed: int = 0
) -> Catalog:
    """Build a `Catalog` from a DEAM or emoMusic folder.

    Common to both: valence/arousal are the static song-level means mapped from SAM 1-9
    by (x - 5) / 4, clipped to [-1, 1]. Energy = logistic(2 * arousal), in (0.12, 0.88).
    Tempo is DERIVED, not measured: 70 + 90 * energy bpm. Popularity is 0.5 for every
    track (no popularity in the data). The embedding is a content descriptor: the
    per-song features below, standardised and projected by `project_features`. Tracks are
    ordered by song_id.

    DEAM (1,802 songs): the valence/arousal swap of ids <= 1000 is corrected (see
    `read_deam`). Features: valence/arousal means and stds, plus max/min means and stds
    where present (ids 2001..2058; elsewhere they sit at the column mean) and a flag for
    their presence. DEAM has no genre, so `cluster` is the circumplex quadrant:
    0 = low valence, low arousal; 1 = high valence, low arousal; 2 = low valence, high
    arousal; 3 = high valence, high arousal (high means >= 0). Titles are "DEAM <id>".

    emoMusic (744 songs): static annotations give valence/arousal. Features: per-song
    mean, std, slope, min and max of the valence and arousal curves, the means of the
    two rater-std curves, and a one-hot of the genre. `cluster` is the genre's index
    in the sorted genre names. Titles are "Artist - Title".

    Args:
        path: The dataset folder.
        kind: "deam", "emomusic", or "auto" to detect it from the files.
        embedding_dim: Size of the content embedding.
        seed: Seed of the projection.

    Returns:
        The catalog; `source` is "deam:<path>" or "emomusic:<path>".

    Raises:
        CatalogError: A missing folder, file or column (named), or bad values.
        ValueError: An embedding size outside 1..MAX_EMBEDDING_DIM, or a negative seed.
    """
    check_int("embedding_dim", embedding_dim, 1, MAX_EMBEDDING_DIM)
    check_int("seed", seed, 0)
    folder = require_folder(path)
    if kind == "auto":
        kind = _detect(folder)
    if kind == "deam":
        deam = read_deam(folder)
        range_values = deam[list(DEAM_RANGE_COLUMNS)].to_numpy(np.float64)
        has_range = np.isfinite(range_values).any(axis=1).astype(np.float64)
        features = np.column_stack(
            [
                deam[list(DEAM_BASE_COLUMNS[1:])].to_numpy(np.float64),
                range_values,
                has_range,
            ]
        )
        valence = deam["valence_mean"].to_numpy()
        arousal = deam["arousal_mean"].to_numpy()
        cluster = (valence >= 5.0).astype(np.int64) + 2 * (arousal >= 5.0).astype(np.int64)
        titles = tuple(f"DEAM {i}" for i in deam["song_id"])
        return _catalog(
            valence, arousal, features, cluster, titles, f"deam:{folder}", embedding_dim, seed
        )
    if kind == "emomusic":
        emo = read_emomusic(folder)
        genres = sorted(set(emo["genre"]))
        cluster = np.array([genres.index(g) for g in emo["genre"]], dtype=np.int64)
        one_hot = np.eye(len(genres))[cluster]
        curve_columns = [c for c in emo.columns if "_curve_" in c]
        features = np.column_stack([emo[curve_columns].to_numpy(np.float64), one_hot])
        titles = tuple(f"{a} - {t}" for a, t in zip(emo["artist"], emo["title"], strict=True))
        return _catalog(
            emo["valence_mean"].to_numpy(),
            emo["arousal_mean"].to_numpy(),
            features,
            cluster,
            titles,
            f"emomusic:{folder}",
            embedding_dim,
            seed,
        )
    raise ValueError(f"unknown kind {kind!r}; expected 'auto', 'deam' or 'emomusic'")
