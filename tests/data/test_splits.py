import numpy as np

from amrs_gym.data.splits import split_by_listener, split_by_track


def test_listener_split_is_disjoint_and_complete(small_dataset) -> None:
    logs = small_dataset.logs
    split = split_by_listener(logs, test_fraction=0.2, val_fraction=0.1, seed=0)
    parts = [set(part["listener_id"]) for part in (split.train, split.val, split.test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert len(split.train) + len(split.val) + len(split.test) == len(logs)
    assert 0.15 < len(parts[2]) / logs["listener_id"].nunique() < 0.25
    assert split.scored_test_rows().all()


def test_listener_split_depends_on_seed(small_dataset) -> None:
    a = split_by_listener(small_dataset.logs, seed=0)
    b = split_by_listener(small_dataset.logs, seed=1)
    assert set(a.test["listener_id"]) != set(b.test["listener_id"])


def test_track_split_never_trains_on_test_tracks(small_dataset) -> None:
    logs = small_dataset.logs
    split = split_by_track(logs, small_dataset.catalog.n_tracks, test_fraction=0.15, seed=0)
    assert split.test_tracks is not None
    held = set(split.test_tracks)
    assert not held & set(split.train["track_id"]) and not held & set(split.val["track_id"])
    assert not set(split.train["session_id"]) & set(split.test["session_id"])
    scored = split.test[split.scored_test_rows()]
    assert len(scored) > 100 and set(scored["track_id"]) <= held
    assert np.isclose(len(held) / small_dataset.catalog.n_tracks, 0.15, atol=0.01)
