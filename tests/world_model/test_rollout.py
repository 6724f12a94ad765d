import numpy as np
import pytest
import torch

from amrs_gym.world_model.features import sessions_to_tensors
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.rollout import NumpyRollout


@pytest.mark.parametrize("use_affect", [True, False])
def test_numpy_rollout_matches_the_torch_model(small_dataset, use_affect: bool) -> None:
    logs = small_dataset.logs
    batch = sessions_to_tensors(logs[logs["listener_id"].isin(logs["listener_id"].unique()[:10])])
    torch.manual_seed(1)
    model = WorldModel(WorldModelConfig(use_affect=use_affect), torch.as_tensor(small_dataset.catalog.embeddings)).eval()
    fast = NumpyRollout.from_model(model)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        slow_state = model.start(batch.mode, batch.cohort, batch.start)
        fast_state = fast.start(batch.mode.numpy(), batch.cohort.numpy(), batch.start.numpy())
        for t in range(int(batch.valid.all(0).sum())):
            candidates = torch.as_tensor(rng.integers(0, model.n_tracks, (len(batch), 5)))
            candidates[:, 0] = batch.track[:, t]
            slow = model.predict(slow_state, candidates)
            quick = fast.predict(fast_state, candidates.numpy())
            np.testing.assert_allclose(quick.skip_probability, slow.skip_probability.numpy(), atol=2e-5)
            np.testing.assert_allclose(quick.like_probability, slow.like_probability.numpy(), atol=2e-5)
            np.testing.assert_allclose(quick.valence_mean, slow.valence_mean.numpy(), atol=2e-5)
            np.testing.assert_allclose(quick.arousal_std, slow.arousal_log_std.exp().numpy(), atol=2e-5)
            np.testing.assert_allclose(quick.expected_engagement(), slow.expected_engagement().numpy(), atol=2e-5)
            np.testing.assert_allclose(fast_state.last_hidden, slow_state.last_hidden.numpy(), atol=2e-5)
            previous = torch.where(batch.segment[:, t] == 0, batch.position[:, t], -1)
            model.observe(slow_state, batch.track[:, t], batch.feedback[:, t], previous_position=previous)
            fast.observe(fast_state, batch.track[:, t].numpy(), batch.feedback[:, t].numpy(), previous.numpy())


def test_numpy_rollout_refuses_models_it_cannot_mirror(small_dataset) -> None:
    features = torch.as_tensor(small_dataset.catalog.embeddings)
    with pytest.raises(ValueError, match="transformer"):
        NumpyRollout.from_model(WorldModel(WorldModelConfig(encoder="gru"), features))
