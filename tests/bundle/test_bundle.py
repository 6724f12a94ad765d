"""Bundles are checked whole when loaded: every mismatch refused in one line naming both sides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amrs_gym import defaults
from amrs_gym.bundle import Bundle, BundleError, NoTruthError
from amrs_gym.catalog import CatalogConfig


@pytest.fixture()
def shipped_copy(tmp_path):
    """A copy of the shipped bundle to break."""
    return Path(shutil.copytree(defaults.ASSETS, tmp_path / "bundle"))


def test_the_shipped_bundle_holds_together() -> None:
    bundle = defaults.default_bundle()
    assert bundle.has_truth and bundle.catalog.n_tracks == 1200
    parts = bundle.listeners
    assert not np.intersect1d(parts["train"], parts["test"]).size
    assert set(bundle.start_sessions["listener_id"]) == set(parts["test"])
    split = bundle.split
    assert set(split.train["listener_id"]) == set(parts["train"])
    assert not set(split.test.columns) & {"latent_valence_before", "latent_arousal_before"}
    card = bundle.fidelity
    assert card["world_model"]["engagement_auc"] > card["history_free"]["engagement_auc"]
    assert card["oracle"]["engagement_auc"] > card["world_model"]["engagement_auc"]


def test_an_edited_or_missing_ensemble_member_is_refused(shipped_copy) -> None:
    member = shipped_copy / "member_2.npz"
    member.write_bytes(member.read_bytes()[:-10] + bytes(10))
    with pytest.raises(BundleError, match=r"member_2\.npz has SHA-256"):
        Bundle.load(shipped_copy)
    member.unlink()
    with pytest.raises(BundleError, match=r"missing member_2\.npz"):
        Bundle.load(shipped_copy)


def test_another_catalog_is_refused_naming_both_fingerprints(shipped_copy) -> None:
    CatalogConfig(seed=9).create().save(shipped_copy / "catalog.parquet")
    with pytest.raises(BundleError, match=r"fingerprint \w+, the manifest says 6a15ed788755441b"):
        Bundle.load(shipped_copy)


def test_an_edited_split_or_manifest_is_refused(shipped_copy) -> None:
    split = json.loads((shipped_copy / "split.json").read_text())
    split["test"].append(split["train"].pop())
    (shipped_copy / "split.json").write_text(json.dumps(split))
    with pytest.raises(BundleError, match=r"split\.json has SHA-256"):
        Bundle.load(shipped_copy)


def test_a_manifest_whose_fingerprint_does_not_match_is_refused(shipped_copy) -> None:
    manifest = json.loads((shipped_copy / "bundle.json").read_text())
    manifest["catalog"]["n_tracks"] = 5
    (shipped_copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="fingerprint does not match"):
        Bundle.load(shipped_copy)


def test_missing_pieces_and_non_bundles_are_named(shipped_copy, tmp_path) -> None:
    (shipped_copy / "world_model.npz").unlink()
    with pytest.raises(BundleError, match=r"missing world_model\.npz"):
        Bundle.load(shipped_copy)
    with pytest.raises(BundleError, match=r"no bundle\.json"):
        Bundle.load(tmp_path)


def test_edited_start_sessions_are_refused(shipped_copy) -> None:
    start = pd.read_parquet(shipped_copy / "start_sessions.parquet")
    train = json.loads((shipped_copy / "split.json").read_text())["train"][0]
    start.loc[start.index[:3], "listener_id"] = train
    start.to_parquet(shipped_copy / "start_sessions.parquet")
    with pytest.raises(BundleError, match=r"start_sessions\.parquet has fingerprint"):
        Bundle.load(shipped_copy)


def test_a_bundle_without_truth_says_so(platform_bundle) -> None:
    bundle = Bundle.load(platform_bundle)
    assert not bundle.has_truth and bundle.dataset_config is None
    with pytest.raises(NoTruthError, match="has no reference world"):
        bundle.reference_world()
    assert np.isnan(bundle.logs["propensity"]).all()


def test_an_edited_world_or_catalog_descriptor_is_refused(shipped_copy) -> None:
    world = json.loads((shipped_copy / "world.json").read_text())
    world["dataset"]["world"]["affect_noise"] *= 3
    (shipped_copy / "world.json").write_text(json.dumps(world))
    with pytest.raises(BundleError, match=r"world\.json has SHA-256"):
        Bundle.load(shipped_copy)


def test_the_world_config_round_trips_exactly() -> None:
    from amrs_gym.data.generate import DatasetConfig

    assert defaults.default_bundle().dataset_config == DatasetConfig().resolved()


def test_the_frame_fingerprint_ignores_last_bit_rounding_but_not_edits() -> None:
    from amrs_gym.bundle.bundle import frame_fingerprint

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"track_id": np.arange(1000), "valence": rng.uniform(-1, 1, 1000)})
    another_cpu = frame.assign(valence=np.nextafter(frame["valence"], np.inf))  # one ulp away
    edited = frame.assign(valence=frame["valence"] + 1e-5)
    assert frame_fingerprint(another_cpu) == frame_fingerprint(frame)
    assert frame_fingerprint(edited) != frame_fingerprint(frame)
    assert frame_fingerprint(frame.assign(track_id=frame["track_id"] + 1)) != frame_fingerprint(
        frame
    )


def test_a_bundle_of_another_format_version_is_refused(shipped_copy) -> None:
    manifest = json.loads((shipped_copy / "bundle.json").read_text())
    (shipped_copy / "bundle.json").write_text(json.dumps({**manifest, "version": 1}))
    with pytest.raises(BundleError, match="format version 1, this code reads 2"):
        Bundle.load(shipped_copy)
