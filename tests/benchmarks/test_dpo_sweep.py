"""The DPO sweep end to end (`python -m benchmarks.dpo_sweep --quick`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_quick_sweep_validates_on_training_listeners_and_chooses_a_setting(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dpo_sweep",
            "--quick",
            "--modes",
            "calm",
            "--kl-weights",
            "0.25",
            "--novelty-weights",
            "1",
            "2",
            "--episodes",
            "16",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    calm = json.loads((tmp_path / "dpo_sweep.json").read_text())["modes"]["calm"]
    assert set(calm["results"]) == {"bc", "kl_0.25_novelty_1", "kl_0.25_novelty_2"}
    for entry in calm["results"].values():
        assert 0 < entry["coverage"] <= 1 and entry["ild"] > 0
    chosen = calm["chosen"]
    if chosen is not None:  # the rule: best utility keeping 80% of BC's coverage and 90% of its ILD
        base = calm["results"]["bc"]
        name = f"kl_{chosen['kl_weight']:g}_novelty_{chosen['novelty_weight']:g}"
        assert calm["results"][name]["coverage"] >= 0.8 * base["coverage"]
    for name in ("dpo_sweep.md", "dpo_sweep.png"):
        assert (tmp_path / name).stat().st_size > 0
