"""Agents for the AMRS envs behind one protocol (`agents.protocol.Agent`.

SB3's `predict`), and their registry.

    >>> import agents
    >>> agent = agents.make("random", mode="calm", seed=3)
    >>> agent.name, agent.mode
    ('random', 'calm')

Session-aware agents (`logged`, `greedy`) read a view of the env's sessions: bind them once,
`agents.bind(agent, env)`, before SB3's `evaluate_policy(agent, env)` or your own loop. A
pessimistic greedy (`greedy_pessimistic`, or `make("greedy", mode, pessimism=lambda)`) reads the
ensemble's disagreement (`needs_ensemble`): give it an ensemble env, `gym.make(env_id,
ensemble=True)` or a pessimistic id.

Third-party agents join the registry either with a call,
`agents.register("mine", "my_package.my_module:MyAgent")` (or the class itself), or by
declaring an entry point in their package's metadata, group `amrs_gym.agents`:

    [project.entry-points."amrs_gym.agents"]
    mine = "my_package.my_module:MyAgent"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from agents.protocol import bind, needs_ensemble, needs_view
from amrs_gym.compat import quiet_legacy_gym

quiet_legacy_gym()  # before any agent module imports SB3 or d3rlpy

#: name -> "module:Class" of every built-in agent (imported on first use: SB3 and d3rlpy are slow
#: to import).
AGENTS: dict[str, str | type] = {
    "random": "agents.random_agent:RandomAgent",
    "logged": "agents.logged:LoggedAgent",
    "popular": "agents.popular:PopularAgent",
    "greedy": "agents.greedy:GreedyAgent",
    "greedy_pessimistic": "agents.greedy:GreedyPessimisticAgent",
    "steer": "agents.steer:SteerAgent",
    "bc": "agents.bc:BCAgent",
    "dpo": "agents.dpo:DPOAgent",
    "dpo_sharp": "agents.dpo:SharpDPOAgent",
    "dpo_broad": "agents.dpo:BroadDPOAgent",
    "dpo_cold": "agents.dpo:ColdDPOAgent",
    "a2c": "agents.a2c:A2CAgent",
    "a2c_pessimistic": "agents.a2c:PessimisticA2CAgent",
    "ddpg": "agents.ddpg:DDPGAgent",
    "ddpg_pessimistic": "agents.ddpg:PessimisticDDPGAgent",
    "cql": "agents.cql:CQLAgent",
    "bcq": "agents.bcq:BCQAgent",
}
DPO_FAMILY = ("dpo_cold", "dpo_sharp", "dpo", "dpo_broad")
"""The registered DPO settings, from the most utility-seeking to the most diverse."""
ENTRY_POINT_GROUP = "amrs_gym.agents"


def register(name: str, agent: str | type) -> None:
    """Add an agent class (or its "module:Class" path) under `name`; refuses to shadow another."""
    if name in AGENTS and AGENTS[name] != agent:
        raise ValueError(f"an agent named {name!r} is already registered ({AGENTS[name]})")
    AGENTS[name] = agent


def available() -> list[str]:
    """Names of every registered agent.

    Including those declared by installed packages' entry points.
    """
    _load_entry_points()
    return sorted(AGENTS)


def agent_class(name: str) -> type:
    """The class registered under `name`."""
    if name not in AGENTS:
        _load_entry_points()
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; registered: {', '.join(sorted(AGENTS))}")
    target = AGENTS[name]
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        target = getattr(importlib.import_module(module), attribute)
        AGENTS[name] = target
    return target


def make(name: str, mode: str, **config: Any) -> Any:
    """A new, unfitted agent.

    `make("dpo", mode="calm", beta=0.5)`; keyword arguments set its config fields.
    """
    cls = agent_class(name)
    fields = getattr(cls.config_type, "__dataclass_fields__", {})
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {name} config field(s) {', '.join(unknown)}; known: {', '.join(fields)}"
        )
    return cls(mode, cls.config_type(**config))


__all__ = [
    "AGENTS",
    "DPO_FAMILY",
    "agent_class",
    "available",
    "bind",
    "make",
    "needs_ensemble",
    "needs_view",
    "register",
]


def _load_entry_points() -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        AGENTS.setdefault(point.name, point.value)
