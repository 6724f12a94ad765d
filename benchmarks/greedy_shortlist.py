"""How short can pessimistic greedy's shortlist be? Two-stage search against the exhaustive one.

Pessimistic greedy (`GreedyConfig.pessimism`) maximises the ensemble's one-step utility less
lambda times the members' disagreement. Scoring the whole catalog with every member costs about
ten times the single model's search, so the agent ranks the catalog by the first member's plain
utility and lets the ensemble score only the `shortlist` best. This benchmark plays the
exhaustive search in the pessimistic ensemble, from the **training** listeners' logged histories
(no reference world: it chooses a default), and at every step asks which track each shortlist
size would have picked: how often it is the exhaustive track, and how much pessimistic utility
it loses.

    python -m benchmarks.greedy_shortlist --out results/greedy_shortlist    # about 5 minutes
    python -m benchmarks.greedy_shortlist --quick --out /tmp/shortlist      # seconds

Writes greedy_shortlist.json and greedy_shortlist.md into --out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agents.data import TrainingData
from agents.greedy import shortlist
from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES
from amrs_gym.reward import DEFAULT_PESSIMISM, MAX_PESSIMISM
from benchmarks._common import check_fields, markdown_table, provenance, run, write_outputs

NAME = "greedy_shortlist"


@dataclass
class Args:
    """Settings of the shortlist benchmark."""

    out_dir: str = "results/greedy_shortlist"
    """Where the outputs go."""
    quick: bool = False
    """4 sessions of 3 steps, a fifth of the training listeners (tests); explicit sizes win."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the sessions' starts and outcomes."""
    sessions: int | None = field(default=None, metadata={"min": 1})
    """Sessions played at once per mode (default 32; 4 with --quick)."""
    steps: int | None = field(default=None, metadata={"min": 1})
    """Steps of each session, an episode (default 20; 3 with --quick)."""
    sizes: list[int] = field(default_factory=lambda: [32, 64, 128, 192, 256, 384])
    """Shortlist sizes compared with the exhaustive search."""
    pessimism: float = field(default=DEFAULT_PESSIMISM, metadata={"min": 0, "max": MAX_PESSIMISM})
    """lambda of the searched utility."""
    modes: list[str] = field(default_factory=lambda: list(MODES), metadata={"choices": MODES})
    """Modes to run."""
    bundle: str | None = None
    """Simulator bundle directory with an ensemble (default: the shipped one)."""

    def __post_init__(self) -> None:
        check_fields(self)
        bundle = defaults.bundle_or_shipped(self.bundle)
        tracks = bundle.catalog.n_tracks
        if not self.sizes or min(self.sizes) < 1 or max(self.sizes) > tracks:
            raise ValueError(
                f"sizes must be shortlist lengths in 1..{tracks} (the catalog), got {self.sizes}"
            )
        if len(bundle.members) < 2:
            raise ValueError(
                f"--bundle {self.bundle}: has one world model, and the shortlist is judged "
                "against a search through an ensemble"
            )


def run_mode(args: Args, mode: str) -> dict[str, Any]:
    """Exhaustive pessimistic greedy in the ensemble, each shortlist size judged at every step."""
    n = args.sessions or (4 if args.quick else 32)
    steps = args.steps or (3 if args.quick else 20)
    bundle = defaults.bundle_or_shipped(args.bundle)
    data = TrainingData.from_bundle(bundle, mode, quick=args.quick, seed=args.seed)
    sessions = data.sessions(n, pessimism=args.pessimism)
    rngs = [np.random.default_rng([args.seed, i]) for i in range(n)]
    sessions.reset(np.arange(n), rngs, cold=False)
    every = np.broadcast_to(np.arange(data.n_tracks), (n, data.n_tracks))
    found = {size: 0 for size in args.sizes}
    lost: dict[int, list[np.ndarray]] = {size: [] for size in args.sizes}
    seconds = {"exhaustive": 0.0, "screen": 0.0}
    for _ in range(steps):
        started = time.perf_counter()
        score = sessions.predicted_utility(every, pessimism=args.pessimism)
        middle = time.perf_counter()
        screen = sessions.predicted_utility(every, pessimism=0.0, member=0)
        seconds["exhaustive"] += middle - started
        seconds["screen"] += time.perf_counter() - middle
        best = score.argmax(axis=1)
        for size in args.sizes:
            short = shortlist(screen, min(size, data.n_tracks))
            picks = short[np.arange(n), np.take_along_axis(score, short, 1).argmax(axis=1)]
            found[size] += int((picks == best).sum())
            lost[size].append(score[np.arange(n), best] - score[np.arange(n), picks])
        sessions.step(best, rngs)
    ensemble_per_track = seconds["exhaustive"] / data.n_tracks
    return {
        "mode": mode,
        "tracks": data.n_tracks,
        "decisions": n * steps,
        "screen_cost_vs_exhaustive": seconds["screen"] / seconds["exhaustive"],
        "sizes": {
            size: {
                "found": found[size] / (n * steps),
                "mean_loss": float(np.concatenate(lost[size]).mean()),
                "max_loss": float(np.concatenate(lost[size]).max()),
                "cost_vs_exhaustive": (seconds["screen"] + size * ensemble_per_track)
                / seconds["exhaustive"],
            }
            for size in args.sizes
        },
    }


def main(args: Args) -> dict[str, Any]:
    """Every mode, then the JSON and the markdown table."""
    out = prepare_output_dir(args.out_dir)
    started = time.perf_counter()
    results = [run_mode(args, mode) for mode in tqdm(args.modes, desc="modes")]
    report = {
        "modes": {r["mode"]: r for r in results},
        "pessimism": args.pessimism,
        "wall_seconds": time.perf_counter() - started,
        **provenance(args),
    }
    rows = [
        [
            r["mode"],
            size,
            f"{m['found']:.1%}",
            f"{m['mean_loss']:.4f}",
            f"{m['max_loss']:.3f}",
            f"{m['cost_vs_exhaustive']:.2f}",
        ]
        for r in results
        for size, m in r["sizes"].items()
    ]
    header = ["mode", "shortlist", "exhaustive track found", "mean loss", "max loss", "cost"]
    caption = (
        f"Pessimistic greedy (lambda {args.pessimism}) in the ensemble, training listeners, "
        f"{results[0]['decisions']} decisions per mode: the shortlist (the first member's best "
        "tracks by plain utility) against the exhaustive search. Loss: pessimistic one-step "
        "utility given up per decision; cost: CPU time relative to the exhaustive search (the "
        "screen plus the shortlist's share of the ensemble's scoring)."
    )
    markdown = f"{caption}\n\n{markdown_table(header, rows)}\n\nCommand: `{report['command']}`"
    write_outputs(out, NAME, report, markdown)
    return report


if __name__ == "__main__":
    run(main, Args)
