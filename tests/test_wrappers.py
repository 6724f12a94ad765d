"""Tests for `amrs_gym/wrappers.py` (ContinuousTrackAction), mostly on a tiny stand-in env."""

from __future__ import annotations

import doctest
import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import DDPG
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import amrs_gym  # noqa: F401 (registers the ids)
from amrs_gym import wrappers
from amrs_gym.catalog import Catalog, CatalogConfig
from amrs_gym.envs.feature_target import FeatureTargetEnv
from amrs_gym.wrappers import ContinuousTrackAction, ScaledObservation

N_TRACKS = 30


class TrackPickerEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Stand-in for a suite env: pick a track id; reward = its valence; 8 steps.

    The observation is the last track's features (zeros after reset).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self, catalog: Catalog, report_track: bool = True, expose_catalog: bool = True
    ) -> None:
        if expose_catalog:
            self.catalog = catalog
        self.report_track = report_track
        self._features = catalog.features()
        self._valence = catalog.valence
        self.action_space = spaces.Discrete(catalog.n_tracks)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)
        self.received: list[Any] = []
        self._steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        return np.zeros(5, dtype=np.float32), {}

    def step(self, action: np.int64) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        self.received.append(action)
        self._steps += 1
        track = int(action)
        info = {"track_id": track} if self.report_track else {}
        return self._features[track], float(self._valence[track]), False, self._steps >= 8, info


class BoxActionEnv(TrackPickerEnv):
    """The stand-in with a continuous action space (not a track picker)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)  # type: ignore[assignment]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return CatalogConfig(n_tracks=N_TRACKS, n_clusters=3, seed=2).create()


@pytest.fixture()
def picker(catalog: Catalog) -> TrackPickerEnv:
    return TrackPickerEnv(catalog)


def brute_force_nearest(points: np.ndarray, point: np.ndarray) -> int:
    return int(np.argmin(np.linalg.norm(points.astype(np.float64) - point, axis=1)))


@pytest.mark.parametrize("space,dim", [("features", 5), ("embedding", 16)])
def test_action_space_and_nearest_track(
    picker: TrackPickerEnv, catalog: Catalog, space: Any, dim: int
) -> None:
    env = ContinuousTrackAction(picker, space=space)
    assert env.action_space == spaces.Box(-1.0, 1.0, shape=(dim,), dtype=np.float32)
    points = catalog.features() if space == "features" else catalog.unit_embeddings
    assert np.all(np.abs(points) <= 1.0)  # every track is reachable inside the Box
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for point in rng.uniform(-1, 1, (50, dim)).astype(np.float32):
        _, _, _, truncated, info = env.step(point)
        expected = brute_force_nearest(points, point)
        assert env.last_track == info["track_id"] == expected == int(picker.received[-1])
        if truncated:
            env.reset()


@pytest.mark.parametrize("space", ["features", "embedding"])
def test_a_tracks_own_point_maps_to_it(
    picker: TrackPickerEnv, catalog: Catalog, space: Any
) -> None:
    env = ContinuousTrackAction(picker, space=space)
    env.reset(seed=0)
    for track in range(N_TRACKS):
        assert env.action(env.points[track]) == track
    assert env.action(catalog.features()[4].tolist() if space == "features" else env.points[4]) == 4


def test_k_nearest_plays_the_least_recently_played(picker: TrackPickerEnv) -> None:
    env = ContinuousTrackAction(picker, k=3)
    point = env.points[11]
    three = env.nearest_tracks(point).tolist()
    assert three[0] == 11 and len(three) == 3
    env.reset(seed=0)
    played = [env.step(point)[4]["track_id"] for _ in range(7)]
    # Nearest first while unplayed, then the one played longest ago: a fixed cycle.
    assert played == [*three, *three, three[0]]
    env.reset(seed=0)
    assert env.last_track is None
    assert env.step(point)[4]["track_id"] == 11  # the episode's plays are forgotten
    assert ContinuousTrackAction(TrackPickerEnv(picker.catalog)).nearest_tracks(point).tolist() == [
        11
    ]


def test_track_id_added_when_the_wrapped_env_does_not_report_it(catalog: Catalog) -> None:
    env = ContinuousTrackAction(TrackPickerEnv(catalog, report_track=False))
    env.reset(seed=0)
    *_, info = env.step(env.points[5])
    assert info["track_id"] == 5 == env.last_track


def test_rejects_an_env_that_is_not_a_track_picker(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="Discrete"):
        ContinuousTrackAction(BoxActionEnv(catalog))
    other = CatalogConfig(n_tracks=N_TRACKS + 1, seed=0).create()
    with pytest.raises(ValueError, match="does not index"):
        ContinuousTrackAction(TrackPickerEnv(catalog), catalog=other)
    with pytest.raises(ValueError, match="catalog"):
        ContinuousTrackAction(gymnasium.make("CartPole-v1"))
    with pytest.raises(ValueError, match="space"):
        ContinuousTrackAction(TrackPickerEnv(catalog), space="genre")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must"):
        ContinuousTrackAction(TrackPickerEnv(catalog), k=0)
    with pytest.raises(ValueError, match="k must"):
        ContinuousTrackAction(TrackPickerEnv(catalog), k=N_TRACKS + 1)


def test_catalog_argument_for_envs_without_one(catalog: Catalog) -> None:
    bare = TrackPickerEnv(catalog, expose_catalog=False)
    with pytest.raises(ValueError, match="catalog"):
        ContinuousTrackAction(bare)
    env = ContinuousTrackAction(bare, catalog=catalog)
    env.reset(seed=0)
    assert env.step(catalog.features()[2])[4]["track_id"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(4),
        np.zeros((1, 5)),
        np.array([0, np.nan, 0, 0, 0]),
        np.array([np.inf, 0, 0, 0, 0]),
        "x",
        None,
    ],
)
def test_invalid_actions_raise_value_error(picker: TrackPickerEnv, bad: Any) -> None:
    env = ContinuousTrackAction(picker)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(bad)
    assert picker.received == []


def test_points_outside_the_box_are_accepted(picker: TrackPickerEnv) -> None:
    env = ContinuousTrackAction(picker)
    env.reset(seed=0)
    far = np.array([5.0, 5.0, 5.0, 5.0, 5.0], dtype=np.float32)
    assert env.step(far)[4]["track_id"] == brute_force_nearest(env.points, far)


def test_sb3_check_env_passes_without_warnings(picker: TrackPickerEnv) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(ContinuousTrackAction(picker), warn=True)
        sb3_check_env(
            ContinuousTrackAction(TrackPickerEnv(picker.catalog), space="embedding", k=4), warn=True
        )


@pytest.fixture()
def one_torch_thread() -> Iterator[None]:
    """Tiny nets on a busy 2-core machine: one intra-op thread is ~50x faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_torch_thread")
def test_ddpg_learns_on_the_wrapped_stand_in(catalog: Catalog) -> None:
    env = ContinuousTrackAction(TrackPickerEnv(catalog), k=2)
    model = DDPG("MlpPolicy", env, learning_starts=16, batch_size=16, seed=0, device="cpu")
    model.learn(64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action)
    *_, info = env.step(action)
    assert 0 <= info["track_id"] < N_TRACKS


def test_docstring_example_runs() -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(wrappers, "wrappers"):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.slow
def test_smoke_on_the_calm_world_model_env() -> None:
    env = ContinuousTrackAction(gymnasium.make("AMRS-Calm-v0"), k=3)
    assert env.catalog is env.unwrapped.catalog  # type: ignore[attr-defined]
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert info["track_id"] == env.last_track
        assert 0 <= env.last_track < env.catalog.n_tracks
        assert np.isfinite(reward)


def test_scaled_observation_maps_bounds_to_unit_box() -> None:
    env = ScaledObservation(FeatureTargetEnv(dims=2, levels=5))
    obs, _ = env.reset(seed=0, options={"target": (4, 4)})
    assert obs.tolist() == [0.0, 0.0, 0.0, -1.0]  # centre, closer 0, rating 0
    assert env.observation_space.contains(obs)


def test_gymnasium_check_env_passes_on_the_wrapped_listening_env() -> None:
    from gymnasium.utils.env_checker import check_env

    for wrapped in (
        ContinuousTrackAction(gymnasium.make("AMRS-Calm-v0", episode_length=3)),
        ScaledObservation(gymnasium.make("AMRS-Calm-v0", episode_length=3)),
    ):
        check_env(wrapped, skip_render_check=True)  # the wrapper can be re-created from its spec
        assert wrapped.spec is not None and wrapped.spec.additional_wrappers
