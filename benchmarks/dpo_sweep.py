r"""DPO sweep: which DPO setting buys the most utility for the diversity it gives up?

Over the product of KL weights, novelty weights, losses, pessimism and candidate sources, on
training listeners in the world model.

For each mode, BC is fitted once; DPO is fine-tuned from it with each setting; every policy
is then scored from the TRAINING listeners' histories in the pessimistic ensemble
(`--validation-pessimism`, the utility less lambda times the members' disagreement: a
validation that does not reward the world model's errors; the held-out listeners and the
reference world are never consulted). The chosen setting is the one with the highest
validation utility among those that keep 90% of BC's coverage and of its intra-list
diversity; that is how `agents.dpo`'s defaults were picked (benchmarks/NOTES.md has the runs).

    # the method (losses x pessimism x candidate sources) at the modes' weights: 8 settings
    python -m benchmarks.dpo_sweep --out results/dpo_sweep
    # the weights, for the chosen method: 9 settings, 17 minutes on 2 cores
    python -m benchmarks.dpo_sweep --kl-weights 0.5 1 2 --novelty-weights 1 1.5 2 \
        --losses plackett_luce --pessimisms 1 --policy-shares 0.5 --out results/dpo_sweep_weights
    # a minute
    python -m benchmarks.dpo_sweep --quick --modes calm --out DIR

Writes dpo_sweep.json, dpo_sweep.md and dpo_sweep.png (utility vs ILD, one line per mode).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from agents.bc import BCAgent, BCConfig
from agents.data import TrainingData
from agents.dpo import DPOAgent, DPOConfig
from agents.evaluation import rollout
from amrs_gym import defaults
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES
from amrs_gym.reward import DEFAULT_PESSIMISM
from benchmarks._common import (
    check_fields,
    markdown_table,
    provenance,
    pyplot,
    run,
    save_figure,
    write_outputs,
)
from benchmarks.zoo import map_modes


@dataclass
class Args:
    """Settings of the sweep."""

    out_dir: str = "results/dpo_sweep"
    """Where the outputs go."""
    quick: bool = False
    """Quick training (BC and DPO) for tests."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of training; validation episodes use seed + 1."""
    modes: list[str] = field(default_factory=lambda: list(MODES), metadata={"choices": MODES})
    """Modes to sweep."""
    kl_weights: list[float] | None = field(default=None, metadata={"min": 0})
    """KL(reference || policy) weights tried (none: the mode's, `MODE_WEIGHTS`)."""
    novelty_weights: list[float] | None = field(default=None, metadata={"min": 0})
    """Novelty bonus weights tried (none: the mode's)."""
    losses: list[str] = field(
        default_factory=lambda: ["pairs", "plackett_luce"],
        metadata={"choices": ("pairs", "plackett_luce")},
    )
    """DPO losses tried (`DPOConfig.loss`)."""
    pessimisms: list[float] = field(default_factory=lambda: [0.0, 1.0], metadata={"min": 0})
    """Pessimism of the sessions that score the candidates (`DPOConfig.pessimism`)."""
    policy_shares: list[float] = field(
        default_factory=lambda: [0.0, 0.5], metadata={"min": 0, "max": 1}
    )
    """Shares of the current policy in the candidates' proposal (`DPOConfig.policy_share`)."""
    validation_pessimism: float = field(default=DEFAULT_PESSIMISM, metadata={"min": 0})
    """Lambda of the ensemble sessions that validate (0: the single world model)."""
    episodes: int = field(default=1000, metadata={"min": 2})
    """Validation episodes per policy: the leaderboard's count, since coverage (tracks played at
    least once) grows with it (at 300, BC covered 78-87% of the catalog and DPO's share of it
    read 3-6 points lower than at 1000)."""
    workers: int = field(default=2, metadata={"min": 1})
    """Modes run in parallel processes."""
    bundle: str | None = None
    """Simulator bundle directory (default: the shipped one)."""

    def __post_init__(self) -> None:
        check_fields(self)
        defaults.bundle_or_shipped(self.bundle)  # a bad bundle is refused now, in one line


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """BC and each DPO variant of one mode, scored in the world model on training listeners."""
    torch.set_num_threads(1)
    data = TrainingData.from_bundle(
        defaults.bundle_or_shipped(args.bundle), mode, quick=args.quick, seed=args.seed
    )
    bc = BCAgent(mode, BCConfig(seed=args.seed)).fit(data)

    validation = (
        data.pessimistic_config(args.validation_pessimism)
        if args.validation_pessimism
        else data.session_config
    )

    def score(agent: Any) -> dict[str, float]:
        metrics = rollout(agent, validation, "world_model", args.episodes, args.seed + 1).metrics
        return {
            k: metrics[k]
            for k in ("utility_mean", "utility_ci95", "coverage", "ild", "final_distance")
        }

    results: dict[str, dict[str, Any]] = {"bc": score(bc)}
    for setting in settings(args):
        dpo = DPOAgent(mode, DPOConfig(seed=args.seed, **setting)).use_reference(bc).fit(data)
        results[setting_name(setting)] = {**setting, **score(dpo)}
    base = results["bc"]
    allowed = [
        r
        for k, r in results.items()
        if k != "bc" and r["coverage"] >= 0.9 * base["coverage"] and r["ild"] >= 0.9 * base["ild"]
    ]
    best = max(allowed, key=lambda r: r["utility_mean"]) if allowed else None
    chosen = {k: best[k] for k in SETTING_FIELDS} if best else None
    return {"mode": mode, "results": results, "chosen": chosen}


SETTING_FIELDS = ("kl_weight", "novelty_weight", "loss", "pessimism", "policy_share")


def settings(args: Args) -> list[dict[str, Any]]:
    """Every DPO setting the sweep tries (the product of its lists)."""
    grid = itertools.product(
        args.kl_weights or [None],
        args.novelty_weights or [None],
        args.losses,
        args.pessimisms,
        args.policy_shares,
    )
    return [dict(zip(SETTING_FIELDS, values, strict=True)) for values in grid]


def setting_name(setting: dict[str, Any]) -> str:
    """A short label: `kl 0.25 / novelty 1.5 / pairs / pessimism 1 / policy 0.5`."""
    weights = [
        f"{name} {'mode' if setting[key] is None else format(setting[key], 'g')}"
        for name, key in (("kl", "kl_weight"), ("novelty", "novelty_weight"))
    ]
    return " / ".join(
        [
            *weights,
            setting["loss"],
            f"pessimism {setting['pessimism']:g}",
            f"policy {setting['policy_share']:g}",
        ]
    )


def main(args: Args) -> dict[str, Any]:
    """Sweep every mode and write the outputs."""
    out = prepare_output_dir(args.out_dir)
    done = map_modes(run_one, args, args.modes, args.workers)
    report = {"modes": {d["mode"]: d for d in done}, **provenance(args)}
    rows = [
        [
            d["mode"],
            name,
            r["utility_mean"],
            r["utility_ci95"],
            r["coverage"],
            r["ild"],
            r["final_distance"],
        ]
        for d in done
        for name, r in d["results"].items()
    ]
    markdown = "\n".join(
        [
            (
                "Validation (training listeners' histories, in the ensemble with pessimism "
                f"{args.validation_pessimism:g}) of BC and of each DPO setting:"
            ),
            "",
            markdown_table(
                ["mode", "policy", "utility", "ci95", "coverage", "ILD", "final distance"], rows
            ),
            "",
            "Chosen setting per mode "
            "(best utility keeping 90% of BC's coverage and of its ILD): "
            + ", ".join(f"{d['mode']} {d['chosen']}" for d in done),
            "",
            f"Command: `{report['command']}`",
        ]
    )
    write_outputs(out, "dpo_sweep", report, markdown)
    _plot(done, out / "dpo_sweep.png")
    return report


def _plot(done: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    figure, axis = plt.subplots(figsize=(6, 4.5))
    for d in done:
        base = d["results"]["bc"]
        variants = [r for k, r in d["results"].items() if k != "bc"]
        line = axis.plot(
            [r["ild"] / base["ild"] for r in variants],
            [r["utility_mean"] - base["utility_mean"] for r in variants],
            marker="o",
            label=d["mode"],
        )
        for r in variants:
            axis.annotate(
                setting_name(r),
                (r["ild"] / base["ild"], r["utility_mean"] - base["utility_mean"]),
                fontsize=7,
                color=line[0].get_color(),
                xytext=(3, 3),
                textcoords="offset points",
            )
    axis.axvline(0.9, color="grey", linestyle="--", label="90% of BC's ILD")
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.set(
        xlabel="ILD relative to BC",
        ylabel="utility gain over BC (per step)",
        title="DPO settings: validation utility vs diversity",
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


if __name__ == "__main__":
    run(main, Args)
