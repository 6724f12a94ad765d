"""Seeds: do the headline results of the three works this suite grew from reproduce in it?

- Thesis (A2C on simulated feature-target users): stable-baselines3 A2C (n-step 20) on
  `AMRS-FeatureTarget-v0` with WiderTopTarget users and the bullseye reward, GridObs in 2, 3 and
  4 features and BoardObs in 2, 5 levels each. Trained on random targets; scored on EVERY target
  of the grid, one deterministic episode each: the average and std over targets of the episode
  reward (out of 210). The thesis's Figure 22 reports 188 +- 8 for 2-D GridObs and predicted that
  a simple searcher would do as well: the rule-based `CoordinateSearchPolicy` plays the same
  targets, and the ceiling (an agent that knows the target and walks straight to it) is given too.
- Poster (DDPG on data-driven sessions): SB3 DDPG on `AMRS-SkipSession-v0`; tracks not skipped
  out of 15 per session (the poster: about 5/15), against the env's non-skip benchmark of
  similar states (`nonskip_baseline_score`) and a uniformly random policy (`random_score`), all
  three on the same starting sessions and seeds.
- MusicBox: diversity (distinct tracks / all recommendations) and skip rate of the DDPG policy
  against the logged policy (MusicBox: 9.3% vs 7.6% diversity, 49% vs 54% skip rate). The logged
  policy's figures come from the logged continuations of the very sessions the DDPG evaluation
  episodes started from (their tracks after the 5-track starting history), and the diversity of
  both is counted over the same number of recommendations per session (see `matched_diversity`).

    python -m benchmarks.seeds --out results/seeds            # about 15 minutes on 2 shared cores
    python -m benchmarks.seeds --quick --out /tmp/seeds       # about 20 seconds

Writes seeds.json, seeds.md and seeds.png into --out. `thesis` and `poster` hold the two
reproductions, `baselines` the rule-based and data-driven baselines they are scored against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks._common import check_fields

NAME = "seeds"

PUBLISHED: dict[str, Any] = {
    "thesis": {
        "source": "A2C thesis, Figure 22: WiderTopTarget, bullseye reward, n-step 20, 5 levels",
        "2d_grid": {"avg_reward": 188.0, "std": 8.0},
        "max_reward": 210.0,
        "claim": "a simple rule-based searcher would do as well as A2C",
    },
    "poster": {"source": "DDPG poster", "ddpg_score": 5.0, "out_of": 15},
    "musicbox": {
        "source": "MusicBox",
        "ddpg_diversity": 0.093,
        "logged_diversity": 0.076,
        "ddpg_skip_rate": 0.49,
        "logged_skip_rate": 0.54,
    },
}
"""The seeds' own numbers (only what they report; the thesis's board/3-D/4-D figures are not given
here)."""


FULL_BUDGETS = {
    "a2c_seeds": 3,
    "a2c_timesteps_2d_grid": 300_000,
    "a2c_timesteps_2d_board": 300_000,
    "a2c_timesteps_3d_grid": 800_000,
    "a2c_timesteps_4d_grid": 800_000,
    "ddpg_seeds": 3,
    "ddpg_timesteps": 30_000,
    "eval_episodes": 300,
}
"""The budgets a field left unset takes."""
QUICK_BUDGETS = {
    "a2c_seeds": 1,
    "a2c_timesteps_2d_grid": 30_000,
    "a2c_timesteps_2d_board": 10_000,
    "a2c_timesteps_3d_grid": 10_000,
    "a2c_timesteps_4d_grid": 10_000,
    "ddpg_seeds": 1,
    "ddpg_timesteps": 1_500,
    "eval_episodes": 40,
}
"""The budgets a field left unset takes under --quick (a value given explicitly wins, as the
other benchmarks' `--episodes` does)."""


def _budget() -> Any:
    """A budget field: unset by default (then FULL_BUDGETS or QUICK_BUDGETS), at least 1."""
    return field(default=None, metadata={"min": 1})


@dataclass
class Args:
    """Settings of the seeds benchmark."""

    out_dir: str = "results/seeds"
    """Where to write the outputs."""
    quick: bool = False
    """Far shorter training, fewer episodes and small logs (for tests); budgets given explicitly
    are kept."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of training, targets drawn while training, and the evaluation episodes."""
    a2c_seeds: int | None = _budget()
    """A2C trainings per thesis configuration (seeds seed, seed + 1, ...; default 3, 1 with
    --quick)."""
    a2c_timesteps_2d_grid: int | None = _budget()
    """A2C env steps, 2-D GridObs (default 300,000, 30,000 with --quick)."""
    a2c_timesteps_2d_board: int | None = _budget()
    """A2C env steps, 2-D BoardObs (default 300,000, 10,000 with --quick)."""
    a2c_timesteps_3d_grid: int | None = _budget()
    """A2C env steps, 3-D GridObs (default 800,000, 10,000 with --quick)."""
    a2c_timesteps_4d_grid: int | None = _budget()
    """A2C env steps, 4-D GridObs (default 800,000, 10,000 with --quick)."""
    ddpg_seeds: int | None = _budget()
    """DDPG trainings (seeds seed, seed + 1, ...; default 3, 1 with --quick)."""
    ddpg_timesteps: int | None = _budget()
    """Env steps (tracks) per DDPG training (default 30,000: 2,000 sessions of 15; 1,500 with
    --quick)."""
    eval_episodes: int | None = _budget()
    """Evaluation sessions of the poster/MusicBox part, per DDPG seed and for each baseline
    (default 300, 40 with --quick)."""

    def __post_init__(self) -> None:
        check_fields(self)

    def budget(self, name: str) -> int:
        """The budget `name` (a field above): as given, else its --quick or full default."""
        value = getattr(self, name)
        if value is not None:
            return int(value)
        return (QUICK_BUDGETS if self.quick else FULL_BUDGETS)[name]

    def a2c_timesteps(self, config: str) -> int:
        """Training budget of one thesis configuration."""
        return self.budget(f"a2c_timesteps_{config}")
