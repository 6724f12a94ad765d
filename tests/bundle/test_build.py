"""From logs to a bundle, then to envs, agents, a leaderboard and a stress verdict on it."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import amrs_gym
from amrs_gym.bundle import Bundle, NoTruthError
from amrs_gym.simulator import SessionConfig
from amrs_gym.world_model.checkpoint import read_checkpoint

from .conftest import EMOMUSIC, train


def _run(module: str, *args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=900, cwd=cwd
    )


def test_a_bundle_from_generated_logs_has_their_truth_and_a_fidelity_card(truth_bundle) -> None:
    bundle = Bundle.load(truth_bundle)
    assert bundle.has_truth and (truth_bundle / "logs.parquet").is_file()
    assert {"world_model", "history_free", "oracle", "gap_closed"} <= set(bundle.fidelity)
    assert (truth_bundle / "calibration.png").stat().st_size > 0
    assert "## Fidelity on held-out listeners" in (truth_bundle / "MODEL_CARD.md").read_text()
    assert bundle.dataset_config is not None and bundle.dataset_config.n_listeners == 150
    assert set(bundle.logs["listener_id"]).isdisjoint(bundle.start_sessions["listener_id"])


def test_the_envs_run_the_bundle_and_the_reference_env_needs_a_truth(
    truth_bundle, platform_bundle
) -> None:
    for bundle in (truth_bundle, platform_bundle):
        env = gym.make("AMRS-Calm-v0", bundle=str(bundle))
        obs, _ = env.reset(seed=0)
        _, reward, *_ = env.step(3)
        assert env.observation_space.contains(obs) and np.isfinite(reward)
    reference = amrs_gym.make_reference_env("calm", bundle=truth_bundle)
    reference.reset(seed=0)
    assert np.isfinite(reference.step(3)[1])
    with pytest.raises(NoTruthError, match="has no reference world"):
        amrs_gym.make_reference_env("calm", bundle=platform_bundle)


def test_a_platform_bundle_keeps_csv_logs_without_propensities(platform_bundle) -> None:
    bundle = Bundle.load(platform_bundle)
    assert not bundle.has_truth and "platform.csv" in bundle.logs_source
    assert "oracle" not in bundle.fidelity


def test_a_bundle_built_with_members_runs_pessimistic_envs(truth_bundle, platform_bundle) -> None:
    bundle = Bundle.load(platform_bundle)
    assert [f.name for f in bundle.members] == ["world_model.npz", "member_1.npz"]
    env = gym.make(amrs_gym.PESSIMISTIC_ENV_IDS["calm"], bundle=platform_bundle)
    env.reset(seed=0)
    _, reward, *_, info = env.step(7)
    assert reward == info["utility"] - info["pessimism_penalty"]
    assert info["uncertainty"]["utility"] > 0  # bootstrap members disagree
    with pytest.raises(ValueError, match="has one world model"):
        gym.make("AMRS-Calm-v0", bundle=truth_bundle, pessimism=1.0)


def test_agents_that_need_the_ensemble_are_skipped_in_one_line_without_one(
    truth_bundle, platform_bundle, capsys
) -> None:
    from benchmarks.zoo import ZooArgs

    asked = ["random", "dpo", "dpo_cold", "a2c_pessimistic", "greedy_pessimistic", "bc"]
    one_member = ZooArgs(bundle=str(truth_bundle), agents=asked)
    assert one_member.runnable_agents() == ["random", "bc"]
    one_member.announce_skipped()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and all("needs the pessimistic ensemble" in line for line in lines)
    assert ZooArgs(bundle=str(platform_bundle), agents=asked).runnable_agents() == asked


@pytest.mark.slow
def test_leaderboard_and_stress_on_a_bundle_without_truth_skip_it_in_one_line(
    platform_bundle, tmp_path
) -> None:
    common = ["--quick", "--modes", "calm", "--bundle", str(platform_bundle), "--workers", "1"]
    common += ["--cache", str(tmp_path / "agent_cache"), "--agents", "random", "logged", "bc"]
    board = _run("benchmarks.leaderboard", *common, "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert board.returncode == 0, board.stderr[-2000:]
    assert "skipped: the reference evaluator" in board.stderr
    assert "skipped: agent logged" in board.stderr
    table = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert set(table["evaluator"]) == {"world_model"} and set(table["agent"]) == {"random", "bc"}
    assert "ips_utility" not in table.columns  # no propensities: no off-policy estimate, no NaN
    numbers = table.select_dtypes("number")
    assert np.isfinite(numbers.to_numpy()).all()
    stress = _run("benchmarks.stress", *common, "--out", str(tmp_path / "st"), cwd=tmp_path)
    assert stress.returncode == 0, stress.stderr[-2000:]
    report = json.loads((tmp_path / "st" / "stress.json").read_text())
    assert report["summary"]["verdict_agreement"] is None
    assert report["bc"]["calm"]["reference"] is None
    assert 0 <= report["bc"]["calm"]["violation_rate"] <= 1


@pytest.mark.slow
@pytest.mark.skipif(not EMOMUSIC.is_dir(), reason="emoMusic annotations not in ../shared/data")
def test_your_own_data_end_to_end_on_the_emomusic_catalog(tmp_path) -> None:
    """README "Your own data": a real catalog, logs, a bundle, envs, a leaderboard, a verdict."""
    steps = [
        ["catalog", "--emomusic", str(EMOMUSIC), "--out", "catalog.parquet"],
        ["generate", "--out", "logs.parquet", "--catalog", "catalog.parquet", "--listeners", "150"],
        ["validate", "logs.parquet"],
    ]
    steps[1] += ["--sessions", "600"]
    for args in steps:
        done = _run("amrs_gym.data", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    made = train("--logs", "logs.parquet", "--out", "bundle", "--epochs", "1", cwd=tmp_path)
    assert made.returncode == 0, made.stderr[-2000:]
    bundle = Bundle.load(tmp_path / "bundle")
    assert bundle.has_truth and bundle.catalog.n_tracks == 744
    env = gym.make("AMRS-Sleep-v0", bundle=str(tmp_path / "bundle"))
    assert env.action_space == gym.spaces.Discrete(744)
    common = ["--quick", "--modes", "sleep", "--bundle", "bundle", "--workers", "1"]
    common += ["--cache", "agent_cache", "--agents", "random", "logged", "bc", "cql"]
    board = _run("benchmarks.leaderboard", *common, "--out", "lb", cwd=tmp_path)
    assert board.returncode == 0, board.stderr[-2000:]
    table = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert set(table["evaluator"]) == {"world_model", "reference"} and len(table) == 8
    stress = _run("benchmarks.stress", *common, "--out", "st", "--rollouts", "5", cwd=tmp_path)
    assert stress.returncode == 0, stress.stderr[-2000:]
    report = json.loads((tmp_path / "st" / "stress.json").read_text())
    assert 0 <= report["summary"]["verdict_agreement"] <= 1


def test_asking_only_for_agents_that_need_a_truth_is_refused(platform_bundle) -> None:
    from benchmarks.zoo import ZooArgs

    with pytest.raises(ValueError, match="needs a reference world"):
        ZooArgs(agents=["logged"], bundle=str(platform_bundle))


def test_an_unwritable_out_is_refused_before_any_training(tmp_path) -> None:
    from amrs_gym.bundle.build import check_bundle_dir

    assert check_bundle_dir(tmp_path / "new" / "bundle") == tmp_path / "new" / "bundle"
    with pytest.raises(ValueError, match="--out /proc/b1: cannot write there"):
        check_bundle_dir("/proc/b1")  # /proc says it is writable to root, yet refuses a folder
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        check_bundle_dir(tmp_path / "file")


def test_a_world_model_that_reads_production_propensity(logs_dir, platform_bundle) -> None:
    result = train(
        "--logs", "logs.parquet", "--out", "reads", "--epochs", "1", "--production-propensity",
        cwd=logs_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = Bundle.load(logs_dir / "reads")
    assert read_checkpoint(bundle.checkpoint, bundle.catalog).config.production_propensity
    env = gym.make("AMRS-Calm-v0", bundle=str(logs_dir / "reads"))
    obs, _ = env.reset(seed=0)
    for track in (3, 7, 3):
        obs, reward, *_ = env.step(track)
    assert env.observation_space.contains(obs) and np.isfinite(reward)
    # a platform's logs without propensities cannot train it: one line, before any epoch
    result = train(
        "--logs", "platform.csv", "--catalog", "logs.catalog.parquet", "--out", "no",
        "--epochs", "1", "--production-propensity",
        cwd=logs_dir,
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "lack some (column propensity)" in result.stderr
    # a platform's bundle has no production policy to ask: it passes its own scorer
    reads = str(logs_dir / "reads" / "world_model.npz")
    with pytest.raises(ValueError, match="pass your production system as `production`"):
        SessionConfig("calm", bundle=platform_bundle, world_model=reads).create(1)
    asked: list[int] = []

    def uniform(listener, mode, history, position, last_skipped):  # type: ignore[no-untyped-def]
        asked.append(len(listener))
        return np.full((len(listener), 1200), 1 / 1200)

    env = gym.make(
        "AMRS-Calm-v0", bundle=str(platform_bundle), world_model=reads, production=uniform
    )
    env.reset(seed=0)
    assert np.isfinite(env.step(5)[1]) and asked == [1]
