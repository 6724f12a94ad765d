"""The OPE policy zoo: the trained agents and graded variants of them (DOPE's recipe)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.variants import RandomMixtureAgent, TemperedAgent

SIMULATOR_BOUND = ("greedy",)
"""Agents whose policy is the simulator's own argmax: the same policy only in the one world
model (the reference evaluator observes with it too), so only that estimator scores them."""


def policy_zoo(
    trained: Mapping[str, Any],
    shares: Sequence[float],
    temperatures: Sequence[float],
    tempered: Sequence[str],
) -> dict[str, Any]:
    """The agents and their variants.

    Each agent mixed with uniformly random tracks at every share, and the `tempered` agents
    (stochastic ones) at every temperature. Random is not varied (its variants are itself), nor
    are simulator-bound agents: one estimator alone could score their variants, at the price of
    a catalog-wide search per step.
    """
    zoo: dict[str, Any] = dict(trained)
    for name, agent in trained.items():
        if name == "random" or simulator_bound(name):
            continue
        for share in shares:
            variant = RandomMixtureAgent(agent, share)
            zoo[variant.name] = variant
        if name in tempered:
            for temperature in temperatures:
                variant = TemperedAgent(agent, temperature)
                zoo[variant.name] = variant
    return zoo


def base_name(policy: str) -> str:
    """The registered agent a zoo policy derives from ("bc+random0.2" -> "bc")."""
    return policy.split("+")[0].split("@")[0]


def simulator_bound(policy: str) -> bool:
    """Whether the policy acts on the simulator's own predictions (scored by one model only)."""
    return base_name(policy) in SIMULATOR_BOUND


__all__ = ["SIMULATOR_BOUND", "base_name", "policy_zoo", "simulator_bound"]
