from __future__ import annotations

import numpy as np
import torch

from agents.dpo import DPOAgent, DPOConfig, dpo_loss
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
    assert first["pairs"] > 0 and first["mean_gap"] > DPOConfig().margin
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
