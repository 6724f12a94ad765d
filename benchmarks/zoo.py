"""Zoo: every registered agent trained for every mode (or loaded from a cache of agent files).

    # the full zoo, 4 modes: 28 min on 2 cores (2026-12-05; the DPO family has since halved)
    python -m benchmarks.zoo --out results/agents
    python -m benchmarks.zoo --quick --modes calm --agents bc dpo
    python -m benchmarks.zoo --bundle mine/bundle --out results/agents   # your own simulator

Writes `<agent>-<mode>-<bundle fingerprint>.npz` per agent (weights only; `agents.cache` says
when a file is reused) and `zoo.json` / `zoo.md` with each agent's training time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

import agents
from agents.cache import train_or_load
from agents.data import TrainingData
from agents.evaluation import EVALUATORS, Evaluator
from amrs_gym import defaults
from amrs_gym.bundle import Bundle
from amrs_gym.io import prepare_output_dir
from amrs_gym.modes import MODES
from benchmarks._common import check_fields, markdown_table, provenance, run, write_outputs

T = TypeVar("T")


def _needs_truth(name: str) -> bool:
    """Whether the registered agent `name` needs a reference world (e.g. a session-aware oracle)."""
    return bool(getattr(agents.agent_class(name), "needs_truth", False))


@dataclass
class ZooArgs:
    """Settings every command that trains (or loads) the zoo per mode shares."""

    quick: bool = False
    """Quick training (tests, `--quick` benchmarks)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of training (and of the evaluation episodes, where there are any)."""
    modes: list[str] = field(default_factory=lambda: list(MODES), metadata={"choices": MODES})
    """Modes to run."""
    agents: list[str] = field(default_factory=lambda: list(agents.AGENTS))
    """Registered agents to train (built-in or declared by an installed package)."""
    workers: int = field(default=2, metadata={"min": 1})
    """Modes run in parallel processes (one torch thread each)."""
    bundle: str | None = None
    """Simulator bundle directory (default: the shipped one)."""

    def __post_init__(self) -> None:
        check_fields(self)
        unknown = sorted(set(self.agents) - set(agents.available()))
        if unknown or not self.agents:
            raise ValueError(
                f"unknown agent(s) {', '.join(unknown)}; "
                f"registered: {', '.join(agents.available())}"
            )
        if self.bundle is not None:
            Bundle.load(self.bundle)  # a bad bundle is refused now, in one line
        if not self.runnable_agents():
            reasons = "; ".join(line.removeprefix("skipped: ") for line in self.skip_reasons())
            raise ValueError(f"--agents {' '.join(self.agents)}: none can run here ({reasons})")

    def simulator(self) -> Bundle:
        """The bundle every mode trains and plays in."""
        return defaults.bundle_or_shipped(self.bundle)

    def training_data(self, mode: str) -> TrainingData:
        """The bundle's training listeners' data for `mode`."""
        return TrainingData.from_bundle(self.simulator(), mode, quick=self.quick, seed=self.seed)

    judges_members: ClassVar[bool] = False
    """Whether the command judges agents member by member or by the ensemble's own estimates
    (stress, OPE): agents that search the ensemble themselves (`agents.needs_ensemble`, e.g.
    `greedy_pessimistic`) are then left out, as their policy is not defined in one member."""

    def runnable_agents(self) -> list[str]:
        """`agents` less those that need a reference world or an ensemble the bundle lacks.

        And less the ensemble's own searchers where `judges_members`.
        """
        names = list(self.agents)
        if not self.simulator().has_truth:
            names = [n for n in names if not _needs_truth(n)]
        if len(self.simulator().members) < 2:
            names = [n for n in names if n not in self.pessimistic]
        if self.judges_members:
            names = [n for n in names if n not in self.ensemble_searchers]
        return names

    @cached_property
    def pessimistic(self) -> list[str]:
        """The agents asked for that train or act against the pessimistic ensemble."""
        return [
            n
            for n in self.agents
            if (getattr(agents.make(n, self.modes[0]).config, "pessimism", None) or 0) > 0
        ]

    @cached_property
    def ensemble_searchers(self) -> list[str]:
        """The agents asked for that read the ensemble's members when they act (made once)."""
        return [n for n in self.agents if agents.needs_ensemble(agents.make(n, self.modes[0]))]

    def evaluators(self) -> tuple[Evaluator, ...]:
        """Both evaluators, or the world model alone when the bundle has no reference world."""
        return EVALUATORS if self.simulator().has_truth else ("world_model",)

    def announce_skipped(self) -> list[str]:
        """Print and return `skip_reasons`."""
        lines = self.skip_reasons()
        for line in lines:
            print(line, file=sys.stderr)
        return lines

    def skip_reasons(self) -> list[str]:
        """One line per thing left out (the reference world the bundle lacks, an agent...)."""
        bundle = self.simulator()
        lines = []
        if not bundle.has_truth:
            why = f"bundle {bundle.path.name} has no reference world (logs: {bundle.logs_source})"
            lines.append(f"skipped: the reference evaluator: {why}")
            lines += [
                f"skipped: agent {name}: it needs a reference world; {why}"
                for name in self.agents
                if _needs_truth(name)
            ]
        if len(bundle.members) < 2:
            lines += [
                f"skipped: agent {name}: it needs the pessimistic ensemble, and bundle "
                f"{bundle.path.name} has one world model (train it with --members 5)"
                for name in self.pessimistic
            ]
        if self.judges_members:
            lines += [
                f"skipped: agent {name}: it searches the ensemble itself, and this command judges "
                "policies member by member or by the ensemble's own estimates"
                for name in self.ensemble_searchers
            ]
        return lines


@dataclass
class Args(ZooArgs):
    """Settings of a zoo training run."""

    out_dir: str = "results/agents"
    """Where agent files and the timing table go."""


def map_modes(
    function: Callable[[Any, str], T], args: Any, modes: list[str], workers: int
) -> list[T]:
    """`function(args, mode)` for every mode, in order.

    `workers` modes run at a time, in separate processes, each with one BLAS/OpenMP thread: the
    workers already fill the cores, and an idle BLAS thread spins on the core another needs.
    The first mode that fails stops the others at once and its error is raised.
    """
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread) as pool:
        futures = [pool.submit(function, args, mode) for mode in modes]
        for future in tqdm(as_completed(futures), total=len(modes), desc="modes"):
            error = future.exception()
            if error is not None:
                running = list(pool._processes.values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in running:
                    process.terminate()
                raise error
        return [future.result() for future in futures]


def _one_thread() -> None:
    threadpool_limits(1)


def _train_mode(args: Args, mode: str) -> tuple[str, dict[str, float]]:
    data = args.training_data(mode)
    _, seconds = train_or_load(args.runnable_agents(), data, Path(args.out_dir), progress=False)
    return mode, seconds


def main(args: Args) -> dict[str, Any]:
    """Train (or load) the zoo and write the timing table."""
    prepare_output_dir(args.out_dir)
    skipped = args.announce_skipped()
    started = time.perf_counter()
    results = dict(map_modes(_train_mode, args, args.modes, args.workers))
    report = {
        "fit_seconds": results,
        "skipped": skipped,
        "bundle": args.simulator().fingerprint,
        "wall_seconds": time.perf_counter() - started,
        **provenance(args),
    }
    rows = [[name, *(results[m][name] for m in args.modes)] for name in args.runnable_agents()]
    markdown = "\n".join(
        [
            "Fit seconds per agent and mode (0 = loaded from the cache):",
            "",
            markdown_table(["agent", *args.modes], rows),
            "",
            f"Wall time: {report['wall_seconds']:.0f} s with {args.workers} worker(s).",
            "",
            f"Command: `{report['command']}`",
        ]
    )
    write_outputs(Path(args.out_dir), "zoo", report, markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    run(main, Args)
