from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from amrs_gym.catalog import Catalog, CatalogConfig
from amrs_gym.data.generate import DatasetConfig
from amrs_gym.data.schema import LOG_COLUMNS, validate_logs


def test_same_seed_same_logs_and_other_seed_differs() -> None:
    config = DatasetConfig(n_listeners=30, n_sessions=60, seed=3)
    first, second = config.create(), config.create()
    pd.testing.assert_frame_equal(first.logs, second.logs)
    pd.testing.assert_frame_equal(first.latent, second.latent)
    other = DatasetConfig(n_listeners=30, n_sessions=60, seed=4).create()
    assert not first.logs["track_id"].equals(other.logs["track_id"])


def test_logs_fit_schema_and_session_shape(small_dataset) -> None:
    logs = small_dataset.logs
    assert list(LOG_COLUMNS) == [c for c in logs.columns if c in LOG_COLUMNS]
    validate_logs(logs, small_dataset.catalog.n_tracks)
    lengths = logs.groupby("session_id").size()
    assert lengths.between(15, 30).all()
    assert (logs.groupby("session_id")["position"].max() + 1).equals(lengths)
    assert logs["listener_id"].nunique() == 400 and logs["session_id"].nunique() == 2000
    # the start report is one value per session; reports and ratings are sparse, never filled
    assert (logs.groupby("session_id")["valence_start"].nunique() == 1).all()
    assert 0.05 < logs["valence_report"].notna().mean() < 0.5
    assert 0.05 < logs["rating"].notna().mean() < 0.5
    # the latent truth is not in the logs
    assert not {"true_valence", "skip_probability"} & set(logs.columns)


def test_propensity_is_the_logging_policy_probability(small_dataset) -> None:
    logs = small_dataset.logs
    assert logs["propensity"].between(0, 1, inclusive="right").all()
    # a stochastic policy, neither uniform nor deterministic
    n = small_dataset.catalog.n_tracks
    assert logs["propensity"].median() > 0.2 / n and logs["propensity"].max() < 0.5
    assert logs["propensity"].std() > 0.5 / n


def test_catalog_round_trips_and_has_descriptors(tmp_path) -> None:
    catalog = CatalogConfig(n_tracks=50, seed=1).create()
    assert catalog.embedding_dim >= 16
    catalog.save(tmp_path / "c.parquet")
    loaded = Catalog.load(tmp_path / "c.parquet")
    np.testing.assert_array_equal(loaded.embeddings, catalog.embeddings)
    assert loaded.fingerprint() == catalog.fingerprint()
    assert catalog.valence.min() >= -1 and catalog.arousal.max() <= 1
    assert len(np.unique(catalog.cluster)) > 1


def test_default_config_meets_size_floor() -> None:
    config = DatasetConfig()
    assert config.n_listeners >= 2000 and config.n_sessions >= 10000
    assert config.catalog.n_tracks >= 1000


@pytest.mark.slow
def test_default_dataset_size() -> None:
    dataset = DatasetConfig().create()
    assert len(dataset.logs) >= 200_000


def test_exploration_mixes_production_with_uniform_plays() -> None:
    """epsilon of production's probability mass is spread evenly; the rest keeps its scores."""
    config = DatasetConfig(n_listeners=20, n_sessions=40, seed=5)
    exploring = replace(config, policy=replace(config.policy, exploration=0.3))
    (_, plain), (_, explores) = config.build_world(), exploring.build_world()
    rng = np.random.default_rng(0)
    args = {
        "listener": rng.integers(0, 20, 6),
        "mode": rng.integers(0, 4, 6),
        "history": rng.integers(-1, 1200, (6, 5)),
        "position": np.full(6, 5),
        "last_skipped": rng.random(6) < 0.5,
    }
    p, q = plain.track_probabilities(**args), explores.track_probabilities(**args)
    np.testing.assert_allclose(q, 0.7 * p + 0.3 / p.shape[1], rtol=1e-12)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    # every logged play has at least the uniform share; without exploration, some had less
    assert exploring.create().logs["propensity"].min() >= 0.3 / 1200 * (1 - 1e-9)
    assert config.create().logs["propensity"].min() < 0.3 / 1200
