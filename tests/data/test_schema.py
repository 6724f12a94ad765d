import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from amrs_gym import defaults
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


def test_cli_generate_keeps_the_shipped_catalog_and_records_what_it_used(tmp_path) -> None:
    out = tmp_path / "logs.parquet"
    made = _cli(
        "generate", "--out", str(out), "--listeners", "20", "--sessions", "40", "--seed", "7",
        "--exploration", "0.1",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    record = json.loads((tmp_path / "logs.config.json").read_text())
    assert record["catalog"]["fingerprint"] == defaults.default_catalog().fingerprint()
    assert "catalog" not in record["dataset"]  # not generated from the config's catalog part
    assert record["dataset"]["seed"] == 7 and record["dataset"]["population"]["n_listeners"] == 20
    assert record["dataset"]["population"]["seed"] == 8
    assert record["dataset"]["policy"]["exploration"] == 0.1


def test_cli_generate_checks_out_first_and_writes_all_files_or_none(tmp_path) -> None:
    (tmp_path / "dir.parquet").mkdir()
    refused = _cli("generate", "--out", str(tmp_path / "dir.parquet"), "--listeners", "5")
    assert refused.returncode == 2 and "is a directory" in refused.stderr
    assert "Traceback" not in refused.stderr and "generating" not in refused.stderr
    assert _cli("generate", "--out", str(tmp_path / "logs.csv")).returncode == 2
    explore = _cli("generate", "--out", str(tmp_path / "logs.parquet"), "--exploration", "1.5")
    assert explore.returncode == 2 and explore.stderr.count("\n") == 1
    assert "exploration" in explore.stderr and "1.5" in explore.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.parquet"]


def test_cli_validate_names_the_catalog_option_and_reads_csv(tiny, tmp_path) -> None:
    path = write_dataset(tiny, tmp_path / "logs.parquet")
    renamed = tmp_path / "renamed.csv"
    pd.read_parquet(path).to_csv(renamed, index=False)
    missing = _cli("validate", str(renamed))
    assert missing.returncode == 1 and "--catalog" in missing.stdout
    found = _cli("validate", str(renamed), "--catalog", str(tmp_path / "logs.catalog.parquet"))
    assert found.returncode == 0 and found.stdout.startswith("valid:")


def test_cli_catalog_refuses_a_folder_without_annotations_in_one_line(tmp_path) -> None:
    result = _cli("catalog", "--deam", str(tmp_path), "--out", str(tmp_path / "c.parquet"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_cli_catalog_refuses_an_embedding_beyond_the_cap_in_one_line(tmp_path) -> None:
    out = tmp_path / "c.parquet"
    result = _cli("catalog", "--deam", str(tmp_path), "--out", str(out), "--embedding-dim", "99999")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "embedding_dim must be an integer in 1..1024, got 99999" in result.stderr
    assert not out.exists()


def test_cli_catalog_refuses_a_negative_seed_by_name(tmp_path) -> None:
    out = tmp_path / "c.parquet"
    result = _cli("catalog", "--deam", str(tmp_path), "--out", str(out), "--seed", "-1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "seed must be an integer >= 0, got -1" in result.stderr


def test_a_kept_track_may_end_before_the_end(tiny) -> None:
    """A platform's kept track can stop early (a session ended): no rule ties it to 1."""
    logs = tiny.logs.copy()
    logs.loc[np.flatnonzero(~logs["skipped"].to_numpy())[:5], "engagement"] = 0.8
    assert find_problems(logs, tiny.catalog.n_tracks) == []


def test_cli_validate_header_only_csv_says_no_rows_as_parquet_does(tiny, tmp_path) -> None:
    write_dataset(tiny, tmp_path / "logs.parquet")
    catalog = str(tmp_path / "logs.catalog.parquet")
    tiny.logs.iloc[:0].to_csv(tmp_path / "header.csv", index=False)
    tiny.logs.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    for name in ("header.csv", "empty.parquet"):
        result = _cli("validate", str(tmp_path / name), "--catalog", catalog)
        assert result.returncode == 1
        assert result.stdout == "file: no rows (a log needs at least one session)\n", result.stdout


def test_cli_generate_help_shows_each_option_and_its_default() -> None:
    options = _cli("generate", "--help").stdout.split("options:", 1)[1]
    shown = " ".join(options.split())  # argparse wraps lines
    for option, default in (
        ("--listeners", DatasetConfig.n_listeners),
        ("--sessions", DatasetConfig.n_sessions),
        ("--seed", DatasetConfig.seed),
    ):
        described = re.search(rf"{option} {option[2:].upper()} (\w[^(]*)\(default: (\d+)\)", shown)
        assert described and described[2] == str(default), shown
