import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.logs_io import read_logs, write_dataset
from amrs_gym.data.schema import LogSchemaError, find_problems, validate_logs


@pytest.fixture(scope="module")
def tiny():
    return DatasetConfig(n_listeners=10, n_sessions=20, seed=1).create()


def _problems(logs: pd.DataFrame, n_tracks: int) -> list[str]:
    with pytest.raises(LogSchemaError) as info:
        validate_logs(logs, n_tracks)
    return info.value.problems


@pytest.mark.parametrize(
    ("mutate", "column", "words"),
    [
        (lambda d: d.drop(columns=["engagement"]), "engagement", "missing column"),
        (
            lambda d: d.assign(engagement=d["engagement"].astype(str)),
            "engagement",
            "expected number",
        ),
        (lambda d: d.assign(skipped=d["skipped"].astype(int)), "skipped", "expected bool"),
        (lambda d: d.assign(engagement=d["engagement"] + 2), "engagement", "out of range"),
        (
            lambda d: d.assign(valence_report=d["valence_report"] * 5 + 3),
            "valence_report",
            "out of range",
        ),
        (lambda d: d.assign(rating=d["rating"].fillna(0.5)), "rating", "1 (like), 0 (dislike)"),
        (lambda d: d.assign(mode="party"), "mode", "unknown values"),
        (lambda d: d.assign(track_id=d["track_id"] + 100_000), "track_id", "unknown track ids"),
        (lambda d: d.assign(position=d["position"] + 0.5), "position", "expected integers"),
        (lambda d: d.assign(valence_start=np.nan), "valence_start", "missing values"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "position", "duplicated"),
    ],
)
def test_each_bad_input_is_refused_naming_the_column(tiny, mutate, column, words) -> None:
    problems = _problems(mutate(tiny.logs.copy()), tiny.catalog.n_tracks)
    assert any(p.startswith(f"{column}:") and words in p for p in problems), problems


def test_valid_logs_have_no_problems(tiny) -> None:
    assert find_problems(tiny.logs, tiny.catalog.n_tracks) == []


def test_round_trip_through_files(tiny, tmp_path) -> None:
    path = write_dataset(tiny, tmp_path / "logs.parquet")
    logs, catalog = read_logs(path)
    pd.testing.assert_frame_equal(logs, tiny.logs)
    assert catalog.fingerprint() == tiny.catalog.fingerprint()
    assert not list(tmp_path.glob(".*.tmp")), "atomic writes leave no temporary files"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amrs_gym.data", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_generate_then_validate(tmp_path) -> None:
    out = tmp_path / "logs.parquet"
    made = _cli(
        "generate", "--out", str(out), "--listeners", "20", "--sessions", "40", "--seed", "2"
    )
    assert made.returncode == 0, made.stderr
    checked = _cli("validate", str(out))
    assert checked.returncode == 0
    assert checked.stdout.count("\n") == 1 and checked.stdout.startswith("valid:")


def test_cli_validate_reports_each_problem_without_traceback(tiny, tmp_path) -> None:
    path = write_dataset(tiny, tmp_path / "logs.parquet")
    bad = tiny.logs.drop(columns=["mode"]).assign(track_id=tiny.logs["track_id"] + 99_999)
    bad.to_parquet(path)
    result = _cli("validate", str(path))
    assert result.returncode != 0
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("mode:") for line in lines)
    assert any(line.startswith("track_id:") for line in lines)
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_validate_unreadable_file(tmp_path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_text("not parquet")
    result = _cli("validate", str(path), "--catalog", str(tmp_path / "missing.parquet"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stdout.startswith("catalog:")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda logs: logs.iloc[0:0], "no rows"),
        (lambda logs: logs.assign(position=logs["position"] + 1), "positions are not 0..n-1"),
        (lambda logs: logs.assign(listener_id=np.arange(len(logs))), "listener_id: changes within"),
        (
            lambda logs: logs.assign(mode=np.where(logs["position"] == 1, "focus", "calm")),
            "mode: changes within",
        ),
        (
            lambda logs: logs.assign(valence_start=logs["position"] * 0.01),
            "valence_start: changes within",
        ),
    ],
)
def test_sessions_that_break_the_schema_are_named(tiny, change, match) -> None:
    problems = find_problems(change(tiny.logs))
    assert any(match in problem for problem in problems), problems
