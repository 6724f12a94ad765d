import json
from pathlib import Path

import numpy as np
import pytest
import torch

from amrs_gym.catalog import CatalogConfig
from amrs_gym.world_model import checkpoint as checkpoint_module
from amrs_gym.world_model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from amrs_gym.world_model.model import WorldModel, WorldModelConfig


@pytest.fixture(scope="module")
def catalog():
    return CatalogConfig(n_tracks=40, seed=3).create()


@pytest.fixture
def saved(tmp_path, catalog):
    model = WorldModel(
        WorldModelConfig(d_model=16, n_heads=2, ff_dim=32), torch.as_tensor(catalog.embeddings)
    )
    path = save_checkpoint(tmp_path / "m.npz", model, catalog.fingerprint(), {"note": "test"})
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


def _rewrite(path, tmp_path, name: str, **changes) -> object:
    """A copy of the checkpoint at `path` with metadata fields changed."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta.update(changes)
    out = tmp_path / name
    np.savez(out, meta=np.array(json.dumps(meta)), **arrays)
    return out


def test_refuses_another_code_version(saved, catalog, tmp_path) -> None:
    path, _ = saved
    future = _rewrite(
        path, tmp_path, "future.npz", format_version=checkpoint_module.FORMAT_VERSION + 1
    )
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(future, catalog)
    config = json.loads(str(np.load(path)["meta"]))["config"]
    with pytest.raises(CheckpointError, match="has shape"):
        load_checkpoint(
            _rewrite(path, tmp_path, "shape.npz", config={**config, "d_model": 32}), catalog
        )
    with pytest.raises(CheckpointError, match="wings"):
        load_checkpoint(
            _rewrite(path, tmp_path, "unknown.npz", config={**config, "wings": 2}), catalog
        )


class _Exploit:
    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def test_refuses_pickles_and_garbage(tmp_path, catalog, capsys) -> None:
    evil = np.empty(1, dtype=object)
    evil[0] = _Exploit()
    np.savez(tmp_path / "evil.npz", meta=np.array("{}"), payload=evil)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.npz", catalog)
    assert "unpickled arbitrary code" not in capsys.readouterr().out
    torch.save({"format": checkpoint_module.FORMAT, "payload": _Exploit()}, tmp_path / "torch.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "torch.pt", catalog)
    assert "unpickled arbitrary code" not in capsys.readouterr().out
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.npz", catalog)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.npz", catalog)
    np.savez(tmp_path / "other.npz", meta=np.array(json.dumps({"some": "dict"})))
    with pytest.raises(CheckpointError, match="not an amrs-gym"):
        load_checkpoint(tmp_path / "other.npz", catalog)


def test_shipped_checkpoint_fits_the_default_catalog() -> None:
    from amrs_gym import defaults

    model, card = load_checkpoint(defaults.CHECKPOINT_PATH, defaults.default_catalog())
    assert model.n_tracks == defaults.default_catalog().n_tracks
    assert "command" in card  # the model card says how to reproduce it


@pytest.mark.parametrize(
    "config",
    [
        WorldModelConfig(),
        WorldModelConfig(encoder="gru", n_layers=1),
        WorldModelConfig(d_model=16, n_heads=2),
    ],
)
def test_expected_shapes_are_the_torch_modules(config) -> None:
    from amrs_gym.world_model.checkpoint import expected_state_shapes

    model = WorldModel(config, torch.zeros(7, 5))
    assert expected_state_shapes(config, 5) == {
        k: tuple(v.shape) for k, v in model.state_dict().items()
    }


def test_inconsistent_checkpoints_are_refused_naming_the_array(catalog, tmp_path) -> None:
    path = tmp_path / "model.npz"
    save_checkpoint(
        path,
        WorldModel(WorldModelConfig(d_model=16, n_heads=2), catalog.embeddings),
        catalog.fingerprint(),
    )
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}

    def rewrite(**changes) -> Path:
        broken = {**arrays, **changes}
        target = tmp_path / "broken.npz"
        np.savez(target, **{k: v for k, v in broken.items() if v is not None})
        return target

    nan = arrays["state/head.5.bias"].copy()
    nan[0] = np.nan
    with pytest.raises(CheckpointError, match=r"head\.5\.bias holds non-finite"):
        read_checkpoint(rewrite(**{"state/head.5.bias": nan}))
    with pytest.raises(CheckpointError, match=r"memory.weight has shape \(3, 16\)"):
        read_checkpoint(rewrite(**{"state/memory.weight": np.zeros((3, 16), np.float32)}))
    with pytest.raises(CheckpointError, match=r"lacks weights for its config: norm\.bias"):
        read_checkpoint(rewrite(**{"state/norm.bias": None}))
    meta = json.loads(str(arrays["meta"]))
    meta["config"]["d_model"] = "16"
    with pytest.raises(CheckpointError, match="invalid config: d_model must be an integer"):
        read_checkpoint(rewrite(meta=np.array(json.dumps(meta))))
