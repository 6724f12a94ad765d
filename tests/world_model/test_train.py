import subprocess
import sys

import pytest
import torch

from amrs_gym.bundle import Bundle
from amrs_gym.world_model.checkpoint import load_checkpoint


def _train(tmp_path, *launcher: str) -> tuple:
    out = tmp_path / "bundle"
    command = [*launcher, "-m", "amrs_gym.world_model.train", "--quick", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = Bundle.load(out)
    return load_checkpoint(bundle.checkpoint, bundle.catalog)


@pytest.mark.slow
def test_two_process_ddp_run_trains_and_writes_a_loadable_bundle(tmp_path) -> None:
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
    ]
    model, card = _train(tmp_path, *torchrun)
    assert card["world_size"] == 2
    assert card["train_sessions"] > 0 and card["best_epoch"] >= 0
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.slow
def test_single_process_training_is_reproducible(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, card = _train(tmp_path / "a", sys.executable)
    second, _ = _train(tmp_path / "b", sys.executable)
    assert card["world_size"] == 1
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_a_run_of_ten_steps_trains(small_dataset, batch) -> None:
    """Ten optimiser steps in all: torch's one-cycle schedule alone would divide by zero."""
    from amrs_gym.world_model.model import WorldModel, WorldModelConfig
    from amrs_gym.world_model.training import TrainConfig, fit

    model = WorldModel(
        WorldModelConfig(d_model=16, n_heads=2, ff_dim=16), small_dataset.catalog.embeddings
    )
    config = TrainConfig(epochs=10, batch_size=len(batch), patience=10)  # one step per epoch
    history = fit(model, batch, batch, config, progress=False)
    losses = [epoch["train_loss"] for epoch in history["epochs"]]
    assert len(losses) == 10 and losses[-1] < losses[0]
