"""Every benchmark's command line refuses a bad `--out` or `--cache` with one `error:` line, exit 2.

Never a traceback: `python -m benchmarks.<name>` runs its main through `benchmarks._common.run`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = [
    "leaderboard",
    "stress",
    "ope",
    "fidelity",
    "bc_gap",
    "greedy_spread",
    "greedy_shortlist",
    "throughput",
    "soak",
    "seeds",
    "dpo_sweep",
    "mssd_skip",
    "zoo",
    "uncertainty_on_logs",
]


def _run(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_an_out_that_is_a_file_is_one_error_line(name: str, tmp_path: Path) -> None:
    taken = tmp_path / "a_file"
    taken.write_text("")
    result = _run(name, "--out", str(taken))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --out {taken}: exists and is not a directory"
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help_prints_usage(name: str) -> None:
    result = _run(name, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:") and f"benchmarks.{name}" in result.stdout


@pytest.mark.parametrize("name", ["stress", "ope"])
def test_agents_that_cannot_run_here_are_refused_with_the_reason(name: str, tmp_path: Path) -> None:
    result = _run(name, "--quick", "--agents", "greedy_pessimistic", "--out", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "error: --agents greedy_pessimistic: none can run here (agent greedy_pessimistic: it "
            "searches the ensemble itself, and this command judges policies member by member or by "
            "the ensemble's own estimates)"
        )
    )


@pytest.mark.parametrize("name", ["leaderboard", "stress", "ope", "greedy_spread"])
def test_a_cache_that_cannot_be_written_is_one_error_line(name: str, tmp_path: Path) -> None:
    result = _run(name, "--out", str(tmp_path / "out"), "--cache", "/proc/no_cache_here")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --cache /proc/no_cache_here: cannot write there")
