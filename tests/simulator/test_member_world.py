"""`member=k`: member k's listener behind the world model's context (`MemberWorld`)."""

import gymnasium as gym
import numpy as np
import pytest

from amrs_gym import defaults
from amrs_gym.modes import mode_index
from amrs_gym.simulator import SessionConfig
from amrs_gym.simulator.starts import start_batch
from amrs_gym.world_model import MemberWorld, load_ensemble
from amrs_gym.world_model.protocol import PREDICTION_FIELDS, Feedback


def first_steps(env: gym.Env, seed: int, actions: list[int]) -> list[tuple[np.ndarray, dict]]:
    obs, _ = env.reset(seed=seed)
    out = [(obs, {})]
    for action in actions:
        obs, _, _, _, info = env.step(action)
        out.append((obs, info))
    return out


def test_a_member_world_keeps_the_world_models_context_and_plays_the_members_listener() -> None:
    member = 2
    actions = [5, 900, 17]
    world_model = first_steps(gym.make("AMRS-Calm-v0"), 3, actions)
    member_world = first_steps(gym.make("AMRS-Calm-v0", member=member), 3, actions)
    alone = first_steps(
        gym.make("AMRS-Calm-v0", world_model=defaults.default_bundle().members[member]), 3, actions
    )
    assert np.array_equal(world_model[0][0], member_world[0][0])  # same start, same observation
    # the member's responses are the member's own, step for step
    for (_, mine), (_, its) in zip(member_world[1:], alone[1:], strict=True):
        assert mine["skip_probability"] == pytest.approx(its["skip_probability"], abs=1e-6)
        assert mine["engagement"] == pytest.approx(its["engagement"], abs=1e-6)
    assert member_world[1][1]["skip_probability"] != world_model[1][1]["skip_probability"]


def test_member_world_predicts_as_the_member_and_encodes_as_the_world_model() -> None:
    bundle = defaults.default_bundle()
    pair = load_ensemble([bundle.checkpoint, bundle.members[3]], bundle.catalog)
    world_model = load_ensemble([bundle.checkpoint], bundle.catalog)
    member = load_ensemble([bundle.members[3]], bundle.catalog)
    world = MemberWorld(pair, 1)  # type: ignore[arg-type]
    picks = [SessionConfig("sleep").setup.starts[i] for i in (0, 7, 11)]
    reports = np.stack([p.start_report for p in picks])
    batch = start_batch(picks, mode_index("sleep"), 20, False, reports)
    states = [model.start(batch) for model in (world, world_model, member)]
    feedback = Feedback(
        engagement=np.array([1.0, 0.2, 0.6]),
        skipped=np.array([False, True, False]),
        rating=np.array([1.0, np.nan, 0.0]),
        valence_report=np.array([np.nan, 0.1, np.nan]),
        arousal_report=np.array([np.nan, -0.3, np.nan]),
    )
    tracks = np.array([4, 40, 400])
    for model, state in zip((world, world_model, member), states, strict=True):
        model.observe(state, tracks, feedback)
    candidates = np.array([[1, 2], [3, 4], [5, 6]])
    propensity = np.array([[0.01, 0.001], [0.0, 0.2], [0.003, 0.05]])  # for a model that reads it
    mine = world.predict(states[0], candidates, propensity)
    its = member.predict(states[2], candidates, propensity)
    for name in PREDICTION_FIELDS:
        assert np.allclose(getattr(mine, name), getattr(its, name), atol=1e-6), name
    assert np.allclose(world.context(states[0]), world_model.context(states[1]), atol=1e-6)
    assert not np.allclose(world.context(states[0]), member.context(states[2]), atol=1e-3)


def test_member_is_checked_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"member must be in \[0, 5\)"):
        gym.make("AMRS-Calm-v0", member=5)
    with pytest.raises(ValueError, match="member must be an integer >= 0, got -1"):
        gym.make("AMRS-Calm-v0", member=-1)
    with pytest.raises(ValueError, match="it excludes ensemble, pessimism and world_model"):
        gym.make("AMRS-Calm-Pessimistic-v0", member=1)
    with pytest.raises(ValueError, match=r"member must be in \[1, 2\)"):
        bundle = defaults.default_bundle()
        MemberWorld(load_ensemble([bundle.checkpoint, bundle.members[1]], bundle.catalog), 0)  # type: ignore[arg-type]
