"""The train command refuses bad input in one line, before any work."""

from __future__ import annotations

import pytest

from amrs_gym.bundle import Bundle
from amrs_gym.bundle.cli import model_config, parser
from amrs_gym.world_model.checkpoint import read_checkpoint

from .conftest import train


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "epochs must be an integer >= 1, got 0"),
        (["--workers", "3"], "--workers must be 1 or 2, got 3"),
        (["--members", "0"], "members must be an integer in 1..16, got 0"),
        (["--members", "2", "--encoder", "gru"], "needs the transformer encoder"),
        (["--logs", "missing.parquet"], "file: not found: missing.parquet"),
        (["--logs", "notes.txt"], "pass the catalog with --catalog"),
        (["--logs", "logs.parquet", "--catalog", "nowhere.parquet"], "catalog file not found"),
        (["--ship", "--no-track-popularity"], "drop --out, --no-track-popularity"),
        (["--ship", "--no-production-propensity"], "drop --out, --no-production-propensity"),
    ],
)
def test_bad_arguments_are_one_line_and_a_nonzero_exit(args, message, logs_dir) -> None:
    (logs_dir / "notes.txt").write_text("not logs")
    result = train(*args, "--out", "never", cwd=logs_dir)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (logs_dir / "never").exists()


@pytest.mark.parametrize(
    ("args", "reads"),
    [
        ([], False),
        (["--ship"], True),
        (["--production-propensity"], True),
        (["--logs", "mine.csv", "--no-production-propensity"], False),
    ],
)
def test_only_ship_reads_production_propensity_unless_asked(args, reads) -> None:
    config = model_config(parser().parse_args(args))
    assert config.production_propensity is reads and config.track_popularity


def test_out_is_checked_before_the_work(logs_dir) -> None:
    (logs_dir / "busy").mkdir(exist_ok=True)
    (logs_dir / "busy" / "thesis.tex").write_text("keep me")
    result = train("--logs", "logs.parquet", "--out", "busy", cwd=logs_dir)
    assert result.returncode == 2
    assert "not a bundle (refusing to replace it)" in result.stderr
    assert "world model" not in result.stderr  # refused before training started
    assert (logs_dir / "busy" / "thesis.tex").read_text() == "keep me"


def test_quick_epochs_the_popularity_switch_and_a_bundle_replaced_whole(logs_dir) -> None:
    args = ["--logs", "logs.parquet", "--out", "again", "--quick"]
    first = train(*args, "--epochs", "3", cwd=logs_dir)
    assert first.returncode == 0, first.stderr[-2000:]
    first_model = read_checkpoint(Bundle.load(logs_dir / "again").checkpoint)
    assert first_model.card["train_config"]["epochs"] == 3
    assert first_model.config.track_popularity  # a bundle reads popularity unless told not to
    second = train(*args, "--no-track-popularity", cwd=logs_dir)
    assert second.returncode == 0, second.stderr[-2000:]
    replaced = read_checkpoint(Bundle.load(logs_dir / "again").checkpoint)
    assert replaced.card["train_config"]["epochs"] == 2 and not replaced.config.track_popularity
    assert not [p for p in logs_dir.iterdir() if p.name.startswith(".again")]  # no leftovers


def test_too_few_listeners_to_split_is_one_line(logs_dir) -> None:
    import pandas as pd

    logs = pd.read_parquet(logs_dir / "logs.parquet")
    logs[logs["listener_id"] < 4].to_parquet(logs_dir / "few.parquet")
    (logs_dir / "few.catalog.parquet").write_bytes((logs_dir / "logs.catalog.parquet").read_bytes())
    result = train("--logs", "few.parquet", "--out", "never", cwd=logs_dir)
    assert result.returncode == 2 and "at least 10 listeners are needed" in result.stderr
    assert "Traceback" not in result.stderr and not (logs_dir / "never").exists()
