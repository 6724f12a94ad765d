"""Train every registered agent for every mode, or load it from a cache of agent files.

    python -m agents.zoo --out results/agents            # the full zoo, 4 modes (about 15 min on 2 cores)
    python -m agents.zoo --quick --modes calm --agents bc dpo

Writes `<agent>-<mode>.npz` per agent (weights only) and `zoo.json` / `zoo.md` with each
agent's training time. A cached file is reused only if it was trained with the same config
and setting (quick or full); anything else is retrained.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm.auto import tqdm

import agents
from agents.base import TrainingData, load_weights
from amrs_gym.modes import MODES

#: agents that are fitted with another agent as their reference.
REFERENCES = {"dpo": "bc"}
T = TypeVar("T")


def train_or_load(
    names: list[str], data: TrainingData, cache: Path | None, progress: bool = True
) -> tuple[dict[str, Any], dict[str, float]]:
    """Every agent in `names` for `data.mode`, fitted (or read from `cache`); returns agents and fit seconds."""
    torch.set_num_threads(1)
    order = sorted(names, key=lambda n: n in REFERENCES)  # references first
    trained: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for name in tqdm(order, desc=f"agents ({data.mode})", disable=not progress):
        fresh = agents.make(name, mode=data.mode, seed=data.seed)
        path = cache / f"{name}-{data.mode}{'-quick' if data.quick else ''}.npz" if cache else None
        cached = _cached(path, fresh) if path is not None else None
        if cached is not None:
            trained[name], seconds[name] = cached, 0.0
            continue
        started = time.perf_counter()
        reference = REFERENCES.get(name)
        if reference is None:
            fresh.fit(data)
        else:
            if reference not in trained:
                trained[reference] = agents.make(reference, mode=data.mode, seed=data.seed).fit(data)
            fresh.fit(data, reference=trained[reference])
        seconds[name] = time.perf_counter() - started
        trained[name] = fresh
        if path is not None:
            fresh.save(path)
    return {n: trained[n] for n in names}, seconds


def _cached(path: Path, fresh: Any) -> Any:
    """The agent stored at `path` if it was trained with `fresh`'s config (read once), else None."""
    if not path.exists():
        return None
    try:
        header, arrays = load_weights(path, fresh.name)
    except ValueError:
        return None
    return type(fresh).from_weights(header, arrays) if header["config"] == asdict(fresh.config) else None


@dataclass
class ZooArgs:
    """Settings every command that trains (or loads) the zoo per mode shares."""

    quick: bool = False
    """Quick training (tests, `--quick` benchmarks)."""
    seed: int = 0
    """Seed of training (and of the evaluation episodes, where there are any)."""
    modes: list[str] = field(default_factory=lambda: list(MODES))
    agents: list[str] = field(default_factory=lambda: list(agents.AGENTS))
    workers: int = 2
    """Modes run in parallel (one torch thread each)."""


@dataclass
class Args(ZooArgs):
    """Settings of a zoo training run."""

    out_dir: str = "results/agents"
    """Where agent files and the timing table go."""


def map_modes(function: Callable[[Any, str], T], args: Any, modes: list[str], workers: int) -> list[T]:
    """`function(args, mode)` for every mode, in order, `workers` modes at a time in separate processes."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(function, [args] * len(modes), modes), total=len(modes), desc="modes"))


def add_zoo_arguments(parser: argparse.ArgumentParser) -> None:
    """The `ZooArgs` options: --quick, --seed, --modes, --agents, --workers."""
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=ZooArgs.seed)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--agents", nargs="+", default=list(agents.AGENTS))
    parser.add_argument("--workers", type=int, default=ZooArgs.workers)


def check_agent_names(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """Exit with a usage error naming any agent that is not registered."""
    unknown = sorted(set(names) - set(agents.available()))
    if unknown:
        parser.error(f"unknown agent(s) {', '.join(unknown)}; registered: {', '.join(agents.available())}")


def _train_mode(args: Args, mode: str) -> tuple[str, dict[str, float]]:
    data = TrainingData.default(mode, quick=args.quick, seed=args.seed)
    _, seconds = train_or_load(args.agents, data, Path(args.out_dir), progress=False)
    return mode, seconds


def main(args: Args) -> dict[str, Any]:
    """Train (or load) the zoo and write the timing table."""
    from benchmarks.report import markdown_table, provenance, write_outputs

    started = time.perf_counter()
    results = dict(map_modes(_train_mode, args, args.modes, args.workers))
    report = {"fit_seconds": results, "wall_seconds": time.perf_counter() - started, **provenance(args)}
    rows = [[name, *(results[m].get(name, float("nan")) for m in args.modes)] for name in args.agents]
    markdown = "\n".join([
        "Fit seconds per agent and mode (0 = loaded from the cache):", "",
        markdown_table(["agent", *args.modes], rows), "",
        f"Wall time: {report['wall_seconds']:.0f} s with {args.workers} worker(s).", "",
        f"Command: `{report['command']}`",
    ])  # fmt: skip
    write_outputs(Path(args.out_dir), "zoo", report, markdown)
    print(markdown)
    return report


def parse_args(argv: list[str] | None = None) -> Args:
    """Command-line arguments into Args."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", dest="out_dir", default=Args.out_dir)
    add_zoo_arguments(parser)
    parsed = parser.parse_args(argv)
    check_agent_names(parser, parsed.agents)
    return Args(**vars(parsed))


if __name__ == "__main__":
    main(parse_args())
