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
    about their content, so rarely logged tracks still get sensible scores. With `memory`
    embeddings, the input also holds the mean and the last of the played tracks' embeddings: the
    observation does not say which tracks the session has played, and without them the policy
    cannot steer away from what it just played (intra-list diversity) or follow a track that was
    not skipped.
    """

    def __init__(
        self,
        obs_dim: int,
        track_content: np.ndarray,
        hidden: int = 256,
        memory: np.ndarray | None = None,
    ):
        super().__init__()
        memory = np.zeros((len(track_content), 0)) if memory is None else memory
        self.register_buffer(
            "memory", torch.as_tensor(memory, dtype=torch.float32)
        )  # (n_tracks, m)
        width = (
            obs_dim + 2 * memory.shape[1]
        )  # the observation, then the mean and last played embedding
        self.body = nn.Sequential(
            nn.LayerNorm(width),
            nn.Linear(width, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
        )
        self.register_buffer(
            "content", torch.as_tensor(track_content, dtype=torch.float32)
        )  # (n_tracks, c)
        self.project = nn.Linear(hidden, track_content.shape[1])
        self.bias = nn.Parameter(torch.zeros(len(track_content)))

    @property
    def memory_dim(self) -> int:
        """Width of each remembered track's embedding (0: the policy reads the observation only)."""
        return int(self.memory.shape[1])

    @property
    def obs_dim(self) -> int:
        """Size of the observations it reads."""
        return int(self.body[0].normalized_shape[0]) - 2 * self.memory_dim

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
            observation = torch.cat([observation, self._remembered(played)], dim=1)
        return self.project(self.body(observation)) @ self.content.T + self.bias

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
