"""MSSD skip: trained on real Spotify sessions, does the world model predict unseen skips?

The world model (the simulator's causal transformer, unchanged) is trained on real session
logs of the Spotify Music Streaming Sessions Dataset and scored on the WSDM Cup 2019 task:
for each evaluation session the first half (every column) is history, and `skip_2` must be
predicted for every track of the second half from what the challenge gave for it (track,
position, session length, session-level context; no per-row behaviour). It is compared with
`last_known` (repeat the last skip_2 of the first half) and `gbt` (scikit-learn's
HistGradientBoostingClassifier on first-half session aggregates, position and track
statistics). Metrics: the challenge's mean average accuracy (MAA), first-track accuracy, and
accuracy and ROC AUC over all second-half rows, plus a paired bootstrap interval of the
world model's MAA lead over each baseline.

    python -m benchmarks.mssd_skip --train ../shared/data/spotify_mssd/sessions_dev.csv.gz \
        --eval ../shared/data/spotify_mssd/sessions_dev.csv.gz --out results/mssd_skip
        # about 4 minutes on 2 cores (3 seeds x 3 members of each learned model)
    python -m benchmarks.mssd_skip --quick --out /tmp/mssd_quick   # about 10 seconds

When `--train` and `--eval` name the same file (the default), its sessions are split at
random (seeded, 20% held out) and only the held-out sessions are scored: no model trains on
them. Every setting (see `WorldModelSettings`, `GbtSettings`) was chosen on held-out
*training* sessions only.

Writes mssd_skip.json, mssd_skip.md and mssd_skip.png (accuracy by position in the second
half) into --out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._common import check_fields
from benchmarks.mssd_skip.gbt import GbtSettings
from benchmarks.mssd_skip.world_model import WorldModelSettings

NAME = "mssd_skip"
DEFAULT_DATA = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "spotify_mssd" / "sessions_dev.csv.gz"
)
"""The dev sample beside the project (../shared/data), used when --train is not given."""
MODELS = ("world_model", "last_known", "gbt")
METRIC_NAMES = ("maa", "first_acc", "acc", "auc")


@dataclass
class Args:
    """Settings of the MSSD skip benchmark."""

    train: str = str(DEFAULT_DATA)
    """MSSD log file to train on."""
    eval: str = ""
    """MSSD log file to score (empty: the same as `train`, split by session)."""
    out_dir: str = "results/mssd_skip"
    """Where to write the outputs."""
    quick: bool = False
    """Fewer sessions and epochs, one seed, one member (for tests)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the session split; training seeds are seed, seed + 1, ..."""
    seeds: int = field(default=3, metadata={"min": 1})
    """Training seeds of the learned models (world_model, gbt)."""
    test_fraction: float = 0.2
    """Share of sessions held out for scoring when train and eval are the same file."""
    val_fraction: float = 0.15
    """Share of training sessions each learned model holds out for early stopping."""
    workers: int = field(default=2, metadata={"min": 1})
    """Models trained in parallel processes (one thread each)."""
    world_model: WorldModelSettings = field(default_factory=WorldModelSettings)
    """World model settings."""
    gbt: GbtSettings = field(default_factory=GbtSettings)
    """Gradient-boosted trees settings."""

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("test_fraction", "val_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in (0, 1), got {getattr(self, name)}")
