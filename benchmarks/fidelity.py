"""Fidelity: how well does the world model predict listeners, and tracks, it never saw?

It is compared with a history-free model (same inputs, no session history), a GRU of
similar size, and the oracle (the reference world's own expected outcomes given its
latent state: the ceiling no observer can pass), plus the paper's ablations.

    # 8 trainings: 62 minutes with --workers 1 on a shared 2-core machine (README)
    python -m benchmarks.fidelity --out results/fidelity
    # about 2 minutes
    python -m benchmarks.fidelity --quick --out results/fidelity

Writes fidelity.json, fidelity.md, calibration.png and affect.png into --out.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from amrs_gym.catalog import Catalog
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.splits import Split, split_by_listener, split_by_track
from amrs_gym.io import prepare_output_dir
from amrs_gym.world_model.evaluation import (
    METRICS,
    RowPredictions,
    fidelity_metrics,
    gap_closed,
    oracle_rows,
    plot_calibration,
    predict_rows,
)
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModelConfig
from amrs_gym.world_model.train import train_world_model
from amrs_gym.world_model.training import TrainConfig
from benchmarks._common import (
    check_fields,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)

MODELS: dict[str, dict[str, Any]] = {
    "world_model": {},
    "history_free": {"use_history": False},
    "gru": {"encoder": "gru"},
}
ABLATIONS: dict[str, dict[str, Any]] = {
    "no_history": {"use_history": False},
    "no_content": {"use_content": False},
    "no_affect": {"use_affect": False},
}


@dataclass
class Args:
    """Settings of the fidelity benchmark."""

    out_dir: str = "results/fidelity"
    """Where to write the outputs."""
    quick: bool = False
    """Small data and few epochs (for tests)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the data, the splits and training."""
    epochs: int | None = field(default=None, metadata={"min": 1})
    """Most training epochs per model (default 30, 2 with --quick; early stopping usually ends
    sooner)."""
    workers: int = field(default=2, metadata={"min": 1})
    """Models trained in parallel (one torch thread each)."""

    def __post_init__(self) -> None:
        check_fields(self)


def _train_and_predict(
    job: tuple[str, Split, Catalog, WorldModelConfig, TrainConfig],
) -> tuple[str, RowPredictions, float]:
    """Train one model on the split's train/val listeners and predict its test rows.

    Runs in a worker process.
    """
    name, split, catalog, config, train_config = job
    torch.set_num_threads(1)
    started = time.perf_counter()
    trained = train_world_model(split, catalog, config, train_config, progress=False)
    seconds = time.perf_counter() - started
    scored = split.scored_test_rows()
    rows = predict_rows(trained.model, sessions_to_tensors(split.test, scored=scored))
    return name, rows, seconds


def main(args: Args) -> dict[str, Any]:
    """Train every model of both protocols, score them and write the outputs."""
    out = prepare_output_dir(args.out_dir)
    data_config = DatasetConfig(seed=args.seed)
    if args.quick:
        data_config = replace(data_config, n_listeners=300, n_sessions=1500)
    dataset = data_config.create()
    logs = pd.concat(
        [dataset.logs, dataset.latent], axis=1
    )  # latent columns ride along for the oracle
    catalog = dataset.catalog
    splits = {
        "listener_cold": split_by_listener(logs, seed=args.seed),
        "track_cold": split_by_track(logs, catalog.n_tracks, seed=args.seed),
    }
    epochs = args.epochs or (2 if args.quick else 30)
    train_config = TrainConfig(epochs=epochs, seed=args.seed)
    jobs = [
        (
            f"{protocol}/{name}",
            splits[protocol],
            catalog,
            WorldModelConfig(**overrides),
            train_config,
        )
        for protocol in splits
        for name, overrides in MODELS.items()
    ]
    jobs += [
        (
            f"ablations/{name}",
            splits["listener_cold"],
            catalog,
            WorldModelConfig(**overrides),
            train_config,
        )
        for name, overrides in ABLATIONS.items()
        if name != "no_history"  # identical to listener_cold/history_free: reuse it
    ]
    results: dict[str, RowPredictions] = {}
    seconds: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for name, rows, took in tqdm(
            pool.map(_train_and_predict, jobs), total=len(jobs), desc="training models"
        ):
            results[name], seconds[name] = rows, took
    results["ablations/no_history"] = results["listener_cold/history_free"]

    report: dict[str, Any] = {"listener_cold": {}, "track_cold": {}, "ablations": {}}
    for name, rows in results.items():
        group, model = name.split("/")
        report[group][model] = fidelity_metrics(rows)
    for protocol, split in splits.items():
        report[protocol]["oracle"] = fidelity_metrics(
            oracle_rows(split.test, split.scored_test_rows())
        )
    report["ablations"]["full"] = report["listener_cold"]["world_model"]
    report["train_seconds"] = seconds["listener_cold/world_model"]
    report["train_seconds_by_model"] = seconds
    report["gap_closed"] = {
        protocol: {
            metric: gap_closed(
                report[protocol]["world_model"][metric],
                report[protocol]["history_free"][metric],
                report[protocol]["oracle"][metric],
            )
            for metric in ("engagement_auc", "valence_mae", "arousal_mae")
        }
        for protocol in splits
    }
    report["rows_scored"] = {p: int(s.scored_test_rows().sum()) for p, s in splits.items()}
    report["bar"] = {
        "listener_cold_gap_closed_at_least_0.6": all(
            v >= 0.6 for v in report["gap_closed"]["listener_cold"].values()
        ),
        "beats_gru": _beats(report["listener_cold"]["world_model"], report["listener_cold"]["gru"]),
    }
    report.update(provenance(args))
    write_outputs(out, "fidelity", report, _markdown(report))
    _plots(out, results, splits)
    return report


def _beats(model: dict[str, float], other: dict[str, float]) -> bool:
    """Better on skip AUC and on both affect MAEs."""
    return (
        model["engagement_auc"] > other["engagement_auc"]
        and model["valence_mae"] < other["valence_mae"]
        and model["arousal_mae"] < other["arousal_mae"]
    )


def _markdown(report: dict[str, Any]) -> str:
    parts = []
    for group in ("listener_cold", "track_cold", "ablations"):
        rows = [[model, *(report[group][model][m] for m in METRICS)] for model in report[group]]
        parts += [f"### {group}", "", markdown_table(["model", *METRICS], rows), ""]
    closed = report["gap_closed"]
    parts += [
        "Share of the history-free-to-oracle gap closed by the world model:",
        "",
        markdown_table(
            ["protocol", "engagement_auc", "valence_mae", "arousal_mae"],
            [[p, *closed[p].values()] for p in closed],
        ),
        "",
        f"Command: `{report['command']}`",
    ]
    return "\n".join(parts)


def _plots(out: Path, results: dict[str, RowPredictions], splits: dict[str, Split]) -> None:
    plot_calibration(
        {name: results[f"listener_cold/{name}"] for name in ("world_model", "history_free", "gru")},
        out / "calibration.png",
        "Calibration, listener-cold",
    )
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 5))
    rows = results["listener_cold/world_model"]
    for axis, name in zip(axes, ("valence", "arousal"), strict=True):
        report = getattr(rows, f"{name}_report")
        given = ~np.isnan(report)
        axis.scatter(report[given], getattr(rows, name)[given], s=4, alpha=0.3)
        axis.plot([-1, 1], [-1, 1], color="grey", linestyle="--")
        axis.set(
            xlabel=f"reported {name} (circumplex units)",
            ylabel=f"predicted {name}",
            title=f"{name}: world model vs self-reports (listener-cold)",
        )
    figure.tight_layout()
    save_figure(figure, out / "affect.png", dpi=120)


if __name__ == "__main__":
    run(main, Args)
