"""Tests of amrs_gym/simulator/config.py: every option checked once, with one clear error."""

from __future__ import annotations

import math

import pytest

from amrs_gym.reward import default_utility
from amrs_gym.simulator import SessionConfig
from tests.conftest import StubListener


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"mode": "party"}, "unknown mode 'party'"),
        ({"mode": "calm", "cohort": "teen"}, "unknown cohort 'teen'"),
        ({"mode": "calm", "start": "warm"}, "unknown start 'warm'"),
        (
            {"mode": "calm", "history_length": 1.5},
            "history_length must be an integer >= 0, got 1.5",
        ),
        ({"mode": "calm", "history_length": math.nan}, "history_length must be an integer"),
        ({"mode": "calm", "history_length": -1}, "history_length must be an integer >= 0"),
        ({"mode": "calm", "episode_length": 0}, "episode_length must be an integer >= 1"),
        ({"mode": "calm", "episode_length": "20"}, "episode_length must be an integer"),
        ({"mode": "calm", "episode_length": True}, "episode_length must be an integer"),
        ({"mode": "calm", "utility": "x"}, "utility must be an amrs_gym.reward.Utility"),
        ({"mode": "calm", "utility": default_utility("sleep")}, "utility is for mode 'sleep'"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SessionConfig(**options)


def test_unknown_options_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown argument\(s\) checkpoint"):
        SessionConfig.from_options("calm", checkpoint="x.npz")
    assert SessionConfig.from_options("calm", episode_length=3.0).episode_length == 3


def test_the_model_must_fit_the_catalog_and_the_lengths() -> None:
    with pytest.raises(ValueError, match="expects 40 tracks, the catalog has 1200"):
        SessionConfig("calm", world_model=StubListener(n_tracks=40)).create(1)
    with pytest.raises(ValueError, match="exceeds the world model's context of 30 tracks"):
        SessionConfig("calm", world_model=StubListener(max_tracks=30)).create(1)
    with pytest.raises(ValueError, match="world_model must be a ListenerModel"):
        SessionConfig("calm", world_model=3).create(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n must be an integer in 1\.\.65536, got 0"):
        SessionConfig("calm", world_model=StubListener()).create(0)


def test_start_sessions_may_be_a_file(tmp_path) -> None:
    from amrs_gym import defaults

    path = tmp_path / "starts.parquet"
    defaults.start_sessions().to_parquet(path)
    config = SessionConfig("calm", world_model=StubListener(), start_sessions=path)
    assert len(config.setup.starts) == len(
        SessionConfig("calm", world_model=StubListener()).setup.starts
    )
    with pytest.raises(ValueError, match="start_sessions: no file at"):
        SessionConfig("calm", start_sessions=tmp_path / "missing.parquet").create(1)
