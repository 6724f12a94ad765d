"""`python -m amrs_gym.data export` takes a relative --out and leaves nothing behind when it fails.

The bundle here is tiny (20 listeners, one epoch, about 3 s): these tests are about paths, not
about the dataset (tests/bundle/test_export.py checks that on a real bundle).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amrs_gym import defaults
from amrs_gym.bundle.build import BuildSettings, BundleSource, build_bundle
from amrs_gym.data.__main__ import main
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.world_model.training import TrainConfig

DATASET_ID = "amrs-calm-logged-v0"


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    catalog = defaults.default_catalog()
    dataset = DatasetConfig(n_listeners=20, n_sessions=40, seed=3).create(catalog=catalog)
    out = tmp_path_factory.mktemp("export") / "bundle"
    settings = BuildSettings(training=TrainConfig(epochs=1), workers=1)
    build_bundle(out, BundleSource(dataset.logs, catalog, "tiny"), settings, progress=False)
    return out


def _export(bundle: Path, out: str) -> int:
    return main(
        ["export", "--bundle", str(bundle), "--mode", "calm", "--format", "minari", "--out", out]
    )


def test_minari_export_to_a_relative_out(tiny_bundle, tmp_path, monkeypatch) -> None:
    minari = pytest.importorskip("minari")
    monkeypatch.chdir(tmp_path)
    assert _export(tiny_bundle, "out/expm") == 0
    written = tmp_path / "out" / "expm"
    assert sorted(p.name for p in written.iterdir()) == [DATASET_ID]  # no staging left
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(written))
    assert minari.load_dataset(DATASET_ID).total_episodes > 0


def test_a_failed_export_leaves_no_empty_folder(tiny_bundle, tmp_path, monkeypatch, capsys):
    minari = pytest.importorskip("minari")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", fail)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kept").mkdir()
    assert _export(tiny_bundle, "kept/new/expm") == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "error: disk full" and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]  # it was there before
    assert not any((tmp_path / "kept").iterdir())
