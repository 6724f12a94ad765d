"""`Catalog.load` refuses a bad catalog file with one line naming the column, the value and the
rule (data/README.md, "Catalog files"), and never silently rewrites a value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amrs_gym.catalog import Catalog, CatalogError

N_TRACKS, DIM = 12, 8


def _frame() -> pd.DataFrame:
    """A valid hand-made catalog: 12 tracks, 8-dimensional embeddings."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "track_id": np.arange(N_TRACKS),
            "valence": rng.uniform(-0.9, 0.9, N_TRACKS),
            "arousal": rng.uniform(-0.9, 0.9, N_TRACKS),
            "energy": rng.uniform(0, 1, N_TRACKS),
            "tempo": rng.uniform(60, 180, N_TRACKS),
            "popularity": rng.uniform(0, 1, N_TRACKS),
            "cluster": rng.integers(0, 4, N_TRACKS),
        }
    )
    for k in range(DIM):
        frame[f"emb_{k}"] = rng.normal(size=N_TRACKS)
    return frame


def _set(frame: pd.DataFrame, column: str, row: int, value: float) -> pd.DataFrame:
    if isinstance(value, float):
        frame[column] = frame[column].astype(np.float64)
    frame.loc[row, column] = value
    return frame


def _zero_embeddings(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    frame.loc[rows, [f"emb_{k}" for k in range(DIM)]] = 0.0
    return frame


def _load_error(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    with pytest.raises(CatalogError) as info:
        Catalog.load(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_valid_hand_made_catalog_loads(tmp_path) -> None:
    _frame().to_csv(tmp_path / "c.csv", index=False)
    catalog = Catalog.load(tmp_path / "c.csv")
    assert catalog.n_tracks == N_TRACKS and catalog.embedding_dim == DIM
    assert catalog.cluster.dtype == np.int64


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        # a fractional cluster was truncated (2.5 -> 2)
        (lambda f: _set(f, "cluster", 3, 2.5), ["cluster:", "integer", "track_id 3", "2.5"]),
        # a gap in emb_0..emb_7 gave 7-dimensional embeddings
        (lambda f: f.drop(columns=["emb_3"]), ["emb_3:", "missing", "emb_0 .. emb_7"]),
        (lambda f: _set(f, "tempo", 3, -20.0), ["tempo:", "> 0", "track_id 3", "-20"]),
        (lambda f: _set(f, "tempo", 5, 0.0), ["tempo:", "> 0", "track_id 5: 0"]),
        (
            lambda f: _zero_embeddings(f, [2, 7]),
            ["embeddings:", "non-zero norm", "track_id 2, 7"],
        ),
        (
            lambda f: _zero_embeddings(f, list(range(N_TRACKS))),
            ["embeddings:", "track_id 0, 1, 2 and 9 more"],
        ),
        (lambda f: f.assign(emb_x=1.0), ["emb_x:", "not an embedding column"]),
        (lambda f: _set(f, "valence", 4, 5.0), ["valence:", "[-1, 1]", "track_id 4: 5"]),
        (lambda f: f.assign(energy=f["energy"].astype(str) + "x"), ["energy:", "expected numbers"]),
        (lambda f: _set(f, "track_id", 3, 100), ["track_id:", "in order", "track_id 3: 100"]),
        (lambda f: f.iloc[:0], ["track_id:", "no rows"]),
    ],
    ids=[
        "cluster-fraction",
        "embedding-gap",
        "tempo-negative",
        "tempo-zero",
        "embedding-zero",
        "embeddings-all-zero",
        "embedding-misnamed",
        "valence-out-of-range",
        "energy-text",
        "track-id-order",
        "header-only",
    ],
)
def test_a_bad_catalog_is_refused_in_one_line_naming_column_and_value(
    mutate, words, tmp_path
) -> None:
    message = _load_error(mutate(_frame()), tmp_path / "c.csv")
    assert message.startswith(str(tmp_path / "c.csv")), message
    for word in words:
        assert word in message, message


def test_arrays_are_checked_too() -> None:
    catalog = Catalog.from_frame(_frame())
    with pytest.raises(CatalogError, match=r"^tempo: must be > 0 .*track_id 0: 0"):
        Catalog(
            embeddings=catalog.embeddings,
            valence=catalog.valence,
            arousal=catalog.arousal,
            energy=catalog.energy,
            tempo=np.zeros(N_TRACKS),
            popularity=catalog.popularity,
            cluster=catalog.cluster,
        )
    with pytest.raises(CatalogError, match=r"^embeddings: all-zero embedding.*track_id 1$"):
        Catalog(
            embeddings=np.where(np.arange(N_TRACKS)[:, None] == 1, 0, catalog.embeddings),
            valence=catalog.valence,
            arousal=catalog.arousal,
            energy=catalog.energy,
            tempo=catalog.tempo,
            popularity=catalog.popularity,
            cluster=catalog.cluster,
        )
