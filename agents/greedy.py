"""`greedy`.

At every step, the track with the highest one-step utility the world model predicts, searched over
the whole catalog.

It optimises the model, not the listener: it has the largest exploitation gap (world-model
utility minus true utility) of the leaderboard, and it collapses in intra-list diversity and
top-10 share. Its catalog coverage does not collapse: the reference world's listeners have
personal tastes, which the model learns from their histories, so the best next track differs
from listener to listener. `benchmarks.greedy_spread` shows that the same search over the
reference world's own expected utility (`scorer="reference"`, a ceiling, not a deployable
agent) spreads as far, and collapses only when personal taste is switched off.

It reads the world model's state of its sessions, so it is session-aware: bind it first
(`agents.bind(agent, env)`). It searches the world model (the ensemble's first member) in every
simulator: in the ensemble's envs, in a member's world (`member=k`) and in the reference world
(where the world model observes), so it is one policy wherever it is scored, the one a listener
would hear.

With `pessimism=lambda` it maximises the utility less lambda times the ensemble's disagreement
on it (MOPO's penalty, one step deep). It then reads the members and needs ensemble sessions
(`needs_ensemble`: `agents.evaluation.rollout` switches the ensemble on for it; an env needs
`ensemble=True` or a pessimistic id). Scoring the catalog with five members costs six to nine
times greedy's search, so it searches in two stages: the first member's plain utility ranks the
catalog, and the pessimistic ensemble scores the `shortlist` best (registered as
`greedy_pessimistic`; how the shortlist was chosen: `GreedyConfig.shortlist`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from agents.base import BaseAgent, preset
from amrs_gym.reward import DEFAULT_PESSIMISM
from amrs_gym.validation import check_fields

SCORERS = ("world_model", "reference")


@dataclass(frozen=True)
class GreedyConfig:
    """Exhaustive one-step search."""

    seed: int = 0
    scorer: str = "world_model"
    """Whose expected one-step utility is maximised: "world_model" (the agent), or "reference", the
    reference world's own from the listener's latent state (only in the reference world)."""
    pessimism: float = field(default=0.0, metadata={"min": 0.0, "max": 1e3})
    """Lambda of the utility's penalty for the ensemble's disagreement. Above 0 it needs ensemble
    sessions. Its own, not the sessions': in a pessimistic env, plain greedy stays plain."""
    shortlist: int = field(default=256, metadata={"min": 0})
    """With pessimism: how many tracks, ranked by the first member's
    plain utility, the pessimistic ensemble scores (0: the whole catalog). Chosen in the world
    model on training listeners, against the exhaustive search (`python -m
    benchmarks.greedy_shortlist`): 256 of 1,200 tracks found its track in 98.8-100% of 640
    decisions per mode and gave up at most 0.0012 per step of the pessimistic utility on average,
    at about a third of its cost; 128 missed up to 11%."""
    chunk: int = 8
    """Sessions scored at once (each scores the whole catalog: memory grows with chunk x
    catalog). 8 searched 1.4-1.5 times faster than 32, with the same picks (64 calm episodes in
    the world model, one BLAS thread; greedy 7.3-8.2 s against 5.0-5.4 s, greedy_pessimistic
    14.8-15.8 s against 10.5-10.9 s): larger batches spill the model's temporaries out of the
    CPU's cache."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.scorer not in SCORERS:
            raise ValueError(
                f"unknown scorer {self.scorer!r}; expected one of {', '.join(SCORERS)}"
            )


def shortlist(screen: np.ndarray, size: int) -> np.ndarray:
    """Each row's `size` best tracks by `screen`, in track order (so ties go to the lowest id).

    # screen (n, tracks) -> (n, size)
    """
    best = np.argpartition(-screen, size - 1, axis=1)[:, :size]
    best.sort(axis=1)
    return best


class GreedyAgent(BaseAgent):
    """argmax over the catalog of the predicted one-step utility (deterministic)."""

    name: ClassVar[str] = "greedy"
    config_type: ClassVar[type] = GreedyConfig
    needs_view: ClassVar[bool] = True

    @property
    def needs_ensemble(self) -> bool:
        """Whether it reads the ensemble's disagreement (a pessimism above 0)."""
        return bool(self.config.pessimism)

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """The catalog's best track by predicted utility, per session."""
        view = self._bound_view(len(np.atleast_2d(observation)))
        config: GreedyConfig = self.config
        n_tracks, pessimism = view.n_tracks, config.pessimism
        best = np.zeros(view.n, dtype=np.int64)
        for first in range(0, view.n, config.chunk):
            rows = np.arange(first, min(first + config.chunk, view.n))
            every = np.broadcast_to(np.arange(n_tracks), (len(rows), n_tracks))
            if config.scorer == "reference":
                scores = view.true_one_step_utility(every, rows)
            elif not pessimism:  # the world model's own, whatever the outcomes come from
                scores = view.one_step_utility(every, rows, pessimism=0.0, member=0)
            else:
                if 0 < config.shortlist < n_tracks:
                    screen = view.one_step_utility(every, rows, pessimism=0.0, member=0)
                    every = shortlist(screen, config.shortlist)
                scores = view.one_step_utility(every, rows, pessimism)
            best[rows] = np.take_along_axis(every, scores.argmax(axis=1)[:, None], 1)[:, 0]
        return best


GreedyPessimisticAgent = preset(
    GreedyAgent,
    "greedy_pessimistic",
    "Greedy against the pessimistic ensemble (lambda = `DEFAULT_PESSIMISM`), searched in two "
    "stages.",
    pessimism=DEFAULT_PESSIMISM,
)
