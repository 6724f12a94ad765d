import dataclasses
import io
import pickle
import subprocess
import sys

import pytest
import torch

from amrs_gym.catalog import CatalogConfig
from amrs_gym.world_model import checkpoint as checkpoint_module
from amrs_gym.world_model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from amrs_gym.world_model.model import WorldModel, WorldModelConfig


@pytest.fixture(scope="module")
def catalog():
    return CatalogConfig(n_tracks=40, seed=3).create()


@pytest.fixture
def saved(tmp_path, catalog):
    model = WorldModel(WorldModelConfig(d_model=16, n_heads=2, ff_dim=32), torch.as_tensor(catalog.embeddings))
    path = save_checkpoint(tmp_path / "m.pt", model, catalog.fingerprint(), {"note": "test"})
    return path, model


def test_round_trip(saved, catalog) -> None:
    path, model = saved
    loaded, card = load_checkpoint(path, catalog)
    assert card == {"note": "test"} and not loaded.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_refuses_another_catalog(saved) -> None:
    path, _ = saved
    other = CatalogConfig(n_tracks=40, seed=4).create()
    with pytest.raises(CheckpointError, match="another catalog"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match="40 tracks"):
        load_checkpoint(path, CatalogConfig(n_tracks=41, seed=3).create())


def test_refuses_another_code_version(saved, catalog, tmp_path) -> None:
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = checkpoint_module.FORMAT_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(tmp_path / "future.pt", catalog)
    payload["format_version"] = checkpoint_module.FORMAT_VERSION
    payload["config"] = {**payload["config"], "d_model": 32}
    torch.save(payload, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(tmp_path / "shape.pt", catalog)
    payload["config"] = {**payload["config"], "wings": 2}
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(CheckpointError, match="wings"):
        load_checkpoint(tmp_path / "unknown.pt", catalog)


class _Exploit:
    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def test_refuses_arbitrary_pickles_and_garbage(tmp_path, catalog, capsys) -> None:
    with open(tmp_path / "evil.pt", "wb") as handle:
        torch.save({"format": checkpoint_module.FORMAT, "payload": _Exploit()}, handle)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_checkpoint(tmp_path / "evil.pt", catalog)
    assert "unpickled arbitrary code" not in capsys.readouterr().out
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt", catalog)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt", catalog)
    torch.save({"some": "dict"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an amrs-gym"):
        load_checkpoint(tmp_path / "other.pt", catalog)


def test_shipped_checkpoint_loads_fast_and_fits_the_default_catalog() -> None:
    code = (
        "import time; from amrs_gym import defaults; from amrs_gym.world_model import load_checkpoint;"
        "t=time.perf_counter(); load_checkpoint(defaults.CHECKPOINT_PATH, defaults.default_catalog());"
        "print(time.perf_counter()-t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) < 2.0
