"""Tests of agents/cache.py: train once, reuse a matching file, retrain a stale or broken one."""

from __future__ import annotations

import numpy as np

from agents.cache import cache_path, train_or_load


def test_a_cached_agent_is_reused_and_a_broken_file_is_retrained(
    calm_data, tmp_path, capsys
) -> None:
    trained, seconds = train_or_load(["popular", "random"], calm_data, tmp_path, progress=False)
    assert seconds["popular"] >= 0 and cache_path(tmp_path, "popular", calm_data).exists()
    again, seconds = train_or_load(["popular"], calm_data, tmp_path, progress=False)
    assert seconds["popular"] == 0.0
    assert np.array_equal(again["popular"].ranking, trained["popular"].ranking)
    cache_path(tmp_path, "popular", calm_data).write_bytes(b"truncated")
    retrained, seconds = train_or_load(["popular"], calm_data, tmp_path, progress=False)
    assert seconds["popular"] > 0.0 and np.array_equal(
        retrained["popular"].ranking, trained["popular"].ranking
    )
    assert "unreadable" in capsys.readouterr().err  # said, in one line


def test_dpo_gets_its_reference_from_the_cache(calm_data, tmp_path) -> None:
    trained, _ = train_or_load(["bc", "dpo"], calm_data, tmp_path, progress=False)
    assert trained["dpo"]._reference is trained["bc"]
    assert (
        cache_path(tmp_path, "bc", calm_data).exists()
        and cache_path(tmp_path, "dpo", calm_data).exists()
    )


def test_dpo_is_refitted_when_its_mode_weights_are_chosen_again(
    calm_data, tmp_path, monkeypatch
) -> None:
    """The config leaves the weights to `MODE_WEIGHTS`: a re-chosen default must not be served."""
    import agents.dpo

    train_or_load(["dpo"], calm_data, tmp_path, progress=False)
    _, seconds = train_or_load(["dpo"], calm_data, tmp_path, progress=False)
    assert seconds["dpo"] == 0.0
    monkeypatch.setitem(agents.dpo.MODE_WEIGHTS, "calm", (0.123, 0.5))
    refitted, seconds = train_or_load(["dpo"], calm_data, tmp_path, progress=False)
    assert seconds["dpo"] > 0.0 and refitted["dpo"].resolved_settings() == {"weights": [0.123, 0.5]}
