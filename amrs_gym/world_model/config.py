"""The world model's configuration (torch-free, so rollouts and envs can read it without torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from amrs_gym.world_model.feedback import FEEDBACK_DIM

N_CANDIDATE_FEATURES = (
    3  # earlier plays of the track, max similarity to history, mean similarity to last 3
)


@dataclass(frozen=True)
class WorldModelConfig:
    """Architecture and input switches of the world model."""

    d_model: int = 64
    """Width of every token."""
    n_heads: int = 4
    """Attention heads."""
    n_layers: int = 2
    """Encoder layers (transformer blocks or GRU layers)."""
    ff_dim: int = 128
    """Hidden width of the feed-forward sublayers and the output head."""
    dropout: float = 0.1
    """Dropout during training."""
    max_len: int = 80
    """Most tracks in a context (earlier sessions' tracks plus the current session's)."""
    position_cap: int = 32
    """Positions past this share one embedding, so contexts longer than training sessions stay in
    range."""
    n_modes: int = 4
    """Number of mode categories."""
    n_cohorts: int = 2
    """Number of cohort categories."""
    feedback_dim: int = FEEDBACK_DIM
    """Size of a context token's feedback vector."""
    engagement_bins: int = 10
    """Bins of the predicted engagement distribution on [0, 1]."""
    encoder: Literal["transformer", "gru"] = "transformer"
    """Sequence encoder: the causal transformer, or a GRU baseline of similar size."""
    use_history: bool = True
    """Ablation switch: False sees only the start token (no session history)."""
    use_content: bool = True
    """Ablation switch: False replaces track content features by zeros."""
    use_affect: bool = True
    """Ablation switch: False hides the starting and in-session valence/arousal reports."""
