"""The OPE policy zoo: the trained agents and graded variants of them (DOPE's recipe)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.variants import RandomMixtureAgent, TemperedAgent

SEARCHING = ("greedy",)
"""Agents that search the whole catalog at every step: not varied (each variant would cost such a
search per step), and without probabilities for the log-based estimators."""


def policy_zoo(
    trained: Mapping[str, Any],
    shares: Sequence[float],
    temperatures: Sequence[float],
    tempered: Sequence[str],
) -> dict[str, Any]:
    """The agents and their variants.

    Each agent mixed with uniformly random tracks at every share, and the `tempered` agents
    (stochastic ones) at every temperature. Random is not varied (its variants are itself), nor
    are the `SEARCHING` agents.
    """
    zoo: dict[str, Any] = dict(trained)
    for name, agent in trained.items():
        if name == "random" or name in SEARCHING:
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


__all__ = ["SEARCHING", "base_name", "policy_zoo"]
