import json
import subprocess
import sys

import pytest

from amrs_gym import MODE_ENV_IDS
from benchmarks._common import cli
from benchmarks.throughput import Args


@pytest.mark.slow
def test_quick_throughput_run_writes_the_contract(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.throughput",
            "--quick",
            "--num-envs",
            "256",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "throughput.json").read_text())
    for key in (
        "single_env_steps_per_s",
        "vector_env_steps_per_s",
        "reference_env_steps_per_s",
        "cartpole_steps_per_s",
        "pessimistic_single_env_steps_per_s",  # the shipped bundle has an ensemble
        "pessimistic_vector_env_steps_per_s",
    ):
        assert report[key] > 0
    assert report["num_envs"] == 256
    # batching must pay: one call for 256 sessions beats 256 single-env calls
    assert report["vector_env_steps_per_s"] > 3 * report["single_env_steps_per_s"]
    assert (tmp_path / "throughput.png").stat().st_size > 0


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Nope-v0", "AMRS-Calm-Reference-v0"])
def test_an_env_id_other_than_the_world_model_envs_is_one_usage_line(env_id: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(Args, ["--env-id", env_id])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "--env-id" in last and repr(env_id) in last
    assert all(repr(allowed) in last for allowed in MODE_ENV_IDS.values())
    assert cli(Args, ["--env-id", "AMRS-Sleep-v0"]).env_id == "AMRS-Sleep-v0"
