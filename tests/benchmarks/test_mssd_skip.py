"""Tests of benchmarks/mssd_skip.py: the challenge metric, no leak of the hidden half, the --quick run."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from amrs_gym.data.mssd import BEHAVIOUR_COLUMNS, SESSION_CONTEXT_COLUMNS
from amrs_gym.world_model.model import WorldModel
from benchmarks.mssd_skip import (
    METRIC_NAMES,
    MODELS,
    Args,
    Data,
    GbtSettings,
    TrackStatistics,
    WorldModelSettings,
    _model_config,
    average_accuracy,
    feedback_columns,
    fit_gbt,
    load_data,
    mean_average_accuracy,
    paired_bootstrap,
    predict_gbt,
    predict_last_known,
    predict_world_model,
    second_half_mask,
    skip_metrics,
    world_model_tensors,
)

REPO = Path(__file__).resolve().parents[2]  # /work/main
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # beside the repo
MSSD_FILE = SHARED_DATA / "spotify_mssd" / "sessions_dev.csv.gz"
needs_mssd = pytest.mark.skipif(not MSSD_FILE.is_file(), reason=f"{MSSD_FILE} not present")


# ----- the challenge metric ------------------------------------------------------------------


def test_average_accuracy_all_correct_is_one() -> None:
    assert average_accuracy(np.ones(7, bool)) == 1.0


def test_average_accuracy_all_wrong_is_zero() -> None:
    assert average_accuracy(np.zeros(7, bool)) == 0.0


def test_average_accuracy_by_hand() -> None:
    # correct, wrong, correct: A = 1, 1/2, 2/3 and L = 1, 0, 1 -> (1 + 0 + 2/3) / 3 = 5/9
    assert average_accuracy(np.array([1, 0, 1])) == pytest.approx(5 / 9)
    # wrong, correct: (0 * 0 + 1/2 * 1) / 2 = 1/4
    assert average_accuracy(np.array([0, 1])) == pytest.approx(0.25)
    # the first predictions weigh most: a late miss costs less than an early one
    assert average_accuracy(np.array([1, 1, 0])) > average_accuracy(np.array([0, 1, 1]))
    with pytest.raises(ValueError):
        average_accuracy(np.array([]))


def test_mean_average_accuracy_orders_by_position_and_averages_sessions() -> None:
    session = np.array([7, 7, 3, 7, 3])
    position = np.array([12, 10, 11, 11, 10])  # session 7 in order: 10, 11, 12
    correct = np.array([1, 1, 1, 0, 0])  # session 7: [1, 0, 1]; session 3: [0, 1]
    assert mean_average_accuracy(session, position, correct) == pytest.approx((5 / 9 + 0.25) / 2)


def test_skip_metrics_by_hand() -> None:
    second = pd.DataFrame({"session_id": [0, 0, 0, 1, 1], "position": [5, 6, 7, 4, 5]})
    probability = np.array([0.9, 0.2, 0.6, 0.4, 0.7])
    skipped = np.array([True, True, True, True, False])  # correct: 1, 0, 1 and 0, 0
    metrics = skip_metrics(second, probability, skipped)
    assert metrics["maa"] == pytest.approx((5 / 9 + 0.0) / 2)
    assert metrics["first_acc"] == pytest.approx(0.5)
    assert metrics["acc"] == pytest.approx(0.4)
    assert metrics["auc"] == pytest.approx(0.25)  # 1 of the 4 skipped rows outranks the kept row


def test_paired_bootstrap_brackets_the_mean() -> None:
    difference = np.random.default_rng(0).normal(0.1, 0.2, size=400)
    result = paired_bootstrap(difference, seed=0)
    assert result["ci95_low"] < result["mean"] < result["ci95_high"]
    assert result["mean"] == pytest.approx(difference.mean())


# ----- no leak of the hidden half --------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> Data:
    """The first 700 sessions of the dev file, split by session as the benchmark does."""
    return load_data(Args(train=str(MSSD_FILE), quick=True))


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
        return WorldModel(_model_config(WorldModelSettings(), n_extra), torch.zeros(1, len(TrackStatistics.columns)))


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
    assert (scrambled["skipped"] != evaluation["skipped"]).sum() == second_half_mask(evaluation).sum()
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
    assert (val.scored == (val.valid & ~(val.feedback[..., 0] > 0))).all()  # validation scores the hidden half


@needs_mssd
def test_track_statistics_of_a_training_row_ignore_its_own_session(data: Data) -> None:
    stats = TrackStatistics(data.train)
    flipped = data.train.copy()
    own = flipped["session_id"] == flipped["session_id"].iloc[0]
    for name in ("skip_1", "skip_2", "skip_3", "not_skipped"):
        flipped.loc[own, name] = ~flipped.loc[own, name].to_numpy()
    rows = data.train[own]
    np.testing.assert_array_equal(stats.rows(data.train, rows, data.folds), stats.rows(flipped, rows, data.folds))


# ----- the script --------------------------------------------------------------------------------


@needs_mssd
@pytest.mark.slow
def test_quick_run_writes_every_model_and_metric(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.mssd_skip", "--quick", "--train", str(MSSD_FILE),
               "--eval", str(MSSD_FILE), "--out", str(tmp_path)]
    subprocess.run(command, cwd=REPO, check=True, timeout=90, capture_output=True)
    report = json.loads((tmp_path / "mssd_skip.json").read_text())
    for name in MODELS:
        assert set(report[name]) == set(METRIC_NAMES), name
        for metric in METRIC_NAMES:
            assert 0.0 <= report[name][metric] <= 1.0 and not math.isnan(report[name][metric]), (name, metric)
    assert report["protocol"]["name"] == "session_split"
    assert report["protocol"]["eval_sessions"] > 0
    assert (tmp_path / "mssd_skip.md").read_text().count("world_model") >= 1
    assert (tmp_path / "mssd_skip.png").stat().st_size > 0


def test_default_arguments() -> None:
    args = Args()
    assert args.eval == "" and args.seeds >= 3  # eval defaults to the training file, split by session
    assert Path(args.train).name == "sessions_dev.csv.gz"
