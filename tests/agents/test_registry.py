from __future__ import annotations

import numpy as np
import pytest

import agents
from agents.base import BaseAgent
from agents.protocol import Agent


class ConstantAgent(BaseAgent):
    """A third-party style agent: always the same track."""

    name = "constant"

    from dataclasses import dataclass as _dataclass

    @_dataclass(frozen=True)
    class Config:
        seed: int = 0
        track: int = 7

    config_type = Config

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.full(len(np.atleast_2d(observation)), self.config.track), state


def test_every_builtin_agent_is_registered() -> None:
    assert {
        "random",
        "logged",
        "popular",
        "greedy",
        "bc",
        "dpo",
        "a2c",
        "ddpg",
        "cql",
        "bcq",
    } <= set(agents.available())


@pytest.mark.parametrize("name", ["random", "logged", "popular", "greedy", "bc", "dpo"])
def test_make_builds_an_agent_that_follows_the_protocol(name: str) -> None:
    agent = agents.make(name, mode="sleep", seed=1)
    assert isinstance(agent, Agent)
    assert agent.mode == "sleep" and agent.config.seed == 1


def test_make_refuses_unknown_names_fields_and_modes() -> None:
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        agents.make("nope", mode="calm")
    with pytest.raises(ValueError, match="unknown dpo config field"):
        agents.make("dpo", mode="calm", temperature=2)
    with pytest.raises(ValueError, match="unknown mode"):
        agents.make("bc", mode="party")


def test_a_registered_third_party_agent_is_made_and_refuses_a_second_registration() -> None:
    agents.register("constant", ConstantAgent)
    try:
        agent = agents.make("constant", mode="calm", track=3)
        actions, _ = agent.predict(np.zeros((4, 95), np.float32))
        assert actions.tolist() == [3, 3, 3, 3]
        with pytest.raises(ValueError, match="already registered"):
            agents.register("constant", "somewhere:Else")
    finally:
        agents.AGENTS.pop("constant", None)


def test_a_preset_changes_only_its_defaults_and_keeps_its_name() -> None:
    from dataclasses import asdict, fields

    from agents.base import preset
    from agents.dpo import DPOAgent, DPOConfig

    sharp = agents.make("dpo_sharp", mode="calm")
    assert sharp.name == "dpo_sharp" and isinstance(sharp, DPOAgent)
    changed = {k: v for k, v in asdict(sharp.config).items() if v != getattr(DPOConfig(), k)}
    assert changed == {"diversity": 0.25}
    assert {f.name for f in fields(sharp.config)} == {f.name for f in fields(DPOConfig())}
    assert agents.make("dpo_sharp", mode="calm", diversity=2.0).config.diversity == 2.0
    with pytest.raises(ValueError, match="diversity"):
        agents.make("dpo_sharp", mode="calm", diversity=-1.0)  # the base field's bounds hold
    with pytest.raises(ValueError, match="no config field"):
        preset(DPOAgent, "dpo_nope", "a typo", diversty=2.0)
