"""Run the seeds benchmark: `python -m benchmarks.seeds --out DIR` (see the package docstring)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from amrs_gym.io import prepare_output_dir
from benchmarks._common import markdown_table, provenance, pyplot, run, save_figure, write_outputs
from benchmarks.seeds import NAME, PUBLISHED, Args
from benchmarks.seeds.poster import poster_and_musicbox
from benchmarks.seeds.thesis import THESIS_CONFIGS, thesis


def main(args: Args) -> dict[str, Any]:
    """Run the three reproductions and write seeds.json, seeds.md and seeds.png."""
    torch.set_num_threads(1)
    out = prepare_output_dir(args.out_dir)
    started = time.perf_counter()
    thesis_report = thesis(args)
    poster, musicbox, curves = poster_and_musicbox(args)
    report: dict[str, Any] = {
        "thesis": thesis_report,
        "poster": poster,
        "musicbox": musicbox,
        "quick": bool(args.quick),
        "wall_seconds": time.perf_counter() - started,
    }
    report["bar"] = {
        "thesis_2d_grid_a2c_at_least_150": report["thesis"]["2d_grid"]["avg_reward"] >= 150,
        "poster_ddpg_above_nonskip_baseline": poster["ddpg_score"] > poster["nonskip_baseline"],
        "poster_ddpg_above_random": poster["ddpg_score"] > poster["random_score"],
    }
    report.update(provenance(args))
    write_outputs(out, NAME, report, _markdown(report))
    _plots(out / f"{NAME}.png", report, curves)
    return report


def _markdown(report: dict[str, Any]) -> str:
    thesis_report, poster, musicbox = report["thesis"], report["poster"], report["musicbox"]
    published = PUBLISHED["thesis"]["2d_grid"]
    rows = []
    for config in THESIS_CONFIGS:
        entry = thesis_report[config]
        given = published if config == "2d_grid" else None
        rows.append(
            [
                f"A2C {config}",
                entry["avg_reward"],
                entry["std"],
                given["avg_reward"] if given else "-",
                given["std"] if given else "-",
                entry["n_targets"],
                entry["timesteps"],
                len(entry["per_seed"]),
                ", ".join(f"{r['avg_reward']:.1f}" for r in entry["per_seed"]),
            ]
        )
    for dims in (2, 3, 4):
        for kind in ("rule_based", "ceiling"):
            entry = thesis_report[f"{kind}_{dims}d"]
            rows.append(
                [
                    f"{kind} {dims}d",
                    entry["avg_reward"],
                    entry["std"],
                    "-",
                    "-",
                    entry["n_targets"],
                    "-",
                    "-",
                    "-",
                ]
            )
    parts = [
        "# Seeds: the three earlier works, reproduced",
        "",
        *(
            ["Quick run: training budgets far below the default; not the figures to quote.", ""]
            if report["quick"]
            else []
        ),
        "## Thesis: A2C, WiderTopTarget users, bullseye reward (max 210)",
        "",
        (
            "Average and std over every target of the grid (one deterministic episode each); "
            "with several seeds, the means over seeds. "
            "`ceiling` knows the target and walks straight to it."
        ),
        "",
        markdown_table(
            [
                "agent",
                "avg",
                "std",
                "published avg",
                "published std",
                "targets",
                "timesteps",
                "seeds",
                "per-seed avg",
            ],
            rows,
        ),
        "",
        "## Poster: DDPG on SkipSession (tracks not skipped, out of 15)",
        "",
        markdown_table(
            ["policy", "ours", "published"],
            [
                ["DDPG", poster["ddpg_score"], PUBLISHED["poster"]["ddpg_score"]],
                ["non-skip benchmark of similar states", poster["nonskip_baseline"], "-"],
                ["random", poster["random_score"], "-"],
            ],
        ),
        "",
        f"{poster['budgets']['eval_episodes']} evaluation sessions; "
        f"DDPG: {poster['budgets']['ddpg_seeds']} seed(s) "
        f"of {poster['budgets']['ddpg_timesteps']} steps, per seed "
        + ", ".join(f"{r['ddpg_score']:.2f}" for r in poster["per_seed"])
        + ".",
        "",
        "## MusicBox: diversity and skip rate, DDPG vs the logged policy",
        "",
        markdown_table(
            ["figure", "DDPG (ours)", "logged (ours)", "DDPG (published)", "logged (published)"],
            [
                [
                    "diversity",
                    musicbox["ddpg_diversity"],
                    musicbox["logged_diversity"],
                    PUBLISHED["musicbox"]["ddpg_diversity"],
                    PUBLISHED["musicbox"]["logged_diversity"],
                ],
                [
                    "skip rate",
                    musicbox["ddpg_skip_rate"],
                    musicbox["logged_skip_rate"],
                    PUBLISHED["musicbox"]["ddpg_skip_rate"],
                    PUBLISHED["musicbox"]["logged_skip_rate"],
                ],
            ],
        ),
        "",
        musicbox["how"] + f"; catalog of {musicbox['n_tracks']} tracks.",
        "",
        "## Bars",
        "",
        markdown_table(["bar", "holds"], [[k, v] for k, v in report["bar"].items()]),
        "",
        f"Wall time: {report['wall_seconds'] / 60:.1f} min. Command: `{report['command']}`",
    ]
    return "\n".join(parts)


def _plots(path: Path, report: dict[str, Any], curves: dict[int, np.ndarray]) -> None:
    plt = pyplot()

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    thesis_report = report["thesis"]
    names = [*THESIS_CONFIGS, "rule_based_2d", "ceiling_2d", "rule_based_3d", "rule_based_4d"]
    values = [thesis_report[n]["avg_reward"] for n in names]
    errors = [thesis_report[n]["std"] for n in names]
    colours = ["tab:blue"] * len(THESIS_CONFIGS) + ["tab:grey"] * 4
    axis = axes[0]
    axis.bar(range(len(names)), values, yerr=errors, color=colours, capsize=3)
    axis.axhline(
        PUBLISHED["thesis"]["2d_grid"]["avg_reward"],
        color="tab:red",
        linestyle="--",
        label="thesis, 2-D GridObs (188)",
    )
    axis.axhline(150, color="black", linestyle=":", label="bar (150)")
    axis.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axis.set(
        ylabel="episode reward (mean +- std over targets)",
        ylim=(0, 215),
        title="Thesis: A2C vs rule-based",
    )
    axis.legend(loc="lower left", fontsize=8)

    poster = report["poster"]
    axis = axes[1]
    labels = ["DDPG", "non-skip\nbenchmark", "random"]
    axis.bar(
        labels,
        [poster["ddpg_score"], poster["nonskip_baseline"], poster["random_score"]],
        color=["tab:blue", "tab:grey", "tab:grey"],
    )
    axis.scatter(
        [0] * len(curves),
        [scores.mean() for scores in curves.values()],
        color="black",
        s=12,
        zorder=3,
        label="DDPG, per seed",
    )
    axis.axhline(
        PUBLISHED["poster"]["ddpg_score"],
        color="tab:red",
        linestyle="--",
        label="poster's DDPG (5)",
    )
    axis.set(ylabel="tracks not skipped per session", ylim=(0, 15), title="Poster: SkipSession")
    axis.legend(fontsize=8)

    musicbox = report["musicbox"]
    axis = axes[2]
    x = np.arange(2)
    published = PUBLISHED["musicbox"]
    axis.bar(
        x - 0.3,
        [musicbox["ddpg_diversity"], musicbox["ddpg_skip_rate"]],
        0.2,
        label="DDPG (ours)",
        color="tab:blue",
    )
    axis.bar(
        x - 0.1,
        [musicbox["logged_diversity"], musicbox["logged_skip_rate"]],
        0.2,
        label="logged (ours)",
        color="tab:grey",
    )
    axis.bar(
        x + 0.1,
        [published["ddpg_diversity"], published["ddpg_skip_rate"]],
        0.2,
        label="DDPG (MusicBox)",
        color="tab:cyan",
    )
    axis.bar(
        x + 0.3,
        [published["logged_diversity"], published["logged_skip_rate"]],
        0.2,
        label="logged (MusicBox)",
        color="silver",
    )
    axis.set_xticks(x, ["diversity", "skip rate"])
    axis.set(ylim=(0, 1), title="MusicBox: DDPG vs logged policy")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


if __name__ == "__main__":
    run(main, Args)
