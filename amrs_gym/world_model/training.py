"""Fitting a world model.

Masked joint losses, early stopping, optional distributed data parallel.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from amrs_gym.validation import check_fields
from amrs_gym.world_model.features import SessionTensors
from amrs_gym.world_model.model import Prediction, WorldModel

MIN_SCHEDULE_STEPS = 20
"""The learning-rate schedule spans at least this many steps (a short run stops inside it)."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings."""

    epochs: int = field(default=30, metadata={"min": 1})
    """Most passes over the training sessions."""
    batch_size: int = field(default=128, metadata={"min": 1})
    """Sessions per gradient step (per process under DDP)."""
    learning_rate: float = field(default=3e-3, metadata={"min": 1e-12})
    """Peak AdamW learning rate of the one-cycle schedule (warm-up 10%, then cosine decay)."""
    weight_decay: float = field(default=1e-4, metadata={"min": 0})
    """AdamW weight decay."""
    patience: int = field(default=8, metadata={"min": 1})
    """Stop after this many epochs without a better validation loss (long enough for the decay to
    pay)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of initialisation and batch order."""

    def __post_init__(self) -> None:
        check_fields(self)


def masked_losses(prediction: Prediction, batch: SessionTensors) -> dict[str, torch.Tensor]:
    """Per-head mean losses over the rows that carry a label; missing labels contribute nothing."""
    rows = batch.valid & batch.scored
    losses: dict[str, torch.Tensor] = {}

    def mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        count = mask.sum()
        return (values * mask).sum() / count.clamp_min(1)

    losses["skip"] = mean(
        F.binary_cross_entropy_with_logits(prediction.skip_logit, batch.skipped, reduction="none"),
        rows,
    )
    bins = prediction.engagement_logits.shape[-1]
    target_bin = (batch.engagement * bins).long().clamp(0, bins - 1)
    kept_or_skipped = batch.skipped.long()  # index 0 kept, 1 skipped
    logits = prediction.engagement_logits.gather(
        -2, kept_or_skipped[..., None, None].expand(*kept_or_skipped.shape, 1, bins)
    ).squeeze(-2)
    losses["engagement"] = mean(
        F.cross_entropy(logits.reshape(-1, bins), target_bin.reshape(-1), reduction="none").view_as(
            batch.skipped
        ),
        rows,
    )
    rated = rows & ~torch.isnan(batch.rating)
    losses["like"] = mean(
        F.binary_cross_entropy_with_logits(
            prediction.like_logit, torch.nan_to_num(batch.rating), reduction="none"
        ),
        rated,
    )
    for name, mean_, log_std in (
        ("valence", prediction.valence_mean, prediction.valence_log_std),
        ("arousal", prediction.arousal_mean, prediction.arousal_log_std),
    ):
        target = getattr(batch, name)
        reported = rows & ~torch.isnan(target)
        nll = 0.5 * ((torch.nan_to_num(target) - mean_) / log_std.exp()) ** 2 + log_std
        losses[name] = mean(nll, reported)
    return losses


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """The joint objective: an unweighted sum of the heads' losses."""
    return sum(losses.values(), torch.zeros(()))


def _length_bucketed_batches(
    lengths: torch.Tensor,
    batch_size: int,
    rank: int,
    world: int,
    steps: int,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    """This process's `steps` batches for one epoch.

    Shuffled, then grouped by similar length inside chunks of 32 batches so little compute goes to
    padding; batch order shuffled again.
    """
    order = torch.randperm(len(lengths), generator=generator)
    shard = order[rank::world]
    shard = shard.repeat(1 + (steps * batch_size) // max(len(shard), 1))[: steps * batch_size]
    chunk = 32 * batch_size
    batches = []
    for start in range(0, len(shard), chunk):
        part = shard[start : start + chunk]
        part = part[torch.argsort(lengths[part], stable=True)]
        # torch's Tensor.split is unannotated
        batches += list(part.split(batch_size))  # type: ignore[no-untyped-call]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises a gloo process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


@torch.no_grad()
def validation_loss(model: WorldModel, data: SessionTensors, batch_size: int = 256) -> float:
    """Mean joint loss over `data` (sessions weighted equally per batch)."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        batch = data.index(slice(start, start + batch_size))
        total += float(total_loss(masked_losses(model(batch), batch))) * len(batch)
        count += len(batch)
    return total / max(count, 1)


def fit(
    model: WorldModel,
    train: SessionTensors,
    val: SessionTensors,
    config: TrainConfig,
    progress: bool = True,
) -> dict[str, object]:
    """Train with AdamW and early stopping; under torchrun, as distributed data parallel.

    Returns the training history (per-epoch losses, best epoch, seconds). The model
    ends with its best validation weights loaded.
    """
    rank, world = _distributed()
    generator = torch.Generator().manual_seed(config.seed)
    ddp: torch.nn.Module = model
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(train) / (config.batch_size * world))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        # at least 20 steps: torch's schedule divides by zero when 10% of them is one step
        total_steps=max(MIN_SCHEDULE_STEPS, steps_per_epoch * config.epochs),
        pct_start=0.1,
    )
    best, best_state, best_epoch, bad = math.inf, None, -1, 0
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    bar = tqdm(range(config.epochs), desc="world model", disable=not progress or rank != 0)
    for epoch in bar:
        model.train()
        batches = _length_bucketed_batches(
            train.lengths, config.batch_size, rank, world, steps_per_epoch, generator
        )
        running = 0.0
        for rows in batches:
            batch = train.index(rows)
            loss = total_loss(masked_losses(ddp(batch), batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward is unannotated
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += float(loss.detach())
        val_loss = validation_loss(model, val)
        if world > 1:  # every process decides on the same averaged number
            reduced = torch.tensor([val_loss])
            dist.all_reduce(reduced)
            val_loss = float(reduced) / world
        history.append(
            {"epoch": epoch, "train_loss": running / steps_per_epoch, "val_loss": val_loss}
        )
        bar.set_postfix(train=f"{running / steps_per_epoch:.3f}", val=f"{val_loss:.3f}")
        if val_loss < best - 1e-4:
            best, best_epoch, bad = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {
        "epochs": history,
        "best_epoch": best_epoch,
        "best_val_loss": best,
        "seconds": time.perf_counter() - started,
        "world_size": world,
        "rank": rank,
    }
