"""Configs refuse bad fields by name when they are built; good ones are accepted unchanged."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import agents
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.reward import Utility
from amrs_gym.simulator import SessionConfig
from amrs_gym.world_model.config import WorldModelConfig
from amrs_gym.world_model.training import TrainConfig
from tests.bad_inputs.conftest import ANYTHING


def refused_by_name_or_accepted(build, name: str, value: object) -> object | None:
    """Build with one field set to `value`: either it works or a ValueError names the field."""
    try:
        return build(**{name: value})
    except ValueError as error:
        assert name in str(error), f"{name}={value!r}: {error}"
        return None


SESSION_FIELDS = ("cohort", "start", "history_length", "episode_length", "utility")


@pytest.mark.parametrize("name", SESSION_FIELDS)
@given(value=ANYTHING)
def test_session_config_fields(name: str, value: object) -> None:
    config = refused_by_name_or_accepted(lambda **kw: SessionConfig("calm", **kw), name, value)
    if config is not None and name.endswith("_length"):
        assert isinstance(config.__dict__[name], int) and config.__dict__[name] >= 0


@pytest.mark.parametrize("name", [f.name for f in fields(Utility) if f.name != "mode"])
@given(value=ANYTHING)
def test_utility_weights_and_targets(name: str, value: object) -> None:
    base = {"mode": "calm", "target_valence": 0.4, "target_arousal": -0.4}
    utility = refused_by_name_or_accepted(lambda **kw: Utility(**{**base, **kw}), name, value)
    if utility is not None:
        assert all(
            math.isfinite(getattr(utility, f.name)) for f in fields(utility) if f.name != "mode"
        )


@pytest.mark.parametrize(
    ("config_type", "names"),
    [
        (WorldModelConfig, ("d_model", "n_heads", "dropout", "max_len", "encoder", "use_history")),
        (TrainConfig, ("epochs", "batch_size", "learning_rate", "patience", "seed")),
        (DatasetConfig, ("n_listeners", "n_sessions", "min_length", "seed")),
    ],
)
@given(data=st.data())
def test_library_configs(config_type, names, data) -> None:
    name = data.draw(st.sampled_from(names))
    refused_by_name_or_accepted(config_type, name, data.draw(ANYTHING))


@pytest.mark.parametrize("agent", ["bc", "dpo", "greedy", "popular", "cql"])
@given(data=st.data())
def test_agent_configs(agent: str, data) -> None:
    names = [f.name for f in fields(agents.agent_class(agent).config_type)]
    name = data.draw(st.sampled_from(names))
    refused_by_name_or_accepted(
        lambda **kw: agents.make(agent, mode="calm", **kw), name, data.draw(ANYTHING)
    )


def test_build_settings_refuse_a_negative_split_seed() -> None:
    from amrs_gym.bundle.build import BuildSettings

    with pytest.raises(ValueError, match="split_seed must be an integer >= 0, got -1"):
        BuildSettings(split_seed=-1)


def test_numpy_scalars_are_taken_as_the_numbers_they_are() -> None:
    # a value read from an array is a numpy scalar: accepted, and stored as a Python number so
    # the config still writes as JSON
    config = SessionConfig(
        "calm", episode_length=np.int64(10), history_length=np.int32(5), pessimism=np.float32(0.5)
    )
    assert (config.episode_length, config.history_length, config.pessimism) == (10, 5, 0.5)
    assert all(type(v) in (int, float) for v in (config.episode_length, config.pessimism))
    json.dumps(dataclasses.asdict(TrainConfig(epochs=np.int64(3), learning_rate=np.float64(0.1))))
    for bad in (np.float64(2.5), np.bool_(True), np.int64(0)):
        with pytest.raises(ValueError, match="episode_length must be an integer >= 1"):
            SessionConfig("calm", episode_length=bad)


def test_a_model_width_the_heads_do_not_divide_is_refused() -> None:
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        WorldModelConfig(d_model=10, n_heads=4)
    assert (
        WorldModelConfig(d_model=12, n_heads=4, production_propensity=True).candidate_features == 4
    )
