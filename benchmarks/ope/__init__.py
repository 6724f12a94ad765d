"""Off-policy evaluation against the truth: which estimator ranks policies rightly?

For each mode, a zoo of policies (every registered agent, trained or loaded from the cache the
leaderboard shares, plus graded variants: each mixed with uniformly random tracks at two shares,
and the stochastic ones tempered softer and sharper) gets its true value, the mean per-step
utility of its episodes in the reference world, and the estimate of every estimator:

| estimator | what it uses |
| --- | --- |
| `world_model` | episodes played in the bundle's one world model (the ensemble's first member) |
| `ensemble` | episodes played in the ensemble (its members' mixture) |
| `pessimistic` | the same episodes; reward = utility - lambda * its uncertainty (`--pessimism`) |
| `ips`, `snips`, `pdwis` | the held-out listeners' logs and the logging policy's propensities |
| `direct`, `dr` | the logs and the one world model's expected one-step utility (doubly robust) |
| `fqe` | the logs: d3rlpy's FQE over the tracks' content (see `agents.off_policy`) |

Rollout estimators play the same starting sessions and seeds as the truth. Metrics as DOPE defines
them (Fu et al. 2021): normalised absolute error, Spearman rank correlation, regret@1 and
regret@5, each with a 95% bootstrap interval, over the policies every estimator scored (the
zoo), and over the registered agents alone (`<estimator>_registered`). Greedy searches the world
model in every simulator, so it is one policy that every rollout estimator scores; it has no
probabilities on logs, so the log-based estimators do not (`<estimator>_all`: every policy the
estimator scored).

    # 1000 episodes per cell; agents cached: 25 min on 2 cores (16 agents, 52 policies)
    python -m benchmarks.ope --out results/ope
    python -m benchmarks.ope --quick --out results/ope     # smaller zoo and sample: under 3 min

It also measures whether the uncertainty means something: over the (state, track) pairs the
registered agents visit in the reference world (the ensemble observing), the rank correlation
between the members' utility uncertainty and the mixture's absolute error against the reference
world's own expected utility; the same episode by episode; and the error split by the utility's
terms (the progress term's errors cancel along an episode).

Writes ope.csv (one row per mode, policy, estimator), ope.json (metrics, bars, settings), ope.md,
scatter.png (estimate against truth per estimator), metrics.png and uncertainty.png (error by
uncertainty decile).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

import agents
from agents.cache import train_or_load
from agents.evaluation import rollout
from agents.off_policy import FQESettings, fit_fqe_all, replay_policies
from agents.protocol import Agent
from amrs_gym.io import atomic_write, prepare_output_dir
from amrs_gym.reward import DEFAULT_PESSIMISM, MAX_PESSIMISM
from amrs_gym.simulator import ListeningSessions, SessionConfig
from benchmarks._common import provenance, write_outputs
from benchmarks.ope.metrics import (
    METRICS,
    Key,
    dope_metrics,
    resampled_values,
    score,
    score_resampled,
)
from benchmarks.ope.policies import base_name, policy_zoo
from benchmarks.ope.report import (
    ROLLOUT_ESTIMATORS,
    bars,
    markdown,
    plot_calibration,
    plot_metrics,
    plot_scatter,
)
from benchmarks.zoo import ZooArgs, map_modes


@dataclass
class Args(ZooArgs):
    """Settings of the off-policy-evaluation benchmark."""

    judges_members: ClassVar[bool] = True

    out_dir: str = "results/ope"
    """Where the tables and plots go."""
    cache_dir: str = "results/agents"
    """Trained agents are read from (and written to) here, shared with the leaderboard."""
    episodes: int | None = field(default=None, metadata={"min": 2})
    """Episodes per policy, mode and rollout estimator (default 1000, 50 with --quick)."""
    probe_episodes: int | None = field(default=None, metadata={"min": 1})
    """Episodes per registered agent for the uncertainty-against-error probe (default 200, or
    `episodes` if fewer)."""
    log_sessions: int | None = field(default=None, metadata={"min": 1})
    """Held-out logged sessions the log-based estimators read, drawn at random (default all,
    64 with --quick)."""
    pessimism: float = field(default=DEFAULT_PESSIMISM, metadata={"min": 0, "max": MAX_PESSIMISM})
    """lambda of the pessimistic estimator (default: amrs_gym.reward.DEFAULT_PESSIMISM)."""
    resamples: int = field(default=1000, metadata={"min": 10})
    """Bootstrap resamples for the metrics' intervals."""
    shares: list[float] | None = None
    """Zoo variants: every agent but random mixed with uniformly random tracks at these shares
    (default 0.2 0.5; 0.5 with --quick)."""
    temperatures: list[float] | None = None
    """Zoo variants: the `tempered` agents' distributions at these temperatures (default 0.5 2;
    2 with --quick)."""
    tempered: list[str] = field(default_factory=lambda: ["bc", "dpo", "a2c", "logged"])
    """Stochastic agents whose tempered versions join the zoo (those run here)."""
    fqe: FQESettings = field(default_factory=FQESettings)
    """FQE's settings (`--quick`: at most 100 steps of 128 transitions)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = sorted(set(self.tempered) - set(agents.available()))
        if unknown:
            raise ValueError(
                f"--tempered: unknown agent(s) {', '.join(unknown)}; registered: "
                f"{', '.join(agents.available())}"
            )
        shares, temperatures = self.variants()
        for share in shares:
            if not 0 < share <= 1:
                raise ValueError(f"shares must lie in (0, 1], got {share}")
        for temperature in temperatures:
            if not 1e-3 <= temperature <= 1e3 or temperature == 1:
                raise ValueError(
                    f"temperatures must lie in [0.001, 1000] and not be 1, got {temperature}"
                )
        bundle = self.simulator()
        if not bundle.has_truth:
            raise ValueError(
                f"bundle {bundle.path} has no reference world: off-policy estimates cannot be "
                "scored against a truth"
            )
        if len(bundle.members) < 2:
            raise ValueError(
                f"bundle {bundle.path} has no ensemble (build it with --members 5): the ensemble "
                "estimators need one"
            )

    def variants(self) -> tuple[list[float], list[float]]:
        """The zoo's random shares and temperatures (fewer with --quick)."""
        shares = self.shares or ([0.5] if self.quick else [0.2, 0.5])
        return shares, self.temperatures or ([2.0] if self.quick else [0.5, 2.0])

    def logged_sessions(self) -> int | None:
        """Logged sessions the log-based estimators read (None: all)."""
        return self.log_sessions or (64 if self.quick else None)

    def fqe_settings(self) -> FQESettings:
        """FQE's settings, shortened by --quick."""
        if not self.quick:
            return self.fqe
        return replace(
            self.fqe,
            n_steps=min(self.fqe.n_steps, 100),
            batch_size=min(self.fqe.batch_size, 128),
        )


def run_one(args: Args, mode: str) -> dict[str, Any]:
    """One mode's per-episode utilities and logged evidence.

    Every zoo policy in the truth and in each rollout estimator, and what the log-based
    estimators need; and the seconds each phase took.
    """
    torch.set_num_threads(1)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(phase: str) -> None:
        seconds[phase] = time.perf_counter() - clock[0]
        clock[0] = time.perf_counter()

    episodes = args.episodes or (50 if args.quick else 1000)
    probe = min(args.probe_episodes or 200, episodes)
    data = args.training_data(mode)
    trained, _ = train_or_load(args.runnable_agents(), data, Path(args.cache_dir), progress=False)
    zoo = policy_zoo(trained, *args.variants(), [t for t in args.tempered if t in trained])
    base = SessionConfig(mode, utility=data.utility, bundle=args.simulator())
    pessimistic = replace(base, pessimism=args.pessimism)
    lap("agents")
    values: dict[tuple[str, str], np.ndarray] = {}
    uncertainty: dict[str, float] = {}
    for name, policy in tqdm(zoo.items(), desc=f"{mode} rollouts", leave=False):
        values[(name, "truth")] = _per_episode(
            rollout(policy, base, "reference", episodes, args.seed)
        )
        values[(name, "world_model")] = _per_episode(
            rollout(policy, base, "world_model", episodes, args.seed)
        )
        result = rollout(policy, pessimistic, "world_model", episodes, args.seed)
        values[(name, "pessimistic")] = _per_episode(result)
        penalty = 0.0 if result.penalty is None else result.penalty.mean(axis=1)
        values[(name, "ensemble")] = values[(name, "pessimistic")] + penalty
        if args.pessimism > 0:
            uncertainty[name] = float(np.mean(penalty)) / args.pessimism
    lap("rollouts")
    observed = replace(base, ensemble=True)
    probed = probe_summary(
        [uncertainty_and_error(agent, observed, probe, args.seed) for agent in trained.values()]
    )
    lap("probe")
    weighed = {
        name: policy
        for name, policy in zoo.items()
        if callable(getattr(policy, "action_probabilities", None))
    }
    evidence = replay_policies(weighed, base, seed=args.seed, n_sessions=args.logged_sessions())
    lap("replay")
    fit_fqe_all(evidence, args.fqe_settings(), args.seed)
    lap("fqe")
    return {
        "mode": mode,
        "values": values,
        "episodes": episodes,
        "pairs": probed.pop("pairs"),
        "probe": probed,
        "evidence": evidence,
        "registered": list(trained),
        "uncertainty": uncertainty,
        "seconds": seconds,
    }


def _per_episode(result: Any) -> np.ndarray:
    per_episode: np.ndarray = result.episodes.utility.mean(axis=1)
    return per_episode


def uncertainty_and_error(
    agent: Agent, config: SessionConfig, episodes: int, seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The uncertainty and the error of every (state, track) pair the agent visits in the truth.

    The ensemble observes the reference world's outcomes; before each step, the members' standard
    deviation of the played track's one-step utility (episodes, steps), and each utility term's
    error: the mixture's expectation minus the reference world's own, from the latent state
    ({term: (episodes, steps)}; they sum to the utility's error).
    """
    uncertainty: list[np.ndarray] = []
    errors: list[dict[str, np.ndarray]] = []

    def record(sessions: ListeningSessions, actions: np.ndarray) -> None:
        played = actions[:, None]
        model, truth = sessions.utility_terms(played), sessions.utility_terms(played, truth=True)
        uncertainty.append(sessions.utility_uncertainty(played)[:, 0])
        errors.append({term: model[term][:, 0] - truth[term][:, 0] for term in model})

    rollout(agent, config, "reference", episodes, seed, watch=record)
    terms = {term: np.stack([e[term] for e in errors], axis=1) for term in errors[0]}
    return np.stack(uncertainty, axis=1), terms


def probe_summary(probes: list[tuple[np.ndarray, dict[str, np.ndarray]]]) -> dict[str, Any]:
    """Does the uncertainty predict the error, pair by pair and episode by episode?

    `pairs`: (uncertainty, |error|) of every pair. `episodes`: Spearman's rho of an episode's
    mean uncertainty with the absolute error of its mean utility. `terms`: each utility term's
    mean absolute error per pair and of its episode mean (a term whose errors cancel along an
    episode, as the progress term's do, weighs far less in a policy's value than pair by pair).
    """
    uncertainty = np.concatenate([u for u, _ in probes])
    terms = {t: np.concatenate([e[t] for _, e in probes]) for t in probes[0][1]}
    error = np.sum(list(terms.values()), axis=0)
    return {
        "pairs": np.c_[uncertainty.ravel(), np.abs(error).ravel()],
        "episodes": rank_correlation(np.c_[uncertainty.mean(1), np.abs(error.mean(1))]),
        "terms": {
            t: {"pair": float(np.abs(e).mean()), "episode": float(np.abs(e.mean(1)).mean())}
            for t, e in terms.items()
            if np.abs(e).max() > 0
        },
    }


def point_estimates(
    result: dict[str, Any], resampled: Mapping[Key, tuple[float, np.ndarray]]
) -> pd.DataFrame:
    """One row per (policy, estimator) of a mode: estimate, truth, error."""
    truth = {p: point for (p, e), (point, _) in resampled.items() if e == "truth"}
    rows = [
        {
            "mode": result["mode"],
            "policy": policy,
            "agent": base_name(policy),
            "registered": policy in result["registered"],
            "estimator": estimator,
            "estimate": point,
            "truth": truth[policy],
            "error": point - truth[policy],
        }
        for (policy, estimator), (point, _) in resampled.items()
        if estimator != "truth"
    ]
    return pd.DataFrame(rows)


def main(args: Args) -> dict[str, Any]:
    """Run every mode, then write the table, the metrics and the plots."""
    out = prepare_output_dir(args.out_dir)
    prepare_output_dir(args.cache_dir, "--cache")
    skipped = args.announce_skipped()
    started = time.perf_counter()
    results = map_modes(run_one, args, args.modes, args.workers)
    resampled = [
        resampled_values(r["values"], args.resamples, args.seed, r["evidence"]) for r in results
    ]
    table = pd.concat(
        [point_estimates(r, v) for r, v in zip(results, resampled, strict=True)],
        ignore_index=True,
    )
    modes = {
        r["mode"]: score_resampled(v, r["registered"])
        for r, v in zip(results, resampled, strict=True)
    }
    report: dict[str, Any] = {
        "modes": modes,
        "uncertainty_vs_error": {
            **{r["mode"]: rank_correlation(r["pairs"]) | r["probe"] for r in results},
            "all": rank_correlation(np.concatenate([r["pairs"] for r in results])),
        },
        "uncertainty_vs_gap": {r["mode"]: uncertainty_and_gap(r) for r in results},
        "policies": {r["mode"]: sorted({p for p, _ in r["values"]}) for r in results},
        "episodes": results[0]["episodes"],
        "pessimism": args.pessimism,
        "fqe": asdict(args.fqe_settings()),
        "logged_sessions": {r["mode"]: r["evidence"].n_sessions for r in results},
        "bundle": args.simulator().fingerprint,
        "skipped": skipped,
        "wall_seconds": time.perf_counter() - started,
        "phase_seconds": {r["mode"]: r["seconds"] for r in results},
        **provenance(args),
    }
    report["bars"] = bars(report, table)
    atomic_write(out / "ope.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.5g"))
    write_outputs(out, "ope", report, markdown(table, report))
    plot_scatter(table, out / "scatter.png")
    plot_metrics(report, out / "metrics.png")
    plot_calibration({r["mode"]: r["pairs"] for r in results}, out / "uncertainty.png")
    return report


def uncertainty_and_gap(result: dict[str, Any]) -> dict[str, float]:
    """Does a policy's uncertainty say how much the ensemble overrates it?

    Across the zoo: Spearman's rho of each policy's mean utility uncertainty (along its ensemble
    episodes) with the ensemble's estimate minus its true value.
    """
    values, names = result["values"], sorted(result["uncertainty"])
    gaps = [float(np.mean(values[(n, "ensemble")]) - np.mean(values[(n, "truth")])) for n in names]
    return rank_correlation(np.c_[[result["uncertainty"][n] for n in names], gaps])


def rank_correlation(pairs: np.ndarray) -> dict[str, float]:
    """Spearman's rho between uncertainty and absolute error over (state, track) pairs."""
    rho = spearmanr(pairs[:, 0], pairs[:, 1]).statistic if len(pairs) > 2 else np.nan
    return {"spearman": float(rho), "pairs": len(pairs)}


__all__ = ["METRICS", "ROLLOUT_ESTIMATORS", "Args", "dope_metrics", "main", "run_one", "score"]
