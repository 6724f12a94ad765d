"""BC gap: what keeps behaviour cloning below the production policy it clones?

Two candidate causes: the observation does not carry what production uses (its estimate of each
listener's taste), or BC cannot learn it from the logs it has. Both are measured, per mode:

- the logged choices' negative log-likelihood (NLL) on a tenth of the TRAINING listeners' sessions
  (BC's own early-stopping split): under production itself (the floor), under production with one
  of its terms switched off (what each term explains), and under BC variants: the former
  256-wide MLP, the linear default, the linear one with the listener profile zeroed, and one
  given production's own taste estimate in place of the profile (an oracle no platform has);
- the reference-world utility (1000 held-out episodes) of production, of production without its
  taste term, and of the two BC networks. The reference world only scores here; nothing is chosen
  on it (BC's width and learning rate were chosen on the validation NLL).

    python -m benchmarks.bc_gap --out results/bc_gap          # about 6 minutes on 2 cores
    python -m benchmarks.bc_gap --quick --modes calm --out DIR

Writes bc_gap.json and bc_gap.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import agents
from agents.bc import BCAgent, BCConfig, validation_rows
from agents.data import TrainingData
from agents.evaluation import rollout
from agents.logged import LoggedAgent
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES, mode_index
from amrs_gym.reference_world import ProductionPolicy
from amrs_gym.simulator import LAST_SKIPPED_INDEX, LoggedSteps, SessionView
from benchmarks._common import check_fields, markdown_table, provenance, run, write_outputs
from benchmarks.zoo import map_modes

TERMS = ("taste_weight", "continuity_weight", "repeat_penalty")
"""Production's terms that are switched off one at a time."""
BC_VARIANTS: dict[str, dict[str, float]] = {
    "bc_mlp": {"hidden": 256, "learning_rate": 1e-3},
    "bc": {},
}
"""BC networks compared (config overrides of `BCConfig`): the former MLP and the default."""


@dataclass
class Args:
    """Settings of the BC-gap diagnosis."""

    out_dir: str = "results/bc_gap"
    """Where bc_gap.json and bc_gap.md go."""
    quick: bool = False
    """Quick BC training and 200 episodes (tests)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of training and of the scoring episodes."""
    modes: list[str] = field(default_factory=lambda: list(MODES), metadata={"choices": MODES})
    """Modes to diagnose."""
    episodes: int | None = field(default=None, metadata={"min": 2})
    """Reference-world episodes per policy (default 1000, 200 with --quick)."""
    workers: int = field(default=2, metadata={"min": 1})
    """Modes run in parallel processes."""

    def __post_init__(self) -> None:
        check_fields(self)


class ProductionVariant(LoggedAgent):
    """The production policy with its config changed (e.g. a term switched off)."""

    def __init__(self, mode: str, policy: ProductionPolicy):
        super().__init__(mode)
        self.policy = policy

    def production(self, view: SessionView) -> ProductionPolicy:
        """The changed policy, whatever the sessions' bundle logged with."""
        return self.policy


def production_nll(
    policies: dict[str, ProductionPolicy],
    steps: LoggedSteps,
    rows: np.ndarray,
    listener: np.ndarray,
    mode: str,
) -> dict[str, float]:
    """Each policy's mean negative log-likelihood of the logged tracks of `steps[rows]`.

    `listener` holds each replayed step's listener; the inputs are built once for all policies.
    """
    played = steps.played_before(int(steps.step.max()) + 1)[rows]
    inputs = (
        listener[rows],
        np.full(int(rows.sum()), mode_index(mode)),
        played,
        (played >= 0).sum(axis=1),
        steps.observations[rows, LAST_SKIPPED_INDEX] > 0.5,
    )
    logged = steps.actions[rows]
    return {
        name: float(
            -np.log(policy.track_probabilities(*inputs)[np.arange(len(played)), logged]).mean()
        )
        for name, policy in policies.items()
    }


def _with_profile(data: TrainingData, profile: np.ndarray | None) -> TrainingData:
    """`data` whose replayed observations end with `profile` instead (zeros if None)."""
    steps = data.replay
    observations = steps.observations.copy()
    observations[:, -data.catalog.embedding_dim :] = 0.0 if profile is None else profile
    changed = replace(data)
    changed.__dict__["replay"] = replace(steps, observations=observations)  # the cached replay
    return changed


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """NLLs and reference utilities of production's variants and BC's for one mode."""
    torch.set_num_threads(1)
    episodes = args.episodes or (200 if args.quick else 1000)
    data = TrainingData.default(mode, quick=args.quick, seed=args.seed)
    bundle = data.bundle
    assert bundle is not None
    production = bundle.production_policy()
    steps = data.replay
    listener_of = data.logs.groupby("session_id")["listener_id"].first()
    listener = listener_of.loc[steps.session_id].to_numpy()
    fitted = {
        name: BCAgent(mode, BCConfig(seed=args.seed, **kw)).fit(data)
        for name, kw in BC_VARIANTS.items()
    }
    rows = validation_rows(steps.session_id, BCConfig(seed=args.seed))  # BC's held out

    def switched_off(term: str) -> ProductionPolicy:
        config = replace(production.config, **{term: 0.0})
        return ProductionPolicy(bundle.catalog, bundle.reference_world().population, config)

    variants = {"production": production} | {
        f"production without {term}": switched_off(term) for term in TERMS
    }
    nll = production_nll(variants, steps, rows, listener, mode)
    nll |= {name: min(agent.history) for name, agent in fitted.items()}
    estimate = production.taste_estimate[listener].astype(np.float32)
    for name, profile in (("bc, profile zeroed", None), ("bc, production's taste", estimate)):
        agent = BCAgent(mode, BCConfig(seed=args.seed)).fit(_with_profile(data, profile))
        nll[name] = min(agent.history)
    scored = {
        "production": agents.make("logged", mode=mode),
        "production without taste": ProductionVariant(
            mode, variants["production without taste_weight"]
        ),
        **fitted,
    }
    utility = {
        name: rollout(agent, mode, "reference", episodes, args.seed).metrics["utility_mean"]
        for name, agent in scored.items()
    }
    return {"mode": mode, "nll": nll, "reference_utility": utility, "episodes": episodes}


def main(args: Args) -> dict[str, Any]:
    """Diagnose every mode and write the tables."""
    out = prepare_output_dir(args.out_dir)
    done = map_modes(run_one, args, args.modes, args.workers)
    report = {"modes": {d["mode"]: d for d in done}, **provenance(args)}
    nll_names = list(done[0]["nll"])
    utility_names = list(done[0]["reference_utility"])
    markdown = "\n".join(
        [
            "Negative log-likelihood of the logged choices, held-out training sessions (nats):",
            "",
            markdown_table(
                ["policy", *args.modes], [[n, *(d["nll"][n] for d in done)] for n in nll_names]
            ),
            "",
            f"Reference-world utility per step ({done[0]['episodes']} held-out episodes):",
            "",
            markdown_table(
                ["policy", *args.modes],
                [[n, *(d["reference_utility"][n] for d in done)] for n in utility_names],
            ),
            "",
            f"Command: `{report['command']}`",
        ]
    )
    write_outputs(Path(out), "bc_gap", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    run(main, Args)
