"""The MSSD sessions of the benchmark.

Training and evaluation sessions with one track numbering, each learned model's held-out training
sessions, and scoring on held-out sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amrs_gym.data.mssd import MssdFormatError, MssdLogs, load_mssd
from amrs_gym.data.wsdm import skip_metrics

QUICK_SESSIONS = 700
"""Sessions read from each file under --quick."""
CONTEXT_TYPES = (
    "catalog",
    "charts",
    "editorial_playlist",
    "personalized_playlist",
    "radio",
    "user_collection",
)
"""MSSD's `context_type` categories: the world model's modes (unknown values map to the first)."""
COHORTS = ("False", "True")
"""The world model's cohorts: `premium`."""
TRACK_FOLDS = 5
"""Folds of training sessions for out-of-fold track statistics."""


@dataclass
class Data:
    """Training and evaluation sessions with a shared track numbering."""

    train: pd.DataFrame
    """Training sessions, every column."""
    eval: pd.DataFrame
    """Evaluation sessions, every column: only its first half and identity columns reach models."""
    folds: np.ndarray
    """Fold (0..K-1) of every training session id, for out-of-fold track statistics."""
    val_fraction: float
    """Share of training sessions each learned model holds out for early stopping."""
    protocol: dict[str, Any]
    """How train and eval sessions were obtained (written to the JSON)."""

    def validation_sessions(self, seed: int, member: int) -> np.ndarray:
        """The training session ids that member `member` of training seed `seed` holds out."""
        ids = np.unique(self.train["session_id"].to_numpy())
        n_val = min(len(ids) - 1, max(1, round(self.val_fraction * len(ids))))
        return np.sort(np.random.default_rng([seed, member]).permutation(ids)[:n_val])


def load_data(
    train_file: str,
    eval_file: str,
    quick: bool,
    seed: int,
    test_fraction: float,
    val_fraction: float,
) -> Data:
    """Load the files and align their track ids.

    They are split by session when they are the same file (`eval_file` empty or equal).
    """
    eval_path = eval_file or train_file
    limit = QUICK_SESSIONS if quick else None
    same = Path(eval_path).resolve() == Path(train_file).resolve()
    train_logs = _load("--train", train_file, limit)
    if same:
        train_part, eval_part = train_logs.split_by_session(test_fraction, seed)
        train, evaluation = train_part.logs.copy(), eval_part.logs.copy()
        train_keys = eval_keys = train_logs.track_keys
        protocol: dict[str, Any] = {
            "name": "session_split",
            "description": f"one file split by session: {test_fraction:.0%} of its sessions "
            f"held out (seed {seed}) and scored, never trained on",
            "test_fraction": test_fraction,
        }
    else:
        eval_logs = _load("--eval", eval_path, limit)
        train, evaluation = train_logs.logs.copy(), eval_logs.logs.copy()
        train_keys, eval_keys = train_logs.track_keys, eval_logs.track_keys
        protocol = {
            "name": "separate_files",
            "description": "trained on the sessions of --train, scored on every session of --eval",
            "sessions_in_both_files": len(
                set(train["session_key"]) & set(evaluation["session_key"])
            ),
        }
    # one track numbering for both parts (codes of `track_id_clean`)
    keys = pd.concat(
        [
            pd.Series(train_keys[train["track_id"].to_numpy()]),
            pd.Series(eval_keys[evaluation["track_id"].to_numpy()]),
        ],
        ignore_index=True,
    )
    codes, _ = pd.factorize(keys)
    train["track_id"] = codes[: len(train)].astype(np.int64)
    evaluation["track_id"] = codes[len(train) :].astype(np.int64)
    n_train = int(train["session_id"].max()) + 1
    folds = np.empty(n_train, dtype=np.int64)
    folds[np.random.default_rng([seed, 1]).permutation(n_train)] = np.arange(n_train) % TRACK_FOLDS
    protocol.update(
        train_file=str(train_file),
        eval_file=str(eval_path),
        quick=quick,
        train_sessions=n_train,
        validation_sessions_per_member=round(val_fraction * n_train),
        eval_sessions=int(evaluation["session_id"].nunique()),
        eval_rows_scored=int(second_half_mask(evaluation).sum()),
    )
    return Data(
        train=train, eval=evaluation, folds=folds, val_fraction=val_fraction, protocol=protocol
    )


def _load(option: str, path: str, limit: int | None) -> MssdLogs:
    """`load_mssd(path)`, a bad file refused with one ValueError naming `option`.

    Missing, unreadable or not in MSSD's format: the command line shows it as one `error:` line.
    """
    try:
        return load_mssd(path, max_sessions=limit)
    except (OSError, MssdFormatError) as error:
        raise ValueError(f"{option}: {error}") from None


def second_half_mask(frame: pd.DataFrame) -> np.ndarray:
    """Rows the WSDM Cup hides: position >= floor(session_length / 2) (as `wsdm_halves`)."""
    return (frame["position"] >= frame["session_length"] // 2).to_numpy()


def truth(evaluation: pd.DataFrame, predicted: pd.DataFrame) -> np.ndarray:
    """skip_2 of the rows of `predicted` (matched on session_id, position)."""
    index = pd.MultiIndex.from_frame(predicted[["session_id", "position"]])
    return (
        evaluation.set_index(["session_id", "position"]).loc[index, "skipped"].to_numpy(dtype=bool)
    )


def held_out_maa(
    data: Data,
    val_sessions: np.ndarray,
    predict: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
) -> float:
    """MAA of `predict(train, evaluation)` on held-out training sessions (the WSDM task on them).

    The track statistics come from the other training sessions, so no held-out label enters.
    """
    in_val = data.train["session_id"].isin(val_sessions)
    val_frame = data.train[in_val]
    predicted = predict(data.train[~in_val], val_frame)
    return skip_metrics(
        predicted, predicted["probability"].to_numpy(), truth(val_frame, predicted)
    )["maa"]
