"""The README's code must run as printed."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

import agents

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(marker: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(re.escape(marker) + r".*?```python\n(.*?)```", text, flags=re.S)
    assert match, f"no python block after {marker!r} in README.md"
    return match.group(1)


@pytest.mark.slow
def test_the_readme_agent_plugs_into_the_leaderboard(tmp_path, monkeypatch) -> None:
    code = _block_after("readme-agent-example")
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 30, "the README promises a new agent in under 30 lines of code"
    monkeypatch.chdir(tmp_path)
    # dataclasses need the defining module in sys.modules
    module = types.ModuleType("readme_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(compile(code, "README.md", "exec"), module.__dict__)
    finally:
        agents.AGENTS.pop("on_target", None)
    table = pd.read_csv(tmp_path / "results" / "mine" / "leaderboard.csv")
    assert set(table["agent"]) == {"random", "bc", "on_target"}
    report = json.loads((tmp_path / "results" / "mine" / "leaderboard.json").read_text())
    gap = report["modes"]["calm"]["exploitation_gap"]
    assert "on_target" in gap
    assert list((tmp_path / "results" / "mine" / "agents").glob("on_target-calm-quick-*.npz"))


def test_the_readme_ensemble_block_runs_as_printed() -> None:
    code = _block_after("### The ensemble: where the simulator is unsure")
    exec(compile(code, "README.md", "exec"), {})  # its last line asserts the penalty's identity
