"""Broken files are refused naming the file: agent files and checkpoints truncated at any byte,
bit-flipped, emptied or replaced, and log files with any column broken."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import agents
from agents.weights import AgentFileError
from amrs_gym import defaults
from amrs_gym.data.schema import LOG_COLUMNS, LogSchemaError, validate_logs
from amrs_gym.world_model.checkpoint import CheckpointError, read_checkpoint
from tests.bad_inputs.conftest import ANYTHING


@pytest.fixture(scope="module")
def agent_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("agent") / "popular.npz"
    agent = agents.make("popular", mode="calm")
    agent.ranking, agent.n_tracks, agent.obs_dim = np.arange(1200)[::-1].copy(), 1200, 95
    agent.save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def checkpoint_bytes() -> bytes:
    return defaults.CHECKPOINT_PATH.read_bytes()


def corrupt(data: bytes, cut: int, flip: int | None) -> bytes:
    """`data` cut after `cut` bytes, with byte `flip` inverted."""
    broken = bytearray(data[: max(0, min(cut, len(data)))])
    if flip is not None and broken:
        broken[flip % len(broken)] ^= 0xFF
    return bytes(broken)


@given(cut=st.integers(0, 10**6), flip=st.one_of(st.none(), st.integers(0, 10**6)))
def test_a_broken_agent_file_is_refused_naming_it(agent_bytes, tmp_path_factory, cut, flip) -> None:
    path = tmp_path_factory.mktemp("broken") / "popular.npz"
    path.write_bytes(corrupt(agent_bytes, cut, flip))
    try:
        agent = agents.agent_class("popular").load(path)
    except AgentFileError as error:
        assert str(path) in str(error) or "popular agent" in str(error), error
        return
    assert len(agent.ranking) and agent.ranking.max() < 1200  # an intact file, or a harmless flip


@given(cut=st.integers(0, 10**6), flip=st.one_of(st.none(), st.integers(0, 10**6)))
def test_a_broken_checkpoint_is_refused_naming_it(
    checkpoint_bytes, tmp_path_factory, cut, flip
) -> None:
    path = tmp_path_factory.mktemp("broken") / "model.npz"
    path.write_bytes(corrupt(checkpoint_bytes, cut, flip))
    try:
        checkpoint = read_checkpoint(path, defaults.default_catalog())
    except CheckpointError as error:
        assert str(path) in str(error), error
        return
    assert all(np.isfinite(array).all() for array in checkpoint.state.values())


@pytest.mark.parametrize("name", ["checkpoint", "agent"])
def test_a_zip_entry_of_an_unknown_zip_version_is_refused(
    name, checkpoint_bytes, agent_bytes, tmp_path
) -> None:
    """Found by the property above: zipfile raises NotImplementedError for such an entry."""
    broken = bytearray(checkpoint_bytes if name == "checkpoint" else agent_bytes)
    entry = broken.index(b"PK\x01\x02")  # the first central-directory entry
    broken[entry + 6 : entry + 8] = (210).to_bytes(2, "little")  # "needs zip version 21.0"
    path = tmp_path / f"{name}.npz"
    path.write_bytes(bytes(broken))
    with pytest.raises((CheckpointError, AgentFileError), match="NotImplementedError"):
        if name == "checkpoint":
            read_checkpoint(path, defaults.default_catalog())
        else:
            agents.agent_class("popular").load(path)


@pytest.fixture(scope="module")
def logs() -> pd.DataFrame:
    return defaults.start_sessions()[list(LOG_COLUMNS)].head(400).reset_index(drop=True)


@pytest.mark.parametrize("column", list(LOG_COLUMNS))
@given(value=ANYTHING, rows=st.integers(1, 400))
def test_a_broken_log_column_is_named(logs, column: str, value: object, rows: int) -> None:
    broken = logs.copy()
    try:
        broken[column] = broken[column].astype(object)
        broken.loc[: rows - 1, column] = [value] * rows
    except (TypeError, ValueError):
        return  # pandas itself refuses to hold the value
    try:
        validate_logs(broken, n_tracks=1200)
    except LogSchemaError as error:
        assert any(
            p.split(":")[0] in (column, "position", "file", *LOG_COLUMNS) for p in error.problems
        )


def test_an_agent_saved_where_no_file_can_be_made_names_the_path(tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    agent = agents.make("popular", mode="calm")
    agent.ranking, agent.n_tracks, agent.obs_dim = np.arange(1200), 1200, 95
    target = blocker / "popular.npz"
    with pytest.raises(OSError, match=re.escape(f"cannot write {target}")):
        agent.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
