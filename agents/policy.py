"""`TrackPolicy`: the softmax policy over the catalog behind BC and DPO."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from amrs_gym.catalog import Catalog


class TrackPolicy(nn.Module):
    """Observation (and the tracks the session has played) -> logits over the catalog.

    A track's logit is the match between a projection of the input and the track's content
    (embedding and affect features), plus a learned per-track bias: tracks share what is learned
    about their content, so rarely logged tracks still get sensible scores. With `hidden` 0 the
    projection is linear in the (normalised) input, else a two-layer MLP.

    With `memory` embeddings, the input also holds the mean and the last of the played tracks'
    embeddings (the observation does not say which tracks the session has played), and three
    terms any recommender has are explicit, each one learned weight: continuity (the track's
    similarity to the last one played, weighted apart after a skip when `skipped_index` says
    where the observation flags it), a repeat penalty (tracks already played) and, when the
    observation ends with a `profile_dim`-wide listener profile in embedding space, taste (a
    learned bilinear match of the profile with the track's embedding). A deeper network can
    represent them too, but on a few thousand sessions it overfits before it learns them.
    """

    def __init__(
        self,
        obs_dim: int,
        track_content: np.ndarray,
        hidden: int = 256,
        memory: np.ndarray | None = None,
        profile_dim: int = 0,
        skipped_index: int | None = None,
    ):
        super().__init__()
        memory = np.zeros((len(track_content), 0)) if memory is None else memory
        if profile_dim and profile_dim != memory.shape[1]:
            raise ValueError(
                f"profile_dim ({profile_dim}) must equal the memory embeddings' width "
                f"({memory.shape[1]})"
            )
        self.register_buffer(
            "memory", torch.as_tensor(memory, dtype=torch.float32)
        )  # (n_tracks, m)
        width = (
            obs_dim + 2 * memory.shape[1]
        )  # the observation, then the mean and last played embedding
        self.body: nn.Module = (
            nn.Sequential(
                nn.LayerNorm(width),
                nn.Linear(width, hidden),
                nn.GELU(),
                nn.Linear(hidden, hidden),
                nn.GELU(),
            )
            if hidden
            else nn.LayerNorm(width)
        )
        self.register_buffer(
            "content", torch.as_tensor(track_content, dtype=torch.float32)
        )  # (n_tracks, c)
        self.project = nn.Linear(hidden or width, track_content.shape[1])
        self.bias = nn.Parameter(torch.zeros(len(track_content)))
        self.obs_dim, self.profile_dim, self.skipped_index = obs_dim, profile_dim, skipped_index
        self.continuity = nn.Parameter(torch.zeros(2))  # after a kept, after a skipped track
        self.repeat = nn.Parameter(torch.zeros(()))
        self.taste = nn.Linear(profile_dim, memory.shape[1], bias=False) if profile_dim else None
        if self.taste is not None:
            nn.init.zeros_(self.taste.weight)

    @property
    def memory_dim(self) -> int:
        """Width of each remembered track's embedding (0: the policy reads the observation only)."""
        return int(self.memory.shape[1])

    def forward(
        self, observation: torch.Tensor, played: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (batch, n_tracks).

        `played` (batch, T) holds the session's tracks in order, -1 padded.
        """
        if self.memory_dim:
            if played is None:
                raise ValueError(
                    "this policy also reads the tracks the session has played: pass `played`"
                )
            inputs = torch.cat([observation, self._remembered(played)], dim=1)
            return self._scores(inputs) + self._structured(observation, played)
        return self._scores(observation)

    def _scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """The content match and per-track bias, (batch, n_tracks)."""
        return self.project(self.body(inputs)) @ self.content.T + self.bias

    def _structured(self, observation: torch.Tensor, played: torch.Tensor) -> torch.Tensor:
        """Continuity, repeat and taste terms, (batch, n_tracks)."""
        rows = torch.arange(len(played))
        if played.shape[1] == 0:
            played = torch.full((len(played), 1), -1, dtype=torch.long)
        known = played >= 0
        count = known.sum(1)
        last = played[rows, (count - 1).clamp(min=0)]
        similarity = (self.memory[last.clamp(min=0)] @ self.memory.T) * (count > 0)[:, None]
        skipped = (
            observation[:, self.skipped_index]
            if self.skipped_index is not None
            else torch.zeros(len(observation))
        )
        weight = self.continuity[0] * (1 - skipped) + self.continuity[1] * skipped
        repeats = torch.zeros(len(played), len(self.memory))
        repeats.index_put_(
            (rows[:, None].expand_as(played)[known], played[known]),
            torch.ones(int(known.sum())),
            accumulate=True,
        )
        scores = weight[:, None] * similarity + self.repeat * repeats
        if self.taste is not None:
            profile = observation[:, -self.profile_dim :]
            scores = scores + self.taste(profile) @ self.memory.T
        return scores

    def probabilities(
        self, observation: np.ndarray, played: np.ndarray | None = None
    ) -> np.ndarray:
        """The softmax over the catalog, without gradients, numpy in and out.

        # (batch, n_tracks)
        """
        with torch.no_grad():
            logits = self(
                torch.from_numpy(observation), None if played is None else torch.from_numpy(played)
            )
            return torch.softmax(logits.double(), dim=-1).numpy()

    def _remembered(self, played: torch.Tensor) -> torch.Tensor:
        """Mean and last embedding of the played tracks (zeros before the first).

        # (batch, 2 * m)
        """
        if played.shape[1] == 0:
            played = torch.full((len(played), 1), -1, dtype=torch.long)
        known = (played >= 0).float()  # (batch, T)
        embeddings = self.memory[played.clamp(min=0)] * known[..., None]  # (batch, T, m)
        count = known.sum(1)
        mean = embeddings.sum(1) / count.clamp(min=1)[:, None]
        last = embeddings[torch.arange(len(played)), (count.long() - 1).clamp(min=0)]
        return torch.cat([mean, last], dim=1)


def track_content(catalog: Catalog) -> np.ndarray:
    """What a policy knows about each track.

    Unit embedding and affect features.  # (n_tracks, dim + 5)
    """
    return np.concatenate([catalog.unit_embeddings, catalog.features()], axis=1)
