"""DPO sweep: how much utility does DPO buy per unit of diversity given up?

As its KL and novelty weights vary, on training listeners in the world model.

For each mode, BC is fitted once; DPO is fine-tuned from it with each setting; every policy
is then scored in the world model from the TRAINING listeners' histories (validation: the
held-out listeners and the reference world are never consulted). The chosen weight is the one
with the highest validation utility among those that keep 80% of BC's coverage and 90% of its
intra-list diversity; that is how `agents.dpo.MODE_WEIGHTS` was picked.

    # 6 settings x 4 modes: about 11 minutes
    python -m benchmarks.dpo_sweep --out results/dpo_sweep
    # a minute
    python -m benchmarks.dpo_sweep --quick --modes calm --out DIR

Writes dpo_sweep.json, dpo_sweep.md and dpo_sweep.png (utility vs ILD, one line per mode).
"""

from __future__ import annotations

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
from benchmarks._common import (
    check_fields,
    cli,
    markdown_table,
    provenance,
    pyplot,
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
    kl_weights: list[float] = field(default_factory=lambda: [0.25, 0.5], metadata={"min": 0})
    """KL(reference || policy) weights tried."""
    novelty_weights: list[float] = field(
        default_factory=lambda: [1.0, 1.5, 2.0], metadata={"min": 0}
    )
    """Novelty bonus weights tried."""
    episodes: int = field(default=300, metadata={"min": 2})
    """Validation episodes per policy."""
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

    def score(agent: Any) -> dict[str, float]:
        metrics = rollout(
            agent, data.session_config, "world_model", args.episodes, args.seed + 1
        ).metrics
        return {
            k: metrics[k]
            for k in ("utility_mean", "utility_ci95", "coverage", "ild", "final_distance")
        }

    results = {"bc": score(bc)}
    for novelty in args.novelty_weights:
        for weight in args.kl_weights:
            dpo = DPOAgent(
                mode, DPOConfig(seed=args.seed, kl_weight=weight, novelty_weight=novelty)
            )
            dpo.use_reference(bc).fit(data)
            results[f"kl_{weight:g}_novelty_{novelty:g}"] = {
                "kl_weight": weight,
                "novelty_weight": novelty,
                **score(dpo),
            }
    base = results["bc"]
    allowed = [
        r
        for k, r in results.items()
        if k != "bc" and r["coverage"] >= 0.8 * base["coverage"] and r["ild"] >= 0.9 * base["ild"]
    ]
    best = max(allowed, key=lambda r: r["utility_mean"]) if allowed else None
    chosen = (
        {"kl_weight": best["kl_weight"], "novelty_weight": best["novelty_weight"]} if best else None
    )
    return {"mode": mode, "results": results, "chosen": chosen}


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
                "Validation (world model, training listeners' histories) "
                "of BC and of DPO per KL weight:"
            ),
            "",
            markdown_table(
                ["mode", "policy", "utility", "ci95", "coverage", "ILD", "final distance"], rows
            ),
            "",
            "Chosen setting per mode "
            "(best utility keeping 80% of BC's coverage and 90% of its ILD): "
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
                f"{r['kl_weight']:g}/{r['novelty_weight']:g}",
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
        title="DPO: utility vs diversity (labels: KL weight / novelty weight)",
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


if __name__ == "__main__":
    main(cli(Args))
