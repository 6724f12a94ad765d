"""What every benchmark shares.

Provenance, markdown tables, figures, atomic outputs, and a command line derived from its `Args`
dataclass.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import math
import platform
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, fields, is_dataclass
from importlib import metadata
from pathlib import Path
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np

import amrs_gym
from amrs_gym import validation
from amrs_gym.io import atomic_write_json, atomic_write_text
from amrs_gym.io import pyplot as pyplot  # re-exported for the benchmarks' plots
from amrs_gym.io import save_figure as save_figure

PACKAGES = (
    "amrs-gym",
    "torch",
    "numpy",
    "pandas",
    "gymnasium",
    "stable-baselines3",
    "d3rlpy",
    "scikit-learn",
)


def provenance(args: Any) -> dict[str, Any]:
    """Config, git commit, package versions and device of a run."""
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=False,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    except OSError:
        commit = None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "config": asdict(args) if is_dataclass(args) else dict(vars(args)),
        "git_commit": commit,
        "versions": versions,
        "device": "cpu",
        "python": platform.python_version(),
        "command": _command(),
    }


def _command() -> str:
    """How this process was started, as `python -m module args` when run as a module."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    target = ["-m", spec.name] if spec is not None else sys.argv[:1]
    return " ".join(["python", *target, *sys.argv[1:]])


MISSING_CELL = "—"
"""What a table shows for a number that does not exist (NaN), as the CSV's empty cell."""


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats get 3 decimals, NaN shows as `MISSING_CELL`."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return MISSING_CELL if math.isnan(value) else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_outputs(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> None:
    """Write `<name>.json` and `<name>.md` atomically into `out_dir`.

    A number that is not finite (e.g. a rank correlation of one agent) is written as null, so the
    JSON stays standard.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(_finite_or_null(data), out_dir / f"{name}.json")
    atomic_write_text(markdown.rstrip() + "\n", out_dir / f"{name}.md")


def _finite_or_null(value: Any) -> Any:
    """`value` with every NaN or infinite float (nested in dicts, lists, tuples) as None."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def paired_bootstrap(difference: np.ndarray, seed: int, resamples: int = 2000) -> dict[str, float]:
    """Mean of paired differences and its 95% percentile bootstrap interval.

    The pairs are resampled.
    """
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, len(difference), size=(resamples, len(difference)))].mean(
        axis=1
    )
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "mean": float(difference.mean()),
        "ci95_low": float(low),
        "ci95_high": float(high),
        "sessions": len(difference),
    }


# ----- Args dataclasses: checked fields and command lines ---------------------------------------


def check_fields(args: Any) -> None:
    """Check every field of a benchmark's `Args` (call it from `__post_init__`).

    As `amrs_gym.validation.check_fields` (types, finite numbers, metadata bounds), and every list
    option must name at least one value, none of them twice.

    Raises:
        ValueError: naming the field, the value and what is allowed.
    """
    validation.check_fields(args)
    for field in fields(args):
        value = getattr(args, field.name)
        if not isinstance(value, list):
            continue
        if not value:
            raise ValueError(f"{field.name} must name at least one value")
        if len(set(value)) < len(value):
            twice = next(v for i, v in enumerate(value) if v in value[:i])
            raise ValueError(f"{field.name} names {twice!r} twice: {value}")


# ----- command lines derived from the Args dataclasses ------------------------------------------

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field of `cls` and its bases.

    These are the attribute docstrings, whitespace collapsed.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def flag(name: str) -> str:
    """The option of field `name`.

    `out_dir` -> `--out`, `cache_dir` -> `--cache`, `env_id` -> `--env-id`.
    """
    return "--" + name.removesuffix("_dir").replace("_", "-")


def _add_option(
    parser: argparse.ArgumentParser, field: Any, kind: Any, doc: str, prefix: str = ""
) -> None:
    default = field.default_factory() if field.default_factory is not MISSING else field.default
    options: dict[str, Any] = {"dest": prefix + field.name, "default": default}
    base, optional = kind, False
    if get_origin(kind) in (Union, UnionType):
        members = [a for a in get_args(kind) if a is not type(None)]
        base, optional = members[0], len(members) < len(get_args(kind))
    if base is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif get_origin(base) is list:
        options.update(nargs="+", type=get_args(base)[0])
    elif get_origin(base) is Literal:
        options.update(choices=list(get_args(base)), type=type(get_args(base)[0]))
    else:
        options["type"] = base
    if "choices" in field.metadata:
        options["choices"] = field.metadata["choices"]
    shown = (
        "none"
        if default is None and optional
        else (" ".join(map(str, default)) if isinstance(default, list) else default)
    )
    text = f"{doc} (default: {shown})" if doc else f"(default: {shown})"
    options["help"] = text.replace("%", "%%")  # argparse formats help with %: "90%" is text
    parser.add_argument(flag(prefix.replace(".", "_") + field.name), **options)


def _add_options(parser: argparse.ArgumentParser, args_type: type, prefix: str = "") -> None:
    """One option per field.

    A field that is itself a dataclass gets one option per field of its own
    (`--world-model-d-model`).
    """
    docs, hints = field_docs(args_type), get_type_hints(args_type)
    for field in fields(args_type):
        kind = hints[field.name]
        if is_dataclass(kind):
            group = parser.add_argument_group(
                f"{field.name} ({kind.__name__})", docs.get(field.name)
            )
            _add_options(group, kind, f"{prefix}{field.name}.")  # type: ignore[arg-type]  # a group adds arguments alike
        else:
            _add_option(parser, field, kind, docs.get(field.name, ""), prefix)


def _build(args_type: type[T], values: dict[str, Any], prefix: str = "") -> T:
    hints = get_type_hints(args_type)
    kwargs = {}
    for field in fields(args_type):  # type: ignore[arg-type]  # args_type is a dataclass
        kind = hints[field.name]
        kwargs[field.name] = (
            _build(kind, values, f"{prefix}{field.name}.")
            if is_dataclass(kind)
            else values[prefix + field.name]
        )
    return args_type(**kwargs)


def cli(args_type: type[T], argv: list[str] | None = None) -> T:
    """Parse a command line into `args_type` (a dataclass).

    One option per field, its type, default and docstring as help; the module's docstring as the
    description. A value the dataclass refuses (its `__post_init__` raises ValueError) ends the
    program with a one-line usage error.
    """
    module = sys.modules[args_type.__module__]
    spec = getattr(module, "__spec__", None)  # run with -m, the module is "__main__"
    name = (spec.name if spec is not None else args_type.__module__).removesuffix(".__main__")
    parser = argparse.ArgumentParser(
        prog=f"python -m {name}",
        description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(parser, args_type)
    parsed = parser.parse_args(argv)
    try:
        return _build(args_type, vars(parsed))
    except ValueError as error:
        parser.error(str(error))


def run(main: Callable[[T], object], args_type: type[T], argv: list[str] | None = None) -> None:
    """A benchmark's entry point: parse the command line into `args_type`, then call `main`.

    A ValueError while it runs (a bad `--out` or `--cache`, a bundle without what a mode needs,
    the project's own error types, which subclass it, even when raised in a mode's worker process)
    is a bad input: it ends the program with one `error: ...` line on stderr and exit status 2, not
    a traceback; so does running out of memory. Any other exception is a bug and keeps its
    traceback.
    """
    args = cli(args_type, argv)
    try:
        main(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except MemoryError as error:  # a run sized past this machine: say so, not a traceback
        print(f"error: {validation.out_of_memory(error)}", file=sys.stderr)
        raise SystemExit(2) from None


@dataclass
class EnvArgs:
    """Settings the env benchmarks (throughput, soak) share: which env, how wide, which bundle."""

    env_id: str = dataclasses.field(
        default="AMRS-Calm-v0", metadata={"choices": tuple(amrs_gym.MODE_ENV_IDS.values())}
    )
    """The world-model env id of a mode (the benchmarks use its options and vector env)."""
    num_envs: int = dataclasses.field(default=256, metadata={"min": 1})
    """Sessions per vector-env call."""
    seed: int = dataclasses.field(default=0, metadata={"min": 0})
    """Seed of the envs and the random actions."""
    bundle: str | None = None
    """Simulator bundle directory the envs run (default: the shipped one)."""

    def __post_init__(self) -> None:
        check_fields(self)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of the envs: the bundle, when one was given."""
        return {} if self.bundle is None else {"bundle": self.bundle}

    def single_env(self, **options: Any) -> Any:
        """`gym.make(env_id)` with the bundle and `options`."""
        import gymnasium as gym

        return gym.make(self.env_id, **self.env_kwargs(), **options)

    def vector_env(self, **options: Any) -> Any:
        """The batched vector env of `num_envs` sessions, with the bundle and `options`."""
        import gymnasium as gym

        return gym.make_vec(
            self.env_id,
            num_envs=self.num_envs,
            vectorization_mode="vector_entry_point",
            **self.env_kwargs(),
            **options,
        )
