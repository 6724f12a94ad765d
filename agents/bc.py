"""`bc`.

Behaviour cloning of the logging policy, the reference DPO starts from and is anchored to.

A `TrackPolicy` (observation and the session's played tracks -> logits over the catalog) is
fitted by cross-entropy to the logged tracks of this mode's training-listener sessions, replayed
through the world model so that its inputs are exactly the env's observations. A tenth of the
sessions is held out for early stopping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from agents.base import PolicyAgent
from agents.data import TrainingData


@dataclass(frozen=True)
class BCConfig:
    """Behaviour-cloning hyper-parameters."""

    seed: int = 0
    hidden: int = field(default=0, metadata={"min": 0})
    """Width of the policy network; 0: linear in its inputs (`TrackPolicy`). Chosen on the
    validation loss of training listeners' logs: a 256-wide MLP overfits within ten epochs
    (calm 6.29 nats against 6.23 linear; benchmarks/NOTES.md)."""
    remember_played: bool = True
    """The policy also reads the session's played tracks (their mean and last embedding), as the
    production policy does: without them BC cannot imitate its continuity and variety."""
    epochs: int = 30
    """Most passes over the logged steps (early stopping usually ends sooner)."""
    quick_epochs: int = 3
    """Epochs when the training data is `quick`."""
    batch_size: int = 256
    learning_rate: float = 3e-3
    """Suits the linear policy (its early-stopped validation loss; 1e-3 suited the MLP)."""
    weight_decay: float = 1e-4
    patience: int = 3
    """Epochs without a better validation loss before stopping."""
    validation_fraction: float = 0.1
    """Share of logged sessions held out for early stopping."""


def validation_rows(
    session_id: np.ndarray, config: BCConfig, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The logged steps `BCAgent.fit(config)` holds out for early stopping: whole sessions.

    A `config.validation_fraction` of them, the first draw of `default_rng(config.seed)` (`fit`
    passes its generator, which it goes on using; others leave `rng` out).  # (N,) bool
    """
    rng = np.random.default_rng(config.seed) if rng is None else rng
    sessions = np.unique(session_id)
    count = max(1, int(len(sessions) * config.validation_fraction))
    return np.isin(session_id, rng.choice(sessions, count, replace=False))


class BCAgent(PolicyAgent):
    """A softmax policy over the catalog that imitates the logged choices."""

    name: ClassVar[str] = "bc"
    config_type: ClassVar[type] = BCConfig

    def fit(self, data: TrainingData) -> Self:
        """Fit to the replayed logs of `data.mode`.

        Keeps the weights of the best validation epoch.
        """
        config: BCConfig = self.config
        self._adopt(data)
        torch.set_num_threads(1)
        steps = data.replay
        policy = self._build(steps.observations.shape[1], data.catalog)
        rng = np.random.default_rng(config.seed)
        validation = validation_rows(steps.session_id, config, rng)
        obs = torch.from_numpy(steps.observations)
        actions = torch.from_numpy(steps.actions)
        played = torch.from_numpy(steps.played_before(data.episode_length))
        train_rows, val_rows = np.flatnonzero(~validation), np.flatnonzero(validation)
        optimizer = torch.optim.AdamW(
            policy.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        best, best_state, waited = float("inf"), None, 0
        epochs = config.quick_epochs if data.quick else config.epochs
        bar = tqdm(range(epochs), desc=f"bc {data.mode}", leave=False)
        self.history: list[float] = []
        for _ in bar:
            policy.train()
            order = torch.from_numpy(rng.permutation(train_rows))
            for first in range(0, len(order), config.batch_size):
                batch = order[first : first + config.batch_size]
                loss = loss_fn(policy(obs[batch], played[batch]), actions[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            policy.eval()
            with torch.no_grad():
                val_loss = float(
                    loss_fn(policy(obs[val_rows], played[val_rows]), actions[val_rows])
                )
            self.history.append(val_loss)
            bar.set_postfix(val_loss=f"{val_loss:.3f}")
            if val_loss < best - 1e-4:
                best, waited = val_loss, 0
                best_state = {k: v.clone() for k, v in policy.state_dict().items()}
            else:
                waited += 1
                if waited >= config.patience:
                    break
        if best_state is not None:
            policy.load_state_dict(best_state)
        policy.eval()
        return self
