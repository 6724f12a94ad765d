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
            "--losses",
            "pairs",
            "--pessimisms",
            "1",
            "--policy-shares",
            "0.5",
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
    names = [f"kl 0.25 / novelty {n} / pairs / pessimism 1 / policy 0.5" for n in (1, 2)]
    assert set(calm["results"]) == {"bc", *names}
    for entry in calm["results"].values():
        assert 0 < entry["coverage"] <= 1 and entry["ild"] > 0
    chosen = calm["chosen"]
    base = calm["results"]["bc"]
    allowed = [  # the rule: best utility keeping 90% of BC's coverage and of its ILD
        r
        for n, r in calm["results"].items()
        if n != "bc" and r["coverage"] >= 0.9 * base["coverage"] and r["ild"] >= 0.9 * base["ild"]
    ]
    if allowed:
        best = max(allowed, key=lambda r: r["utility_mean"])
        assert chosen == {k: best[k] for k in chosen} and chosen["pessimism"] == 1
    else:
        assert chosen is None
    for name in ("dpo_sweep.md", "dpo_sweep.png"):
        assert (tmp_path / name).stat().st_size > 0
