"""Does the world model misjudge the tracks the logs rarely play? A check on logs alone.

A production policy plays the tracks it expects to please more often, so a world model that reads
only track content rates a rarely played track by its content, however the policy judged it. On
the validation listeners' logged plays (never trained on; the test listeners stay unread), this
compares the bundle's world model's predicted engagement and like probability with what the
listeners did, by how often the training logs play the track. A bias that falls with the count
is what reading popularity addresses (on by default; `python -m amrs_gym.world_model.train
--no-track-popularity` builds without it; benchmarks/NOTES.md, "The world model's tracks");
compare two bundles' tables to choose, as the shipped one was chosen.

    python -m benchmarks.popularity_bias --out results/popularity_bias        # about 30 s
    python -m benchmarks.popularity_bias --bundle mine/bundle --out mine/popularity_bias

Writes popularity_bias.json and popularity_bias.md into --out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.world_model.checkpoint import load_checkpoint
from amrs_gym.world_model.evaluation import predict_rows
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.track_features import track_plays
from benchmarks._common import markdown_table, provenance, run, write_outputs

NAME = "popularity_bias"
COLUMNS = ("plays", "rows", "engagement_bias", "engagement_se", "rated", "like_bias")
"""What each bin reports, in the table's order."""


@dataclass
class Args:
    """Settings of the popularity-bias check."""

    out_dir: str = "results/popularity_bias"
    """Where the outputs go."""
    bundle: str | None = None
    """Simulator bundle directory (default: the shipped one)."""
    edges: list[int] = field(default_factory=lambda: [20, 50, 100, 200])
    """Play counts that bound the bins (a bin below the first, one from the last up)."""

    def __post_init__(self) -> None:
        if not self.edges or any(e < 1 for e in self.edges) or self.edges != sorted(self.edges):
            raise ValueError(f"--edges must be increasing counts >= 1, got {self.edges}")


def predicted_and_observed(args: Args) -> dict[str, np.ndarray]:
    """Every scored row of the validation listeners' logs, as arrays.

    The track's plays in the training logs, the world model's expected engagement and like
    probability, the logged engagement and rating (NaN: none given).
    """
    torch.set_num_threads(1)
    bundle = defaults.bundle_or_shipped(args.bundle)
    split = bundle.split
    model, _ = load_checkpoint(bundle.checkpoint, bundle.catalog)
    rows = predict_rows(model, sessions_to_tensors(split.val))
    plays = track_plays(split.train, bundle.catalog.n_tracks)
    return {
        "plays": plays[split.val["track_id"].to_numpy()[rows.row]],
        "engagement": rows.expected_engagement,
        "like": rows.like_probability,
        "e": rows.engagement,
        "r": rows.rating,
    }


def bias_by_plays(rows: dict[str, np.ndarray], edges: list[int]) -> list[dict[str, Any]]:
    """Predicted minus observed engagement and like, per bin of the tracks' training plays."""
    bounds = [0, *edges, np.inf]
    out = []
    for low, high in itertools.pairwise(bounds):
        chosen = (rows["plays"] >= low) & (rows["plays"] < high)
        rated = chosen & ~np.isnan(rows["r"])
        n = int(chosen.sum())
        out.append(
            {
                "plays": f"{int(low)}-{int(high) - 1}" if np.isfinite(high) else f"{int(low)}+",
                "rows": n,
                "engagement_bias": _mean(rows["engagement"][chosen] - rows["e"][chosen]),
                "engagement_se": float(np.std(rows["e"][chosen]) / np.sqrt(n)) if n else np.nan,
                "rated": int(rated.sum()),
                "like_bias": _mean(rows["like"][rated] - rows["r"][rated]),
            }
        )
    return out


def _mean(values: np.ndarray) -> float:
    """The mean, NaN for no values (an empty bin)."""
    return float(values.mean()) if values.size else float("nan")


def main(args: Args) -> dict[str, Any]:
    """Score the bundle's world model on its validation listeners' logs and write the table."""
    out = prepare_output_dir(args.out_dir)
    bins = bias_by_plays(predicted_and_observed(args), args.edges)
    report = {"bins": bins, **provenance(args)}
    table = markdown_table(
        ["plays in the training logs", "rows", "engagement bias", "(se)", "rated", "like bias"],
        [[b[k] for k in COLUMNS] for b in bins],
    )
    text = (
        "Validation listeners' logged plays: the world model's prediction minus what they did.\n\n"
        + table
    )
    write_outputs(out, NAME, report, text)
    return report


if __name__ == "__main__":
    run(main, Args)
