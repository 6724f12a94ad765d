"""agents.policy: the track policy's memory of played tracks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.policy import TrackPolicy


def _policy(memory: bool = True) -> TrackPolicy:
    torch.manual_seed(0)
    content = np.eye(4, dtype=np.float32)
    return TrackPolicy(
        obs_dim=3, track_content=content, hidden=8, memory=content[:, :2] if memory else None
    )


def test_remembered_tracks_are_the_mean_and_the_last_embedding() -> None:
    policy = _policy()
    played = torch.tensor([[0, 1, -1], [-1, -1, -1], [3, 0, 0]])
    remembered = policy._remembered(played).numpy()
    assert np.allclose(
        remembered[0], [0.5, 0.5, 0.0, 1.0]
    )  # mean of tracks 0 and 1, last = track 1
    assert np.allclose(remembered[1], 0.0)  # nothing played yet
    assert np.allclose(remembered[2], [2 / 3, 0.0, 1.0, 0.0])
    assert np.allclose(policy._remembered(torch.zeros((2, 0), dtype=torch.long)).numpy(), 0.0)


def test_a_policy_with_memory_needs_the_played_tracks_and_uses_them() -> None:
    policy, obs = _policy(), torch.zeros((1, 3))
    with pytest.raises(ValueError, match="pass `played`"):
        policy(obs)
    assert not torch.allclose(policy(obs, torch.tensor([[0]])), policy(obs, torch.tensor([[1]])))
    assert policy.obs_dim == 3 and policy.memory_dim == 2
    assert _policy(memory=False)(obs).shape == (1, 4)


def test_the_structured_terms_read_the_played_tracks_the_skip_flag_and_the_profile() -> None:
    torch.manual_seed(0)
    unit = np.eye(4, dtype=np.float32)[:, :2]  # tracks 0, 1 along the axes; 2, 3 have no embedding
    policy = TrackPolicy(
        obs_dim=3, track_content=np.eye(4), hidden=0, memory=unit, profile_dim=2, skipped_index=0
    )
    with torch.no_grad():
        policy.continuity.copy_(torch.tensor([2.0, -3.0]))
        policy.repeat.fill_(-5.0)
        policy.taste.weight.copy_(torch.eye(2))
        kept, skipped = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]])
        played = torch.tensor([[0]])
        structured = policy._structured(kept, played)[0].numpy()
        assert np.allclose(structured, [2.0 - 5.0, 0.0, 0.0, 0.0])  # continuity and repeat
        assert np.allclose(policy._structured(skipped, played)[0].numpy(), [-8.0, 0, 0, 0])
        profile = torch.tensor([[0.0, 0.0, 1.0]])  # the last two inputs: the profile (0, 1)
        nothing = torch.full((1, 1), -1)
        assert np.allclose(policy._structured(profile, nothing)[0].numpy(), [0, 1.0, 0, 0])
    with pytest.raises(ValueError, match="profile_dim"):
        TrackPolicy(obs_dim=3, track_content=np.eye(4), hidden=0, memory=unit, profile_dim=3)
