"""What every benchmark shares: provenance, markdown tables, figures, atomic outputs, and a command
line derived from its `Args` dataclass."""

from __future__ import annotations

import argparse
import ast
import inspect
import platform
import subprocess
import sys
import textwrap
from dataclasses import MISSING, asdict, fields, is_dataclass
from importlib import metadata
from pathlib import Path
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from amrs_gym.io import atomic_write, atomic_write_json, atomic_write_text

PACKAGES = ("amrs-gym", "torch", "numpy", "pandas", "gymnasium", "stable-baselines3", "d3rlpy", "scikit-learn")


def provenance(args: Any) -> dict[str, Any]:
    """Config, git commit, package versions and device of a run."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
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


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub markdown table; floats get 3 decimals."""

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path, dpi: int = 110) -> None:
    """Write a figure as PNG, atomically, and free it."""
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))
    pyplot().close(figure)


def write_outputs(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> None:
    """Write `<name>.json` and `<name>.md` atomically into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(data, out_dir / f"{name}.json")
    atomic_write_text(markdown.rstrip() + "\n", out_dir / f"{name}.md")


# ----- command lines derived from the Args dataclasses ------------------------------------------

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field of `cls` and its bases (the attribute docstrings)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in zip(body, body[1:], strict=False):
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
    """The option of field `name`: `out_dir` -> `--out`, `cache_dir` -> `--cache`, `env_id` -> `--env-id`."""
    return "--" + name.removesuffix("_dir").replace("_", "-")


def _add_option(parser: argparse.ArgumentParser, field: Any, kind: Any, doc: str) -> None:
    default = field.default_factory() if field.default_factory is not MISSING else field.default
    options: dict[str, Any] = {"dest": field.name, "default": default}
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
    shown = "none" if default is None and optional else (" ".join(map(str, default)) if isinstance(default, list) else default)
    options["help"] = f"{doc} (default: {shown})" if doc else f"(default: {shown})"
    parser.add_argument(flag(field.name), **options)


def cli(args_type: type[T], argv: list[str] | None = None) -> T:
    """Parse a command line into `args_type` (a dataclass): one option per field, its type, default
    and docstring as help; the module's docstring as the description. A value the dataclass
    refuses (its `__post_init__` raises ValueError) ends the program with a one-line usage error."""
    module = sys.modules[args_type.__module__]
    name = args_type.__module__.removesuffix(".__main__")
    parser = argparse.ArgumentParser(
        prog=f"python -m {name}", description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    docs, hints = field_docs(args_type), get_type_hints(args_type)
    for field in fields(args_type):  # type: ignore[arg-type]  # args_type is a dataclass
        _add_option(parser, field, hints[field.name], docs.get(field.name, ""))
    parsed = parser.parse_args(argv)
    try:
        return args_type(**vars(parsed))
    except ValueError as error:
        parser.error(str(error))
