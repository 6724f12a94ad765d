"""No leak of the hidden second half into any model of benchmarks/mssd_skip.

And checks that can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from amrs_gym.data.mssd import BEHAVIOUR_COLUMNS, SESSION_CONTEXT_COLUMNS
from amrs_gym.world_model.model import WorldModel
from benchmarks.mssd_skip import MODELS
from benchmarks.mssd_skip.data import Data, second_half_mask
from benchmarks.mssd_skip.features import TrackStatistics, feedback_columns
from benchmarks.mssd_skip.gbt import GbtSettings, fit_gbt, predict_gbt, predict_last_known
from benchmarks.mssd_skip.world_model import (
    WorldModelSettings,
    _model_config,
    predict_world_model,
    world_model_tensors,
)
from tests.benchmarks.mssd_skip.conftest import needs_mssd


def _scramble(frame: pd.DataFrame, hidden: np.ndarray, seed: int = 1) -> pd.DataFrame:
    """Flip or shuffle every behaviour and session-context column on the rows in `hidden`."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for name in (*BEHAVIOUR_COLUMNS, *SESSION_CONTEXT_COLUMNS):
        values = out.loc[hidden, name]
        if values.dtype == bool:
            out.loc[hidden, name] = ~values.to_numpy()
        elif name == "date":
            out.loc[hidden, name] = values + pd.Timedelta(days=3)
        elif pd.api.types.is_numeric_dtype(values) and not values.isna().all():
            out.loc[hidden, name] = (values.to_numpy() + 1) % (values.max() + 2)
        else:
            out.loc[hidden, name] = rng.permutation(values.to_numpy())
    return out


def _random_world_model(data: Data) -> WorldModel:
    n_extra = len(feedback_columns(data.train.head()).columns)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return WorldModel(
            _model_config(WorldModelSettings(), n_extra),
            torch.zeros(1, len(TrackStatistics.columns)),
        )


def _predictions(data: Data, evaluation: pd.DataFrame) -> dict[str, pd.DataFrame]:
    gbt = fit_gbt(data, GbtSettings(max_iter=30), seed=0)
    return {
        "world_model": predict_world_model(_random_world_model(data), data.train, evaluation),
        "gbt": predict_gbt(gbt, data.train, evaluation),
        "last_known": predict_last_known(evaluation),
    }


@needs_mssd
def test_second_half_behaviour_never_reaches_a_model(data: Data) -> None:
    evaluation = data.eval
    scrambled = _scramble(evaluation, second_half_mask(evaluation))
    assert (scrambled["skipped"] != evaluation["skipped"]).sum() == second_half_mask(
        evaluation
    ).sum()
    before, after = _predictions(data, evaluation), _predictions(data, scrambled)
    for name in MODELS:
        assert len(before[name]) == second_half_mask(evaluation).sum(), name
        pd.testing.assert_frame_equal(before[name], after[name], check_exact=True, obj=name)


@needs_mssd
def test_the_leak_check_can_fail(data: Data) -> None:
    """Scrambling the *first* half (which the models may read) does change every prediction."""
    evaluation = data.eval
    scrambled = _scramble(evaluation, ~second_half_mask(evaluation))
    before, after = _predictions(data, evaluation), _predictions(data, scrambled)
    for name in MODELS:
        assert not np.allclose(before[name]["probability"], after[name]["probability"]), name


@needs_mssd
def test_training_sessions_hide_their_second_half(data: Data) -> None:
    val_sessions = data.validation_sessions(0, 0)
    train, val, _, _ = world_model_tensors(data, WorldModelSettings(), val_sessions, seed=0)
    for tensors in (train, val):
        length = tensors.valid.sum(1)  # (batch,) whole sessions
        shown = tensors.feedback[..., 0] > 0  # the `present` flag
        index = torch.arange(tensors.track.shape[1])
        np.testing.assert_array_equal(shown.numpy(), (index[None] < (length // 2)[:, None]).numpy())
        assert (tensors.feedback[~shown] == 0).all()  # nothing else of a hidden row leaks either
    assert (
        val.scored == (val.valid & ~(val.feedback[..., 0] > 0))
    ).all()  # validation scores the hidden half


@needs_mssd
def test_track_statistics_of_a_training_row_ignore_its_own_session(data: Data) -> None:
    stats = TrackStatistics(data.train)
    flipped = data.train.copy()
    own = flipped["session_id"] == flipped["session_id"].iloc[0]
    for name in ("skip_1", "skip_2", "skip_3", "not_skipped"):
        flipped.loc[own, name] = ~flipped.loc[own, name].to_numpy()
    rows = data.train[own]
    np.testing.assert_array_equal(
        stats.rows(data.train, rows, data.folds), stats.rows(flipped, rows, data.folds)
    )
