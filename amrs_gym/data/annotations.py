"""Readers of real music-emotion annotations (DEAM and emoMusic).

One row per song, with its valence/arousal means on the 1-9 Self-Assessment Manikin scale and its
annotation features.

Data is never bundled: every reader takes the path of the dataset's folder and refuses a file it
cannot use with one message naming the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from amrs_gym.catalog import CatalogError

DEAM_FILES: tuple[str, str] = (
    "static_annotations_averaged_songs_1_2000.csv",
    "static_annotations_averaged_songs_2000_2058.csv",
)
"""The two DEAM song-level static annotation files (ids 2..2000 and 2001..2058)."""

DEAM_SWAP_MAX_ID = 1000
"""DEAM ids up to this one have their valence and arousal columns swapped (see `read_deam`)."""

DEAM_BASE_COLUMNS: tuple[str, ...] = (
    "song_id",
    "valence_mean",
    "valence_std",
    "arousal_mean",
    "arousal_std",
)
DEAM_RANGE_COLUMNS: tuple[str, ...] = tuple(
    f"{dim}_{edge}_{stat}"
    for dim in ("valence", "arousal")
    for edge in ("max", "min")
    for stat in ("mean", "std")
)
"""Per-song max/min statistics, present only for DEAM ids 2001..2058."""

EMOMUSIC_STATIC = "static_annotations.csv"
EMOMUSIC_INFO = "songs_info.csv"
EMOMUSIC_CURVES: dict[str, str] = {
    "valence": "valence_cont_average",
    "arousal": "arousal_cont_average",
    "valence_sd": "valence_cont_std",
    "arousal_sd": "arousal_cont_std",
}
"""Continuous-annotation files (2 Hz curves on [-1, 1]), read as `.csv` or `.csv.gz`."""

EMOMUSIC_STATIC_COLUMNS: tuple[str, ...] = (
    "song_id",
    "mean_arousal",
    "std_arousal",
    "mean_valence",
    "std_valence",
)
EMOMUSIC_INFO_COLUMNS: tuple[str, ...] = ("song_id", "Artist", "Song title", "Genre")

_SAMPLE_COLUMN = re.compile(r"^sample_(\d+)ms$")


def require_folder(path: str | Path) -> Path:
    """`path` as a Path if it is a folder, else a CatalogError naming it."""
    folder = Path(path)
    if not folder.is_dir():
        raise CatalogError(f"dataset folder not found: {folder}")
    return folder


def _normalise_header(name: object) -> str:
    return re.sub(r"_\s+", "_", str(name).strip())


def _read_csv(file: Path, required: tuple[str, ...], **kwargs: object) -> pd.DataFrame:
    """Read a CSV, normalise its header and check that the required columns are there.

    Header names are stripped and whitespace after an underscore is removed, so DEAM's
    `valence_ max_mean` reads as `valence_max_mean`.
    """
    if not file.is_file():
        raise CatalogError(f"dataset file not found: {file}")
    try:
        frame = pd.read_csv(file, **kwargs)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CatalogError(f"cannot read {file}: {exc}") from None
    frame.columns = [_normalise_header(c) for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CatalogError(f"{file} is missing column(s): {', '.join(missing)}")
    return frame


def _numeric(
    frame: pd.DataFrame, columns: tuple[str, ...], file: Path, finite: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Convert columns to float, naming any non-numeric or (for `finite`) missing one."""
    out = frame.copy()
    for column in columns:
        converted = pd.to_numeric(out[column], errors="coerce").astype(np.float64)
        bad = converted.isna() & out[column].notna()
        if bad.any() or (column in finite and converted.isna().any()):
            raise CatalogError(f"{file}: column {column} has non-numeric or missing values")
        out[column] = converted
    return out


def _on_sam_scale(frame: pd.DataFrame, columns: tuple[str, ...], file: Path) -> None:
    """Refuse valence/arousal means outside the 1-9 SAM scale (they would be clipped silently)."""
    for column in columns:
        values = frame[column].to_numpy(dtype=np.float64)
        if values.size and (values.min() < 1.0 or values.max() > 9.0):
            raise CatalogError(
                f"{file}: column {column} must lie on the 1-9 SAM scale, "
                f"found {values.min():g}..{values.max():g}"
            )


def _song_ids(frame: pd.DataFrame, file: Path) -> pd.DataFrame:
    ids = pd.to_numeric(frame["song_id"], errors="coerce")
    if ids.isna().any() or (ids != ids.round()).any():
        raise CatalogError(f"{file}: column song_id has non-integer values")
    frame = frame.assign(song_id=ids.astype(np.int64))
    if frame["song_id"].duplicated().any():
        raise CatalogError(f"{file}: column song_id has duplicate ids")
    return frame


def read_deam(path: str | Path, fix_swap: bool = True) -> pd.DataFrame:
    """Read DEAM's song-level static annotations, on the 1-9 SAM scale, sorted by song_id.

    The swap fix: for ids <= 1000 (the 744 emoMusic clips) DEAM's `valence_*` columns
    hold arousal and its `arousal_*` columns hold valence. Measured against emoMusic's
    static annotations on the 744 shared songs: raw DEAM `valence_mean` vs emoMusic
    `mean_arousal` r = 0.9998 (identical values for 734/744 songs, 98.7%) but vs
    `mean_valence` r = 0.60; the std columns likewise (r = 0.997 swapped vs 0.33);
    against emoMusic's own continuous curves raw DEAM `valence_mean` tracks the arousal
    curve (r = 0.956) rather than the valence curve (r = 0.575). Ids > 1000 have no
    reference; there, as expected for music (and as in emoMusic), arousal spreads more
    than valence (sd 1.30 vs 0.99) while the raw ids <= 1000 show the reverse (1.37 vs
    1.25) and the swapped ones agree again, so the swap is applied to ids <= 1000 only,
    means and stds alike. The rule is fixed here: it does not need emoMusic at run time.

    Args:
        path: The DEAM folder holding `DEAM_FILES`.
        fix_swap: Apply the swap fix (False gives the columns as published).

    Returns:
        Columns `song_id` plus `DEAM_BASE_COLUMNS[1:]` and `DEAM_RANGE_COLUMNS` (NaN for
        songs without them), one row per song.
    """
    folder = require_folder(path)
    parts = []
    for name in DEAM_FILES:
        file = folder / name
        frame = _read_csv(file, DEAM_BASE_COLUMNS, skipinitialspace=True)
        frame = _song_ids(frame, file)
        present = tuple(c for c in DEAM_RANGE_COLUMNS if c in frame.columns)
        frame = _numeric(
            frame, DEAM_BASE_COLUMNS[1:] + present, file, finite=("valence_mean", "arousal_mean")
        )
        _on_sam_scale(frame, ("valence_mean", "arousal_mean"), file)
        parts.append(frame[list(DEAM_BASE_COLUMNS) + list(present)])
    deam = pd.concat(parts, ignore_index=True)
    for column in DEAM_RANGE_COLUMNS:
        if column not in deam.columns:
            deam[column] = np.nan
    if deam["song_id"].duplicated().any():
        dupes = deam.loc[deam["song_id"].duplicated(), "song_id"].tolist()[:5]
        raise CatalogError(f"{folder}: song ids appear in both DEAM files, e.g. {dupes}")
    deam = deam.sort_values("song_id", kind="stable").reset_index(drop=True)
    if fix_swap:
        swap = deam["song_id"].to_numpy() <= DEAM_SWAP_MAX_ID
        for stat in ("mean", "std", "max_mean", "max_std", "min_mean", "min_std"):
            v, a = f"valence_{stat}", f"arousal_{stat}"
            v_values, a_values = deam[v].to_numpy().copy(), deam[a].to_numpy().copy()
            deam[v] = np.where(swap, a_values, v_values)
            deam[a] = np.where(swap, v_values, a_values)
    return deam[list(DEAM_BASE_COLUMNS) + list(DEAM_RANGE_COLUMNS)]


def _curve_file(folder: Path, stem: str) -> Path:
    for suffix in (".csv", ".csv.gz"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    raise CatalogError(f"dataset file not found: {folder / stem}.csv(.gz)")


def _curve_stats(file: Path, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-song mean, std, slope (per second), min and max of one continuous curve file."""
    frame = _song_ids(_read_csv(file, ("song_id",)), file)
    sample_columns = [c for c in frame.columns if _SAMPLE_COLUMN.match(c)]
    if not sample_columns:
        raise CatalogError(f"{file} is missing column(s): sample_<ms>ms")
    missing_ids = np.setdiff1d(ids, frame["song_id"].to_numpy())
    if len(missing_ids):
        raise CatalogError(
            f"{file} lacks {len(missing_ids)} song(s), e.g. {missing_ids[:5].tolist()}"
        )
    frame = _numeric(frame, tuple(sample_columns), file)
    values = frame.set_index("song_id").loc[ids, sample_columns].to_numpy(np.float64)
    seconds = np.array([int(c[len("sample_") : -len("ms")]) for c in sample_columns]) / 1000.0
    mask = np.isfinite(values)
    counts = mask.sum(axis=1)
    if (counts < 2).any():
        bad = ids[counts < 2][:5].tolist()
        raise CatalogError(f"{file}: songs with fewer than 2 curve samples, e.g. {bad}")
    y = np.where(mask, values, 0.0)
    x = np.where(mask, seconds[None, :], 0.0)
    x_mean = x.sum(axis=1) / counts
    y_mean = y.sum(axis=1) / counts
    dx = np.where(mask, seconds[None, :] - x_mean[:, None], 0.0)
    dy = np.where(mask, values - y_mean[:, None], 0.0)
    sxx = (dx * dx).sum(axis=1)
    slope = np.where(sxx > 0, (dx * dy).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
    std = np.sqrt((dy * dy).sum(axis=1) / counts)
    return {
        "mean": y_mean,
        "std": std,
        "slope": slope,
        "min": np.where(mask, values, np.inf).min(axis=1),
        "max": np.where(mask, values, -np.inf).max(axis=1),
    }


def read_emomusic(path: str | Path) -> pd.DataFrame:
    """Read emoMusic: static annotations (1-9 SAM), song info and curve summaries.

    Tabs and surrounding whitespace are stripped from every text value of
    `songs_info.csv`. Curve features, for `valence` and `arousal`: `<dim>_curve_mean`,
    `_std`, `_slope` (per second), `_min`, `_max`; and `<dim>_curve_sd_mean`, the mean of
    the per-sample rater-std curve.

    Args:
        path: The emoMusic folder.

    Returns:
        One row per song of `static_annotations.csv`, sorted by song_id, with columns
        song_id, valence_mean, valence_std, arousal_mean, arousal_std, artist, title,
        genre and the curve features.
    """
    folder = require_folder(path)
    static_file = folder / EMOMUSIC_STATIC
    static = _song_ids(_read_csv(static_file, EMOMUSIC_STATIC_COLUMNS), static_file)
    static = _numeric(
        static, EMOMUSIC_STATIC_COLUMNS[1:], static_file, finite=("mean_valence", "mean_arousal")
    )
    _on_sam_scale(static, ("mean_valence", "mean_arousal"), static_file)
    static = static.sort_values("song_id", kind="stable").reset_index(drop=True)
    ids = static["song_id"].to_numpy()

    info_file = folder / EMOMUSIC_INFO
    info = _read_csv(info_file, EMOMUSIC_INFO_COLUMNS, dtype=str, keep_default_na=False)
    info = info.apply(lambda column: column.str.strip())
    info = _song_ids(info, info_file).set_index("song_id")
    missing_ids = np.setdiff1d(ids, info.index.to_numpy())
    if len(missing_ids):
        raise CatalogError(
            f"{info_file} lacks {len(missing_ids)} song(s), e.g. {missing_ids[:5].tolist()}"
        )
    info = info.loc[ids]

    out = pd.DataFrame(
        {
            "song_id": ids,
            "valence_mean": static["mean_valence"].to_numpy(),
            "valence_std": static["std_valence"].to_numpy(),
            "arousal_mean": static["mean_arousal"].to_numpy(),
            "arousal_std": static["std_arousal"].to_numpy(),
            "artist": info["Artist"].to_numpy(dtype=object),
            "title": info["Song title"].to_numpy(dtype=object),
            "genre": info["Genre"].to_numpy(dtype=object),
        }
    )
    for key, stem in EMOMUSIC_CURVES.items():
        stats = _curve_stats(_curve_file(folder, stem), ids)
        if key.endswith("_sd"):
            out[f"{key[:-3]}_curve_sd_mean"] = stats["mean"]
        else:
            for stat, values in stats.items():
                out[f"{key}_curve_{stat}"] = values
    return out
