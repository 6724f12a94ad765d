"""The MSSD skip benchmark end to end, and its arguments.

`python -m benchmarks.mssd_skip --quick`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.mssd_skip import METRIC_NAMES, MODELS, Args
from tests.benchmarks.mssd_skip.conftest import MSSD_FILE, needs_mssd

REPO = Path(__file__).resolve().parents[3]


@needs_mssd
@pytest.mark.slow
def test_quick_run_writes_every_model_and_metric(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "benchmarks.mssd_skip",
        "--quick",
        "--train",
        str(MSSD_FILE),
        "--eval",
        str(MSSD_FILE),
        "--out",
        str(tmp_path),
    ]
    subprocess.run(command, cwd=REPO, check=True, timeout=90, capture_output=True)
    report = json.loads((tmp_path / "mssd_skip.json").read_text())
    for name in MODELS:
        assert set(report[name]) == set(METRIC_NAMES), name
        for metric in METRIC_NAMES:
            assert 0.0 <= report[name][metric] <= 1.0 and not math.isnan(report[name][metric]), (
                name,
                metric,
            )
    assert report["protocol"]["name"] == "session_split"
    assert report["protocol"]["eval_sessions"] > 0
    assert (tmp_path / "mssd_skip.md").read_text().count("world_model") >= 1
    assert (tmp_path / "mssd_skip.png").stat().st_size > 0


def test_default_arguments() -> None:
    args = Args()
    assert (
        args.eval == "" and args.seeds >= 3
    )  # eval defaults to the training file, split by session
    assert Path(args.train).name == "sessions_dev.csv.gz"
