"""Tests of amrs_gym/data/wsdm.py: the WSDM Cup's skip-prediction metrics, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amrs_gym.data.wsdm import average_accuracy, mean_average_accuracy, skip_metrics


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
