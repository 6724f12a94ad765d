"""The soak benchmark end to end (`python -m benchmarks.soak --quick`), and its measurements."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.soak import resident_mb, summarise


def test_summary_reads_memory_after_warm_up_and_the_last_window() -> None:
    samples = [
        {"steps": 0.0, "seconds": 0.0, "resident_mb": 100.0, "steps_per_s": 0.0},
        {"steps": 10.0, "seconds": 1.0, "resident_mb": 150.0, "steps_per_s": 10.0},
        {"steps": 20.0, "seconds": 2.0, "resident_mb": 151.0, "steps_per_s": 10.0},
        {"steps": 30.0, "seconds": 4.0, "resident_mb": 152.0, "steps_per_s": 5.0},
    ]
    summary = summarise(samples)
    assert summary["resident_mb_after_warmup"] == 150.0 and summary["resident_mb_growth"] == 2.0
    assert summary["steps_per_s_last_window"] == 5.0 and summary["steps_per_s_mean"] == 7.5
    assert resident_mb() > 10


def test_quick_soak_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.soak",
            "--quick",
            "--samples",
            "5",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "soak.json").read_text())
    assert set(report["summary"]) == {"vector", "single"}
    assert (
        report["summary"]["vector"]["steps"] >= 19_000
        and report["summary"]["single"]["steps"] == 2_000
    )
    assert (tmp_path / "soak.png").stat().st_size > 0 and (tmp_path / "soak.md").stat().st_size > 0
