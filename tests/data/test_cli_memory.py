"""`python -m amrs_gym.data` and the train command say "out of memory" in one line."""

from __future__ import annotations

from amrs_gym.bundle import cli as train_cli
from amrs_gym.data import __main__ as data_cli


def _needs_too_much(*args: object, **kwargs: object) -> None:
    raise MemoryError("Unable to allocate 89.4 GiB")


def test_generate_that_runs_out_of_memory_is_one_error_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setitem(data_cli.COMMANDS, "generate", _needs_too_much)
    assert data_cli.main(["generate", "--out", str(tmp_path / "logs.parquet")]) == 2
    assert capsys.readouterr().err == (
        "error: out of memory (Unable to allocate 89.4 GiB): ask for less\n"
    )


def test_train_that_runs_out_of_memory_is_one_error_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(train_cli, "_generated_source", _needs_too_much)
    assert train_cli.train_bundle(["--out", str(tmp_path / "bundle")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: out of memory (Unable to allocate 89.4 GiB): ask for less"
    )
