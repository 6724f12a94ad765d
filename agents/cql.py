"""`cql`.

Discrete Conservative Q-Learning (d3rlpy `DiscreteCQL`) on the training listeners' logs.

A double-DQN Q-network over the catalog, fitted offline to the replayed logged sessions, with CQL's
penalty pushing down the Q-values of tracks the logs did not play in a state, so the greedy policy
stays among tracks whose value the data supports. Data, rewards and files: `agents.adapters.d3rlpy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from d3rlpy.algos import DiscreteCQLConfig

from agents.adapters.d3rlpy import D3rlpyAgent, OfflineRLConfig


@dataclass(frozen=True)
class CQLConfig(OfflineRLConfig):
    """Discrete CQL hyper-parameters.

    The shared ones (seed, steps, network) are `OfflineRLConfig`'s.
    """

    alpha: float = 1.0
    """Weight of the conservative penalty (logsumexp of Q minus Q of the logged track)."""


class CQLAgent(D3rlpyAgent):
    """Greedy in a conservative Q-function learned from the logs."""

    name: ClassVar[str] = "cql"
    config_type: ClassVar[type] = CQLConfig

    algo_config_type = DiscreteCQLConfig

    def _algorithm_options(self) -> dict[str, Any]:
        return {"alpha": self.config.alpha}
