from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.dpo import DPOAgent, DPOConfig, Rankings, dpo_loss, plackett_luce_loss
from agents.policy import TrackPolicy


def _tiny_policy() -> TrackPolicy:
    torch.manual_seed(0)
    return TrackPolicy(obs_dim=4, track_content=np.eye(5, dtype=np.float32), hidden=8)


def _probabilities(policy: TrackPolicy, obs: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(policy(obs), -1).numpy()


def test_dpo_raises_the_preferred_tracks_probability_and_lowers_the_dispreferred() -> None:
    policy = _tiny_policy()
    reference = _tiny_policy().requires_grad_(False)
    obs = torch.ones(3, 4)
    chosen, rejected = torch.tensor([2, 2, 2]), torch.tensor([0, 0, 0])
    before = _probabilities(policy, obs)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    for _ in range(20):
        loss, stats = dpo_loss(
            policy(obs), reference(obs), chosen, rejected, beta=0.5, kl_weight=0.0
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = _probabilities(policy, obs)
    assert (after[:, 2] > before[:, 2] + 0.05).all()
    assert (after[:, 0] < before[:, 0]).all()
    assert stats["accuracy"] == 1.0


def test_at_the_reference_the_loss_is_log_two_and_the_kl_is_zero() -> None:
    policy = _tiny_policy()
    obs = torch.randn(6, 4)
    logits = policy(obs)
    loss, stats = dpo_loss(
        logits,
        logits.detach(),
        torch.zeros(6, dtype=torch.long),
        torch.ones(6, dtype=torch.long),
        beta=1.0,
        kl_weight=1.0,
    )
    assert abs(loss.item() - np.log(2)) < 1e-6
    assert abs(stats["kl"]) < 1e-6


def test_the_kl_penalty_holds_the_policy_closer_to_the_reference() -> None:
    def train(kl_weight: float) -> float:
        policy, reference = _tiny_policy(), _tiny_policy().requires_grad_(False)
        obs = torch.ones(3, 4)
        optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
        for _ in range(50):
            loss, stats = dpo_loss(
                policy(obs),
                reference(obs),
                torch.tensor([2] * 3),
                torch.tensor([0] * 3),
                beta=1.0,
                kl_weight=kl_weight,
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return stats["kl"]

    assert train(5.0) < train(0.0)


def test_quick_dpo_learns_from_world_model_preferences(calm_data) -> None:
    agent = DPOAgent("calm", DPOConfig(rounds=2, sessions_per_round=64)).fit(calm_data)
    assert len(agent.history) == DPOConfig().quick_rounds
    first = agent.history[0]
    assert first["states"] > 0 and first["mean_spread"] > DPOConfig().margin
    assert 0 <= first["kl"] < 5
    actions, _ = agent.predict(calm_data.replay.observations[:10])
    assert actions.shape == (10,) and actions.max() < calm_data.catalog.n_tracks


def test_preference_pairs_prefer_the_higher_return(calm_data) -> None:
    from agents.bc import BCAgent

    bc = BCAgent("calm").fit(calm_data)
    agent = DPOAgent("calm", DPOConfig(sessions_per_round=64, branch_probability=1.0))
    agent.policy = bc.policy
    pairs = agent.collect_pairs(calm_data, bc.policy, np.random.default_rng(0))
    assert len(pairs.chosen) > 0
    assert (pairs.gap > DPOConfig().margin).all()
    assert (pairs.chosen != pairs.rejected).all()
    assert pairs.observations.shape == (len(pairs.chosen), calm_data.obs_dim)
    assert pairs.played.shape == (len(pairs.chosen), calm_data.episode_length)


def test_unset_weights_take_the_modes_validated_values() -> None:
    from agents.dpo import MODE_WEIGHTS

    assert DPOConfig().weights("sleep") == MODE_WEIGHTS["sleep"]
    assert DPOConfig(kl_weight=0.1).weights("calm") == (0.1, MODE_WEIGHTS["calm"][1])
    assert DPOConfig(kl_weight=0.1, novelty_weight=0.0).weights("focus") == (0.1, 0.0)


def test_plackett_luce_of_two_candidates_is_the_pair_loss_and_ranks_a_list() -> None:
    policy, reference = _tiny_policy(), _tiny_policy().requires_grad_(False)
    obs = torch.randn(4, 4)
    with torch.no_grad():
        policy.bias.add_(torch.arange(5.0))
    chosen, rejected = torch.tensor([4, 3, 2, 1]), torch.tensor([0, 1, 0, 3])
    pair, _ = dpo_loss(policy(obs), reference(obs), chosen, rejected, beta=0.7, kl_weight=0.2)
    listed, _ = plackett_luce_loss(
        policy(obs), reference(obs), torch.stack([chosen, rejected], 1), beta=0.7, kl_weight=0.2
    )
    assert torch.allclose(pair, listed)
    # a ranking the policy already follows (bias rises with the id) costs less than its reverse
    ranked = torch.tensor([[4, 3, 2, 1, 0]] * 4)
    right, stats = plackett_luce_loss(policy(obs), reference(obs), ranked, 1.0, 0.0)
    wrong, _ = plackett_luce_loss(policy(obs), reference(obs), ranked.flip(1), 1.0, 0.0)
    assert right < wrong and stats["accuracy"] == 1.0


def test_rankings_pair_best_with_worst_above_the_margin() -> None:
    rankings = Rankings(
        observations=np.zeros((2, 3), np.float32),
        played=np.full((2, 4), -1),
        ranked=np.array([[7, 5, 3, 1], [2, 4, 6, 8]]),
        returns=np.array([[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.99]]),
    )
    pairs = rankings.pairs(margin=0.05)
    assert pairs.chosen.tolist() == [7, 5] and pairs.rejected.tolist() == [1, 3]
    assert np.allclose(pairs.gap, [3.0, 1.0])
    assert len(rankings.spread(0.05).ranked) == 1  # the second state's spread is 0.01


def test_pessimistic_dpo_draws_candidates_from_the_policy_and_ranks_them(calm_data) -> None:
    from agents.bc import BCAgent

    bc = BCAgent("calm").fit(calm_data)
    config = DPOConfig(sessions_per_round=16, pessimism=1.0, policy_share=0.5, candidates=8)
    agent = DPOAgent("calm", config).use_reference(bc)
    agent.policy = bc.policy
    rankings = agent.collect_rankings(calm_data, bc.policy, np.random.default_rng(0))
    assert rankings.ranked.shape[1] == 8 and len(rankings.ranked) > 0
    assert (np.diff(rankings.returns, axis=1) <= 0).all()  # best first
    assert all(len(set(row)) == 8 for row in rankings.ranked.tolist())  # distinct candidates
    fitted = DPOAgent("calm", DPOConfig(rounds=1, loss="plackett_luce", pessimism=1.0))
    fitted.use_reference(bc).fit(calm_data)
    assert fitted.history[0]["states"] > 0 and 0 <= fitted.history[0]["kl"] < 5


def test_expected_scoring_ranks_candidates_by_the_models_expected_utility(calm_data) -> None:
    from agents.bc import BCAgent

    bc = BCAgent("calm").fit(calm_data)
    config = DPOConfig(scoring="expected", candidates=6, novelty_weight=0.0, pessimism=1.0)
    agent = DPOAgent("calm", config).use_reference(bc)
    agent.policy = bc.policy
    sessions = calm_data.sessions(4, pessimism=1.0)
    sessions.reset(np.arange(4), [np.random.default_rng(i) for i in range(4)], cold=False)
    rows = np.array([0, 2, 3])
    rankings = agent._score_candidates(
        sessions, sessions.observations(), rows, bc.policy, calm_data, np.random.default_rng(0)
    )
    expected = sessions.predicted_utility(rankings.ranked, rows)  # pessimistic: less 1 x spread
    np.testing.assert_allclose(rankings.returns, expected, atol=1e-5)  # float32 forks
    assert (np.diff(rankings.returns, axis=1) <= 0).all()


def test_cold_dpo_serves_the_sharp_policy_tempered_without_training_it_again(
    calm_data, tmp_path
) -> None:
    import agents
    from agents.cache import train_or_load
    from amrs_gym.sampling import tempered

    trained, seconds = train_or_load(["dpo_cold", "dpo_sharp"], calm_data, None, progress=False)
    cold, sharp = trained["dpo_cold"], trained["dpo_sharp"]
    assert cold._reference is sharp and seconds["dpo_sharp"] == 0.0  # fitted once, on the way
    obs = calm_data.replay.observations[:8]
    played = np.full((8, calm_data.episode_length), -1)
    base = sharp.action_probabilities(obs, played)
    served = cold.action_probabilities(obs, played)
    assert np.allclose(served, tempered(base, cold.config.temperature))
    assert (served.max(1) > base.max(1)).all()  # colder: more mass on the most likely track
    assert (served.argmax(1) == base.argmax(1)).all()
    cold.save(tmp_path / "cold.npz")
    loaded = type(cold).load(tmp_path / "cold.npz")
    assert loaded.config.temperature == 0.25
    assert np.array_equal(loaded.action_probabilities(obs, played), served)
    with pytest.raises(ValueError, match="temperature"):
        agents.make("dpo_cold", mode="calm", temperature=0.0)
    with pytest.raises(ValueError, match="dpo_sharp"):
        agents.make("dpo_cold", mode="calm").use_reference(agents.make("bc", mode="calm"))


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"kl_weight": -1.0}, "kl_weight"),
        ({"novelty_weight": float("nan")}, "novelty_weight"),
        ({"candidates": 1}, "candidates"),
        ({"reference": "random"}, "reference 'random': DPO starts from a registered policy agent"),
        ({"reference": "nope"}, "reference 'nope'"),
    ],
)
def test_dpo_settings_are_checked_when_made(settings: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        agents.make("dpo", mode="calm", **settings)


def test_more_candidates_than_tracks_are_refused_before_fitting(calm_data) -> None:
    with pytest.raises(ValueError, match="candidates 5000: at most the catalog's 1200 tracks"):
        agents.make("dpo", mode="calm", candidates=5000).fit(calm_data)
