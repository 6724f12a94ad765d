"""The world model's configuration (torch-free, so rollouts and envs can read it without torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from amrs_gym.validation import check_fields
from amrs_gym.world_model.feedback import FEEDBACK_DIM

N_CANDIDATE_FEATURES = (
    3  # earlier plays of the track, max similarity to history, mean similarity to last 3
)


@dataclass(frozen=True)
class WorldModelConfig:
    """Architecture and input switches of the world model."""

    d_model: int = field(default=64, metadata={"min": 1})
    """Width of every token."""
    n_heads: int = field(default=4, metadata={"min": 1})
    """Attention heads."""
    n_layers: int = field(default=2, metadata={"min": 1})
    """Encoder layers (transformer blocks or GRU layers)."""
    ff_dim: int = field(default=128, metadata={"min": 1})
    """Hidden width of the feed-forward sublayers and the output head."""
    dropout: float = field(default=0.1, metadata={"min": 0, "max": 0.99})
    """Dropout during training."""
    max_len: int = field(default=80, metadata={"min": 1})
    """Most tracks in a context (earlier sessions' tracks plus the current session's)."""
    position_cap: int = field(default=32, metadata={"min": 1})
    """Positions past this share one embedding, so contexts longer than training sessions stay in
    range."""
    n_modes: int = field(default=4, metadata={"min": 1})
    """Number of mode categories."""
    n_cohorts: int = field(default=2, metadata={"min": 1})
    """Number of cohort categories."""
    feedback_dim: int = field(default=FEEDBACK_DIM, metadata={"min": 9})
    """Size of a context token's feedback vector."""
    engagement_bins: int = field(default=10, metadata={"min": 1})
    """Bins of the predicted engagement distribution on [0, 1]."""
    encoder: Literal["transformer", "gru"] = "transformer"
    """Sequence encoder: the causal transformer, or a GRU baseline of similar size."""
    use_history: bool = True
    """Ablation switch: False sees only the start token (no session history)."""
    use_content: bool = True
    """Ablation switch: False replaces track content features by zeros."""
    use_affect: bool = True
    """Ablation switch: False hides the starting and in-session valence/arousal reports."""
    track_popularity: bool = False
    """Read each track's popularity in the training logs (log of its plays, standardised) as one
    more track feature (`world_model.track_features`). Lower validation loss on the shipped logs
    (benchmarks/NOTES.md), so bundles turn it on (`bundle.build.BuildSettings.model`); off here
    so that a model built from catalog features alone, and older checkpoints, read as they were."""

    production_propensity: bool = False
    """Read the logging policy's propensity of each candidate as one more candidate feature
    (`candidates.propensity_feature`). Production chose tracks by what no log carries (its
    estimate of each listener's taste), so a model fitted to its choices is optimistic about
    tracks it rarely played; told how likely production was to play the candidate, the model
    can tell the two apart (benchmarks/NOTES.md, "What production knew"). Training needs logs
    with propensities; simulating needs a production policy that scores any track. The shipped
    bundle reads it (`train --ship`: chosen on validation loss, -1.140..-1.151 against
    -1.081..-1.113 for the five members without it); other bundles ask for it
    (`--production-propensity`), since a platform must also pass its production system."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )

    @property
    def candidate_features(self) -> int:
        """How many numbers describe a candidate: `N_CANDIDATE_FEATURES`, plus the propensity."""
        return N_CANDIDATE_FEATURES + int(self.production_propensity)
