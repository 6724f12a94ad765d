"""`bcq`.

Discrete Batch-Constrained Q-learning (d3rlpy `DiscreteBCQ`) on the training listeners' logs.

A Q-network over the catalog plus an imitation head (the logging policy's distribution) fitted
offline to the replayed logged sessions; the greedy policy only considers tracks the imitation
head finds at least `action_flexibility` times as likely as its favourite, so it never strays to
tracks the logs give no evidence about. Data, rewards and files: `agents.adapters.d3rlpy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from d3rlpy.algos import DiscreteBCQConfig

from agents.adapters.d3rlpy import D3rlpyAgent, OfflineRLConfig


@dataclass(frozen=True)
class BCQConfig(OfflineRLConfig):
    """Discrete BCQ hyper-parameters.

    The shared ones (seed, steps, network) are `OfflineRLConfig`'s.
    """

    n_steps: int = 2000
    """Gradient steps of a full fit (about 45 s for one mode on one shared CPU core: BCQ also trains
    its imitation head)."""
    action_flexibility: float = 0.3
    """Tracks whose imitation probability is below this share of the most likely one are never
    chosen."""
    beta: float = 0.5
    """Weight of the imitation head's logit regulariser."""


class BCQAgent(D3rlpyAgent):
    """Greedy in Q among the tracks the logging policy plausibly plays."""

    name: ClassVar[str] = "bcq"
    config_type: ClassVar[type] = BCQConfig

    algo_config_type = DiscreteBCQConfig

    def _algorithm_options(self) -> dict[str, Any]:
        return {"action_flexibility": self.config.action_flexibility, "beta": self.config.beta}

    def _action_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values shifted to be positive, zeroed outside the imitation head's plausible tracks.

        d3rlpy's rule.
        """
        impl = self._algorithm().impl
        log_probs = F.log_softmax(impl.modules.imitator(x).logits, dim=1)
        plausible = log_probs - log_probs.max(dim=1, keepdim=True).values > math.log(
            self.config.action_flexibility
        )
        value = super()._action_scores(x)
        return (value - value.min(dim=1, keepdim=True).values + 1e-5) * plausible
