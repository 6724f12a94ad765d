"""The world model's rollout paths behind the `ListenerModel` protocol.

The numpy fast path equals the torch module's own incremental path; training's candidate features
equal the rollouts'.
"""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from amrs_gym.modes import mode_index
from amrs_gym.simulator.starts import start_batch, start_sessions_for
from amrs_gym.world_model import numpy_ops
from amrs_gym.world_model.candidates import candidate_features
from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.protocol import Feedback, ListenerModel
from amrs_gym.world_model.rollout import NumpyRollout
from amrs_gym.world_model.torch_rollout import TorchRollout
from amrs_gym.world_model.track_features import model_track_features

POPULAR = WorldModelConfig(track_popularity=True)  # one more track feature


def random_feedback(rng: np.random.Generator, n: int) -> Feedback:
    rated, reported = rng.random(n) < 0.3, rng.random(n) < 0.2
    return Feedback(
        engagement=rng.random(n),
        skipped=rng.random(n) < 0.4,
        rating=np.where(rated, (rng.random(n) < 0.5).astype(float), np.nan),
        valence_report=np.where(reported, rng.uniform(-1, 1, n), np.nan),
        arousal_report=np.where(reported, rng.uniform(-1, 1, n), np.nan),
    )


@pytest.mark.parametrize(
    "config",
    [WorldModelConfig(), WorldModelConfig(use_affect=False), POPULAR],
    ids=["default", "no-affect", "popularity"],
)
def test_numpy_rollout_matches_the_torch_rollout(small_dataset, config) -> None:
    torch.manual_seed(1)
    features = model_track_features(small_dataset.catalog.embeddings, config, small_dataset.logs)
    model = WorldModel(config, features).eval()
    fast, slow = NumpyRollout.from_model(model), TorchRollout(model)
    assert isinstance(fast, ListenerModel) and isinstance(slow, ListenerModel)
    picks = start_sessions_for(small_dataset.logs, "calm", "mixed")[:12]
    reports = np.stack([s.start_report for s in picks])
    starts = start_batch(picks, mode_index("calm"), history_length=20, cold=False, reports=reports)
    assert (
        len(set(starts.history_length.tolist())) > 1
    )  # rows of different history lengths in one batch
    fast_state, slow_state = fast.start(starts), slow.start(starts)
    rng = np.random.default_rng(0)
    for step in range(8):
        np.testing.assert_allclose(fast.context(fast_state), slow.context(slow_state), atol=2e-5)
        # 12 x 40 candidates go through the output head in blocks that split a session's
        candidates = rng.integers(0, fast.n_tracks, (len(picks), 40 if step % 2 else 5))
        quick, reference = (
            fast.predict(fast_state, candidates),
            slow.predict(slow_state, candidates),
        )
        for name in ("skip_probability", "like_probability", "valence_mean", "arousal_std"):
            np.testing.assert_allclose(
                getattr(quick, name), getattr(reference, name), atol=2e-5, err_msg=name
            )
        np.testing.assert_allclose(
            quick.expected_engagement(), reference.expected_engagement(), atol=2e-5
        )
        played, feedback = candidates[:, 0], random_feedback(rng, len(picks))
        fast.observe(fast_state, played, feedback)
        slow.observe(slow_state, played, feedback)
    copy = fast.select(fast_state, np.array([3, 3]))
    np.testing.assert_array_equal(fast.context(copy), fast.context(fast_state)[[3, 3]])


def test_numpy_rollout_refuses_models_it_cannot_mirror(small_dataset) -> None:
    features = torch.as_tensor(small_dataset.catalog.embeddings)
    with pytest.raises(ValueError, match="transformer"):
        NumpyRollout.from_model(WorldModel(WorldModelConfig(encoder="gru"), features))


def test_training_candidate_features_equal_the_rollouts(small_dataset) -> None:
    logs = small_dataset.logs
    batch = sessions_to_tensors(
        logs[logs["listener_id"].isin(logs["listener_id"].unique()[:8])], previous_tracks=0
    )
    model = WorldModel(WorldModelConfig(), torch.as_tensor(small_dataset.catalog.embeddings))
    full = model._candidate_features_full(batch.track, batch.segment).numpy()  # (n, seq_len, 3)
    unit = model.track_unit.numpy()
    tracks = batch.track.numpy()
    for t in range(1, int(batch.valid.all(0).sum())):
        history = np.where(np.arange(tracks.shape[1]) < t, tracks, -1)
        step = candidate_features(history, np.full(len(tracks), t), tracks[:, t : t + 1], unit)[
            :, 0
        ]
        np.testing.assert_allclose(step, full[:, t], atol=1e-5, err_msg=f"row {t}")


def test_gelu_and_softmax_agree_on_both_kernels() -> None:
    # numpy's passes and torch's kernels, in one block and in several (a ragged last block)
    rng = np.random.default_rng(0)
    for shape in [(3, 5, 7), (3, numpy_ops.BLOCK // 7 + 5, 7)]:
        x = rng.normal(0, 3, shape).astype(np.float32)
        exact = torch.nn.functional.gelu(torch.from_numpy(x.astype(np.float64))).numpy()
        x[0, 0, 1:] = -np.inf  # masked slots
        exact_softmax = torch.softmax(torch.from_numpy(x.astype(np.float64)), -1).numpy()
        x[0, 0, 1:] = 0.0
        for vectorised in (False, True):
            np.testing.assert_allclose(numpy_ops.gelu(x, vectorised)[1:], exact[1:], atol=2e-6)
            x[0, 0, 1:] = -np.inf
            found = numpy_ops.softmax(x.copy(), vectorised)
            np.testing.assert_allclose(found, exact_softmax, atol=1e-6)
            assert found[0, 0, 0] == 1.0
            x[0, 0, 1:] = 0.0


def test_predicting_many_candidates_runs_blas_on_one_thread(small_dataset, monkeypatch) -> None:
    # a few sessions x the catalog: an idle BLAS thread would spin on another process's core
    model = WorldModel(WorldModelConfig(), torch.as_tensor(small_dataset.catalog.embeddings))
    fast = NumpyRollout.from_model(model.eval())
    picks = start_sessions_for(small_dataset.logs, "calm", "mixed")[:2]
    reports = np.stack([s.start_report for s in picks])
    state = fast.start(start_batch(picks, mode_index("calm"), 5, cold=False, reports=reports))
    seen: list[int] = []
    original = NumpyRollout._predict

    def spy(self, *args):  # type: ignore[no-untyped-def]
        # numpy's own BLAS, the one the switch controls (scipy's may load later, unswitched)
        blas = [i for i in numpy_ops._THREADPOOLS.info() if i["user_api"] == "blas"]
        seen.extend(i["num_threads"] for i in blas)
        return original(self, *args)

    monkeypatch.setattr(NumpyRollout, "_predict", spy)
    every = np.broadcast_to(np.arange(fast.n_tracks), (2, fast.n_tracks))
    with threadpool_limits(2, user_api="blas"):
        fast.predict(state, every)
    assert seen and set(seen) == {1}
