"""Policy variants: mixtures with random tracks and tempered distributions."""

from __future__ import annotations

import numpy as np
import pytest

import agents
from agents.evaluation import rollout
from agents.variants import RandomMixtureAgent, TemperedAgent
from amrs_gym.simulator import SessionConfig

NONE_PLAYED = np.full((64, 1), -1)


def observations(zoo, n: int = 64) -> np.ndarray:
    config = SessionConfig("calm", episode_length=3)
    sessions = config.create(n)
    sessions.reset(np.arange(n), [np.random.default_rng(i) for i in range(n)], cold=False)
    return sessions.observations()


def test_a_mixture_is_the_stated_blend_and_acts_like_it(zoo) -> None:
    obs = observations(zoo)
    bc = zoo["bc"]
    mixed = RandomMixtureAgent(bc, share=0.3)
    p = mixed.action_probabilities(obs, NONE_PLAYED)
    base = bc.action_probabilities(obs, NONE_PLAYED)
    assert np.allclose(p, 0.7 * base + 0.3 / base.shape[1])
    assert np.allclose(p.sum(axis=1), 1.0)
    # a deterministic base keeps its track in about (1 - share) + share / n of the draws
    cql, always = zoo["cql"], RandomMixtureAgent(zoo["cql"], share=0.4)
    always.seed(3)
    repeated = np.repeat(obs[:8], 250, axis=0)
    base_actions, _ = cql.predict(repeated)
    actions, state = always.predict(repeated)
    assert abs((actions == base_actions).mean() - 0.6) < 0.03
    assert state.shape == (len(repeated), 1) and (state[:, 0] == actions).all()


def test_tempering_sharpens_and_softens_and_keeps_the_ranking(zoo) -> None:
    obs = observations(zoo)
    bc = zoo["bc"]
    base = bc.action_probabilities(obs, NONE_PLAYED)
    sharp = TemperedAgent(bc, 0.5).action_probabilities(obs, NONE_PLAYED)
    soft = TemperedAgent(bc, 2.0).action_probabilities(obs, NONE_PLAYED)
    assert np.allclose(sharp, base**2 / (base**2).sum(axis=1, keepdims=True))
    assert (sharp.max(axis=1) > base.max(axis=1)).all() and (soft.max(axis=1) < base.max(1)).all()
    assert (sharp.argmax(axis=1) == base.argmax(axis=1)).all()
    entropy = [-(q * np.log(q + 1e-300)).sum(1).mean() for q in (sharp, base, soft)]
    assert entropy[0] < entropy[1] < entropy[2]


def test_variants_of_session_aware_agents_bind_through_and_play(zoo) -> None:
    config = SessionConfig("calm", episode_length=4)
    for variant in (RandomMixtureAgent(zoo["logged"], 0.5), TemperedAgent(zoo["logged"], 2.0)):
        assert variant.needs_view
        for evaluator in ("world_model", "reference"):
            result = rollout(variant, config, evaluator, n_episodes=5, seed=2)
            assert result.episodes.tracks.shape == (5, 4)
    seeded = [
        rollout(RandomMixtureAgent(zoo["bc"], 0.5), config, n_episodes=5, seed=7) for _ in "ab"
    ]
    assert (seeded[0].episodes.tracks == seeded[1].episodes.tracks).all()


def test_variants_refuse_what_they_cannot_be(zoo) -> None:
    with pytest.raises(ValueError, match="no action_probabilities"):
        TemperedAgent(zoo["greedy"], 2.0)
    with pytest.raises(ValueError, match="share"):
        RandomMixtureAgent(zoo["bc"], 1.5)
    with pytest.raises(ValueError, match="temperature"):
        TemperedAgent(zoo["bc"], 0.0)
    with pytest.raises(ValueError, match="fit"):
        RandomMixtureAgent(agents.make("bc", mode="calm"), 0.2)
    assert not hasattr(RandomMixtureAgent(zoo["greedy"], 0.2), "action_probabilities")


def test_deterministic_agents_put_all_their_mass_on_what_they_play(zoo) -> None:
    obs = observations(zoo)
    for name in ("cql", "ddpg"):
        agent = zoo[name]
        played = np.tile(np.arange(3), (len(obs), 1))
        p = agent.action_probabilities(obs, played)
        actions, _ = agent.predict(obs, played)
        assert (p.sum(axis=1) == 1).all() and (p[np.arange(len(obs)), actions] == 1).all()
    popular = zoo["popular"].action_probabilities(obs)
    pool = zoo["popular"].config.pool
    assert ((popular > 0).sum(axis=1) == pool).all() and np.allclose(popular.sum(axis=1), 1)
