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
from benchmarks.mssd_skip.data import load_data
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


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "MSSD log file not found"),
        ("", "cannot read"),
        ("a,b\n1,2\n", "is missing column(s): session_id"),
    ],
)
def test_a_bad_log_file_is_refused_naming_the_option(
    content: str | None, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "logs.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=r"^--train: ") as error:
        load_data(str(path), "", quick=True, seed=0, test_fraction=0.2, val_fraction=0.15)
    assert problem in str(error.value) and str(path) in str(error.value)


@needs_mssd
def test_a_bad_eval_file_is_refused_naming_eval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^--eval: MSSD log file not found"):
        load_data(str(MSSD_FILE), str(tmp_path / "nope.csv"), True, 0, 0.2, 0.15)


def test_a_missing_train_file_ends_the_command_with_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    command = [sys.executable, "-m", "benchmarks.mssd_skip", "--train", str(missing)]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --train: MSSD log file not found: {missing}"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seeds": 0}, "seeds must be an integer >= 1, got 0"),
        ({"workers": 0}, "workers must be an integer >= 1, got 0"),
        ({"test_fraction": 1.0}, "test_fraction must lie in (0, 1), got 1.0"),
        ({"val_fraction": 0.0}, "val_fraction must lie in (0, 1), got 0.0"),
    ],
)
def test_bad_numbers_are_refused_by_name(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as error:
        Args(**changes)
    assert str(error.value) == message
