"""The datasheet's (data/README.md) claims, measured on freshly generated logs."""

import numpy as np


def test_clinical_listeners_skip_less(small_dataset) -> None:
    rates = small_dataset.logs.groupby("cohort")["skipped"].mean()
    assert rates["clinical"] < 0.5 * rates["consumer"]


def test_clinical_reports_are_sparser(small_dataset) -> None:
    reported = (
        small_dataset.logs["valence_report"].notna().groupby(small_dataset.logs["cohort"]).mean()
    )
    assert reported["clinical"] < reported["consumer"]


def test_arousal_falls_more_in_sleep_than_energize(small_dataset) -> None:
    logs, latent = small_dataset.logs, small_dataset.latent
    change = (latent["true_arousal"] - latent["true_arousal_before"]).groupby(logs["mode"]).mean()
    assert change["sleep"] < 0 < change["energize"]
    # also visible in the observed reports: last report minus the starting report
    reported = logs[logs["arousal_report"].notna()]
    last = reported.groupby("session_id").last()
    drop = (last["arousal_report"] - last["arousal_start"]).groupby(last["mode"]).mean()
    assert drop["sleep"] < drop["energize"]


def test_repetition_lowers_engagement(small_dataset) -> None:
    logs = small_dataset.logs
    repeat = logs.duplicated(["session_id", "track_id"])
    assert repeat.sum() > 30
    assert logs.loc[repeat, "engagement"].mean() < logs.loc[~repeat, "engagement"].mean() - 0.05


def test_history_matters_taste_is_persistent(small_dataset) -> None:
    """A listener's engagement in one half of a session predicts the other half (latent taste)."""
    logs = small_dataset.logs
    half = logs["position"] < logs.groupby("session_id")["position"].transform("size") // 2
    first = logs[half].groupby("session_id")["engagement"].mean()
    second = logs[~half].groupby("session_id")["engagement"].mean()
    assert np.corrcoef(first, second)[0, 1] > 0.3
