"""Tests of the DEAM / emoMusic catalog loaders: real data when present, tiny made-up folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amrs_gym.catalog import CatalogError
from amrs_gym.data.annotated_catalog import (
    energy_from_arousal,
    load_annotated_catalog,
    sam_to_unit,
    tempo_from_energy,
)
from amrs_gym.data.annotations import DEAM_FILES, EMOMUSIC_CURVES, read_deam, read_emomusic

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEAM = SHARED_DATA / "deam"
EMOMUSIC = SHARED_DATA / "emomusic_1000songs"
needs_deam = pytest.mark.skipif(not DEAM.is_dir(), reason=f"{DEAM} not present")
needs_emomusic = pytest.mark.skipif(not EMOMUSIC.is_dir(), reason=f"{EMOMUSIC} not present")


def _check_common(catalog, n: int, dim: int = 16) -> None:
    assert catalog.n_tracks == n
    assert catalog.embeddings.shape == (n, dim)
    assert catalog.embeddings.dtype == np.float32
    assert np.isfinite(catalog.embeddings).all()
    assert np.linalg.norm(catalog.embeddings, axis=1).mean() == pytest.approx(1.0, rel=1e-4)
    for name in ("valence", "arousal"):
        values = getattr(catalog, name)
        assert values.min() >= -1.0 and values.max() <= 1.0
        assert values.std() > 0.2  # real spread, not a constant
    assert np.all((catalog.energy > 0) & (catalog.energy < 1))
    np.testing.assert_allclose(catalog.energy, 1 / (1 + np.exp(-2 * catalog.arousal)))
    order = np.argsort(catalog.arousal, kind="stable")
    assert np.all(np.diff(catalog.energy[order]) >= 0)  # monotone in arousal
    np.testing.assert_allclose(catalog.tempo, 70 + 90 * catalog.energy)
    assert np.all(catalog.popularity == 0.5)
    assert catalog.cluster.dtype == np.int64
    assert len(catalog.titles) == n


def test_sam_mapping_and_derived_descriptors() -> None:
    np.testing.assert_allclose(sam_to_unit([1, 3, 5, 7, 9, 0, 10]), [-1, -0.5, 0, 0.5, 1, -1, 1])
    assert energy_from_arousal(np.array([0.0]))[0] == pytest.approx(0.5)
    np.testing.assert_allclose(tempo_from_energy(np.array([0.0, 1.0])), [70.0, 160.0])


@needs_deam
def test_deam_catalog() -> None:
    catalog = load_annotated_catalog(DEAM)
    _check_common(catalog, 1802)
    assert catalog.source == f"deam:{DEAM}"
    assert catalog.titles[0] == "DEAM 2" and catalog.titles[-1] == "DEAM 2058"
    assert set(np.unique(catalog.cluster)) == {0, 1, 2, 3}
    quadrant = (catalog.valence >= 0).astype(int) + 2 * (catalog.arousal >= 0).astype(int)
    np.testing.assert_array_equal(catalog.cluster, quadrant)
    assert load_annotated_catalog(DEAM, kind="deam").fingerprint() == catalog.fingerprint()


@needs_deam
def test_deam_reader_counts_and_range_columns() -> None:
    deam = read_deam(DEAM)
    assert len(deam) == 1802
    assert deam["song_id"].is_unique and deam["song_id"].is_monotonic_increasing
    assert (deam["song_id"] <= 1000).sum() == 744
    has_range = deam["valence_max_mean"].notna()
    assert has_range.sum() == 58 and (deam.loc[has_range, "song_id"] > 2000).all()
    assert deam[["valence_mean", "arousal_mean"]].stack().between(1, 9).all()


@needs_deam
@needs_emomusic
def test_deam_swap_fix_agrees_with_emomusic() -> None:
    emo = read_emomusic(EMOMUSIC).set_index("song_id")
    fixed = read_deam(DEAM).set_index("song_id").loc[emo.index]
    raw = read_deam(DEAM, fix_swap=False).set_index("song_id").loc[emo.index]
    assert len(emo) == 744
    for dim, other in (("valence", "arousal"), ("arousal", "valence")):
        emo_mean = emo[f"{dim}_mean"]
        assert np.corrcoef(fixed[f"{dim}_mean"], emo_mean)[0, 1] > 0.99
        assert np.corrcoef(raw[f"{dim}_mean"], emo_mean)[0, 1] < 0.9  # as published: swapped
        assert np.corrcoef(raw[f"{other}_mean"], emo_mean)[0, 1] > 0.99
        assert np.corrcoef(fixed[f"{dim}_std"], emo[f"{dim}_std"])[0, 1] > 0.9
        # emoMusic's own continuous curve backs its static label.
        assert np.corrcoef(fixed[f"{dim}_mean"], emo[f"{dim}_curve_mean"])[0, 1] > 0.9
    assert np.isclose(fixed["valence_mean"], emo["valence_mean"], atol=0.01).mean() > 0.98

    # The same holds for the catalogs themselves (DEAM rows of ids <= 1000 are emoMusic's).
    deam_catalog = load_annotated_catalog(DEAM)
    emo_catalog = load_annotated_catalog(EMOMUSIC)
    ids = np.array([int(title.split()[1]) for title in deam_catalog.titles])
    shared = ids <= 1000
    np.testing.assert_array_equal(ids[shared], emo.index.to_numpy())
    for dim in ("valence", "arousal"):
        r = np.corrcoef(getattr(deam_catalog, dim)[shared], getattr(emo_catalog, dim))[0, 1]
        assert r > 0.9


@needs_emomusic
def test_emomusic_catalog() -> None:
    catalog = load_annotated_catalog(EMOMUSIC)
    _check_common(catalog, 744)
    assert catalog.source == f"emomusic:{EMOMUSIC}"
    assert catalog.titles[0] == "The New Mystikal Troubadours - Tonight  A Lonely Century"
    assert all("\t" not in title and " - " in title for title in catalog.titles)
    emo = read_emomusic(EMOMUSIC)
    genres = sorted(set(emo["genre"]))
    assert genres == ["Blues", "Classical", "Country", "Electronic", "Folk", "Jazz", "Pop", "Rock"]
    np.testing.assert_array_equal(catalog.cluster, [genres.index(g) for g in emo["genre"]])
    np.testing.assert_allclose(catalog.valence, np.clip((emo["valence_mean"] - 5) / 4, -1, 1))
    # The content embedding predicts affect well but was built from the curves, not the labels.
    design = np.column_stack([catalog.embeddings, np.ones(catalog.n_tracks)])
    for target in (catalog.valence, catalog.arousal):
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        r2 = 1 - np.mean((design @ coef - target) ** 2) / target.var()
        assert 0.6 < r2 < 0.999


@needs_emomusic
def test_embedding_is_seeded_and_sized() -> None:
    a = load_annotated_catalog(EMOMUSIC, embedding_dim=8, seed=3)
    b = load_annotated_catalog(EMOMUSIC, embedding_dim=8, seed=3)
    c = load_annotated_catalog(EMOMUSIC, embedding_dim=8, seed=4)
    wide = load_annotated_catalog(EMOMUSIC, embedding_dim=40, seed=3)
    assert a.embedding_dim == 8 and wide.embedding_dim == 40
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    assert not np.allclose(a.embeddings, c.embeddings)
    # An orthonormal projection keeps the geometry: pairwise distances match across seeds
    # whenever the projection is no smaller than the feature count (20 features here).
    d = load_annotated_catalog(EMOMUSIC, embedding_dim=40, seed=9)

    def gram(embeddings: np.ndarray) -> np.ndarray:
        head = embeddings[:50] / np.linalg.norm(embeddings, axis=1).mean()
        return head @ head.T

    np.testing.assert_allclose(gram(wide.embeddings), gram(d.embeddings), atol=1e-4)


# --- tiny made-up folders: always run --------------------------------------------------


def _write_deam(folder: Path, drop: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = pd.DataFrame(
        {
            "song_id": [2, 3, 1001, 1002],
            "valence_mean": [3.0, 7.0, 6.0, 2.0],
            "valence_std": [1.0, 1.1, 1.2, 1.3],
            "arousal_mean": [8.0, 4.0, 9.0, 3.0],
            "arousal_std": [2.0, 2.1, 2.2, 2.3],
        }
    )
    if drop:
        base = base.drop(columns=[drop])
    base.columns = [base.columns[0], *(f" {c}" for c in base.columns[1:])]  # DEAM's spaces
    base.to_csv(folder / DEAM_FILES[0], index=False)
    late = pd.DataFrame(
        {
            "song_id": [2001, 2002],
            "valence_mean": [4.0, 6.0],
            "valence_std": [1.0, 1.0],
            " valence_ max_mean": [6.0, 8.0],
            " valence_max_std": [1.0, 1.0],
            " valence_min_mean": [2.0, 4.0],
            " valence_min_std": [1.0, 1.0],
            "arousal_mean": [7.0, 3.0],
            "arousal_std": [1.5, 1.5],
            " arousal_max_mean": [9.0, 5.0],
            " arousal_max_std": [1.0, 1.0],
            " arousal_min_mean": [5.0, 1.0],
            " arousal_min_std": [1.0, 1.0],
        }
    )
    late.to_csv(folder / DEAM_FILES[1], index=False)
    return folder


def test_made_up_deam_swap_rule_and_mapping(tmp_path: Path) -> None:
    folder = _write_deam(tmp_path / "deam")
    catalog = load_annotated_catalog(folder, embedding_dim=6)
    assert catalog.n_tracks == 6 and catalog.source == f"deam:{folder}"
    # ids <= 1000 swapped: valence comes from the arousal column; ids > 1000 as published.
    np.testing.assert_allclose(catalog.valence, [0.75, -0.25, 0.25, -0.75, -0.25, 0.25])
    np.testing.assert_allclose(catalog.arousal, [-0.5, 0.5, 1.0, -0.5, 0.5, -0.5])
    np.testing.assert_array_equal(catalog.cluster, [1, 2, 3, 0, 2, 1])
    deam = read_deam(folder)
    assert deam.loc[deam.song_id == 2001, "valence_max_mean"].item() == 6.0
    assert deam["valence_max_mean"].isna().sum() == 4


def test_missing_folder_file_and_column_are_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="folder not found"):
        load_annotated_catalog(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match="neither DEAM"):
        load_annotated_catalog(tmp_path / "empty")
    folder = _write_deam(tmp_path / "no_second")
    (folder / DEAM_FILES[1]).unlink()
    with pytest.raises(CatalogError, match=DEAM_FILES[1]):
        load_annotated_catalog(folder, kind="deam")
    with pytest.raises(CatalogError, match="arousal_std"):
        load_annotated_catalog(_write_deam(tmp_path / "no_column", drop="arousal_std"))
    with pytest.raises(CatalogError, match=r"static_annotations.csv"):
        load_annotated_catalog(folder, kind="emomusic")


def _write_emomusic(folder: Path, skip_curve: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [2, 3, 5]
    pd.DataFrame(
        {
            "song_id": ids,
            "mean_arousal": [2.0, 5.0, 8.0],
            "std_arousal": [1.0, 1.0, 1.0],
            "mean_valence": [3.0, 7.0, 5.0],
            "std_valence": [1.0, 1.0, 1.0],
        }
    ).to_csv(folder / "static_annotations.csv", index=False)
    info = (
        '"song_id","file_name","Artist","Song title","Genre","Mediaeval 2013 set"\n'
        '2,"\t2.mp3","Band A\t","\tSong One\t","\tRock\t","development"\n'
        '3,"\t3.mp3","Band B\t","\tSong Two\t","\tBlues\t","evaluation"\n'
        '5,"\t5.mp3","Band C\t","\tSong Three\t","\tRock\t","development"\n'
    )
    (folder / "songs_info.csv").write_text(info, encoding="utf-8")
    rng = np.random.default_rng(0)
    columns = [f"sample_{ms}ms" for ms in range(15000, 20000, 500)]
    for stem in EMOMUSIC_CURVES.values():
        if stem == skip_curve:
            continue
        curves = pd.DataFrame(rng.uniform(-1, 1, (3, len(columns))), columns=columns)
        curves.insert(0, "song_id", ids)
        curves.to_csv(folder / f"{stem}.csv.gz", index=False)
    return folder


def test_made_up_emomusic(tmp_path: Path) -> None:
    folder = _write_emomusic(tmp_path / "emo")
    catalog = load_annotated_catalog(folder, embedding_dim=4)
    assert catalog.titles == ("Band A - Song One", "Band B - Song Two", "Band C - Song Three")
    np.testing.assert_array_equal(catalog.cluster, [1, 0, 1])  # Blues = 0, Rock = 1
    np.testing.assert_allclose(catalog.valence, [-0.5, 0.5, 0.0])
    np.testing.assert_allclose(catalog.arousal, [-0.75, 0.0, 0.75])
    emo = read_emomusic(folder)
    curve = pd.read_csv(folder / "valence_cont_average.csv.gz").iloc[0, 1:].to_numpy(float)
    seconds = np.arange(15.0, 20.0, 0.5)
    assert emo["valence_curve_slope"].iloc[0] == pytest.approx(np.polyfit(seconds, curve, 1)[0])
    assert emo["valence_curve_max"].iloc[0] == pytest.approx(curve.max())


def test_made_up_emomusic_missing_curve_file(tmp_path: Path) -> None:
    folder = _write_emomusic(tmp_path / "emo", skip_curve="arousal_cont_std")
    with pytest.raises(CatalogError, match="arousal_cont_std"):
        load_annotated_catalog(folder)


def test_means_off_the_sam_scale_are_refused_not_clipped(tmp_path: Path) -> None:
    folder = _write_deam(tmp_path / "deam")
    file = folder / DEAM_FILES[0]
    frame = pd.read_csv(file)
    frame[" arousal_mean"] = frame[" arousal_mean"].replace(9.0, 19.0)
    frame.to_csv(file, index=False)
    with pytest.raises(
        CatalogError, match=r"arousal_mean must lie on the 1-9 SAM scale, found 3\.\.19"
    ):
        load_annotated_catalog(folder)
