import json
import subprocess
import sys

import numpy as np
import pytest

from amrs_gym.defaults import reference_world as default_reference_world
from benchmarks.greedy_spread import POLICIES, WORLDS, coverage_curve, world_variant


def test_coverage_curve_counts_distinct_tracks_of_the_first_episodes() -> None:
    tracks = np.array([[0, 1], [1, 2], [3, 3]])
    assert coverage_curve(tracks, 10, [1, 2, 3, 5]) == {1: 0.2, 2: 0.3, 3: 0.4}


def test_world_variants_switch_only_their_fields_off() -> None:
    base = default_reference_world()
    no_taste = world_variant(base, "no_taste")
    assert (
        no_taste.config.taste_weight == 0
        and no_taste.config.sameness_penalty == base.config.sameness_penalty
    )
    assert world_variant(base, "shipped").config == base.config
    with pytest.raises(ValueError, match="unknown world variant"):
        world_variant(base, "kind")


@pytest.mark.slow
def test_quick_greedy_spread_run_writes_every_world_and_policy(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.greedy_spread",
            "--quick",
            "--modes",
            "calm",
            "--episodes",
            "24",
            "--workers",
            "1",
            "--cache",
            str(tmp_path / "agents"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    calm = json.loads((tmp_path / "greedy_spread.json").read_text())["modes"]["calm"]
    assert set(calm) == set(WORLDS)
    assert set(calm["shipped"]) == set(POLICIES)
    assert calm["shipped"]["bc"]["coverage_vs_bc"] == 1.0
    # the truth's one-step optimum beats BC, and spreads less once listeners share one taste
    assert calm["shipped"]["greedy_truth"]["utility_mean"] > calm["shipped"]["bc"]["utility_mean"]
    assert (
        calm["no_taste"]["greedy_truth"]["coverage"] < calm["shipped"]["greedy_truth"]["coverage"]
    )
    for name in ("greedy_spread.md", "greedy_spread.png"):
        assert (tmp_path / name).stat().st_size > 0
