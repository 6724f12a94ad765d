"""The world model's track features: the catalog's content, and popularity in the training logs."""

import numpy as np
import pandas as pd
import pytest
import torch

from amrs_gym.catalog import CatalogConfig
from amrs_gym.world_model.checkpoint import (
    CheckpointError,
    load_listener_model,
    read_checkpoint,
    save_checkpoint,
)
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.rollout import NumpyRollout
from amrs_gym.world_model.track_features import (
    content_unit,
    model_track_features,
    track_popularity,
)

POPULAR = WorldModelConfig(d_model=16, n_heads=2, ff_dim=32, track_popularity=True)


def logs_playing(plays: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"track_id": np.repeat(np.arange(len(plays)), plays)})


def test_popularity_is_the_standardised_log_of_plays() -> None:
    popularity = track_popularity(logs_playing([0, 1, 9, 99]), n_tracks=5)
    assert popularity.dtype == np.float32 and popularity.shape == (5,)
    assert abs(popularity.mean()) < 1e-6 and popularity.std() == pytest.approx(1, abs=1e-6)
    assert popularity[0] == popularity[4] == popularity.min()  # never played, like track 4
    assert (np.diff(popularity[:4]) > 0).all()
    expected = np.log1p([0, 1, 9, 99, 0])
    np.testing.assert_allclose(popularity, (expected - expected.mean()) / expected.std(), rtol=1e-5)
    np.testing.assert_array_equal(track_popularity(logs_playing([3, 3, 3]), 3), 0)


def test_popularity_is_appended_to_the_content_and_left_out_of_similarity() -> None:
    content = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    plain = WorldModelConfig()
    np.testing.assert_array_equal(model_track_features(content, plain), content)
    features = model_track_features(content, POPULAR, logs_playing([50, 1, 5]))
    assert features.shape == (3, 3)
    np.testing.assert_array_equal(features[:, :2], content)
    unit = content_unit(features, POPULAR)
    assert unit.shape == (3, 2)
    assert unit[0] @ unit[1] == pytest.approx(1.0)  # same content, however popular
    with pytest.raises(ValueError, match="track_popularity needs the training logs"):
        model_track_features(content, POPULAR)


def test_a_checkpoint_with_popularity_reads_against_its_catalog(tmp_path) -> None:
    catalog = CatalogConfig(n_tracks=40, seed=3).create()
    features = model_track_features(catalog.embeddings, POPULAR, logs_playing(list(range(40))))
    torch.manual_seed(0)
    model = WorldModel(POPULAR, features).eval()
    path = save_checkpoint(tmp_path / "m.npz", model, catalog.fingerprint())
    checkpoint = read_checkpoint(path, catalog)
    assert checkpoint.config.track_popularity
    assert checkpoint.track_features.shape == (40, catalog.embedding_dim + 1)
    rollout = load_listener_model(path, catalog)
    assert isinstance(rollout, NumpyRollout)
    np.testing.assert_allclose(rollout.track_unit, model.track_unit.numpy(), atol=1e-7)
    other = CatalogConfig(n_tracks=40, seed=3, embedding_dim=catalog.embedding_dim + 1).create()
    with pytest.raises(CheckpointError, match="features, not"):
        read_checkpoint(path, other)
