"""The ensemble: its batched path equals K separate members, and its mixture is a distribution."""

import numpy as np
import pytest
import torch

from amrs_gym.modes import mode_index
from amrs_gym.simulator.starts import start_batch, start_sessions_for
from amrs_gym.world_model.checkpoint import CheckpointError, load_ensemble, save_checkpoint
from amrs_gym.world_model.model import WorldModel, WorldModelConfig
from amrs_gym.world_model.protocol import ListenerModel, disagreement, mixture
from amrs_gym.world_model.rollout import NumpyRollout
from tests.world_model.test_rollout import random_feedback


def members(catalog, count: int, **config) -> list[WorldModel]:
    """`count` untrained models of one architecture, each from its own seed."""
    features = torch.as_tensor(catalog.embeddings)
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        models.append(WorldModel(WorldModelConfig(**config), features).eval())
    return models


def states(models: list[WorldModel]) -> list[dict[str, np.ndarray]]:
    return [{k: v.numpy() for k, v in m.state_dict().items()} for m in models]


def test_the_batched_ensemble_equals_its_members_run_one_by_one(small_dataset) -> None:
    models = members(small_dataset.catalog, 3)
    features = small_dataset.catalog.embeddings
    ensemble = NumpyRollout.ensemble(models[0].config, states(models), features)
    singles = [NumpyRollout.from_model(m) for m in models]
    assert isinstance(ensemble, ListenerModel) and ensemble.members == 3
    picks = start_sessions_for(small_dataset.logs, "sleep", "mixed")[:10]
    reports = np.stack([s.start_report for s in picks])
    starts = start_batch(picks, mode_index("sleep"), history_length=20, cold=False, reports=reports)
    together, apart = ensemble.start(starts), [m.start(starts) for m in singles]
    rng = np.random.default_rng(3)
    for _ in range(6):
        candidates = rng.integers(0, ensemble.n_tracks, (len(picks), 4))
        joint = ensemble.predict(together, candidates)
        assert joint.members is not None
        for index, (single, state) in enumerate(zip(singles, apart, strict=True)):
            alone = single.predict(state, candidates)
            for name in ("skip_probability", "engagement_probabilities", "valence_std"):
                np.testing.assert_array_equal(
                    getattr(joint.members, name)[index], getattr(alone, name), err_msg=name
                )
        np.testing.assert_array_equal(ensemble.context(together), singles[0].context(apart[0]))
        played, feedback = candidates[:, 0], random_feedback(rng, len(picks))
        ensemble.observe(together, played, feedback)
        for single, state in zip(singles, apart, strict=True):
            single.observe(state, played, feedback)
    copy = ensemble.select(together, np.array([2, 2]), compact=True)
    fresh = ensemble.select(together, np.array([0, 1]))
    ensemble.assign(fresh, np.array([0, 1]), copy)
    np.testing.assert_array_equal(
        ensemble.predict(fresh, candidates[[2, 2]]).skip_probability,
        ensemble.predict(together, candidates).skip_probability[[2, 2]],
    )


def test_a_member_alone_predicts_what_it_predicts_in_the_ensemble(small_dataset) -> None:
    models = members(small_dataset.catalog, 3)
    ensemble = NumpyRollout.ensemble(
        models[0].config, states(models), small_dataset.catalog.embeddings
    )
    picks = start_sessions_for(small_dataset.logs, "focus", "mixed")[:5]
    reports = np.stack([s.start_report for s in picks])
    starts = start_batch(picks, mode_index("focus"), 20, cold=False, reports=reports)
    state = ensemble.start(starts)
    ensemble.observe(state, np.arange(5), random_feedback(np.random.default_rng(0), 5))
    candidates = np.arange(20).reshape(5, 4)
    joint = ensemble.predict(state, candidates).members
    assert joint is not None
    for index in range(3):
        alone = ensemble.member(index).predict(state.member(index), candidates)
        assert alone.members is None
        for name in ("skip_probability", "engagement_probabilities", "arousal_mean"):
            np.testing.assert_array_equal(
                getattr(alone, name), getattr(joint, name)[index], err_msg=name
            )
    with pytest.raises(ValueError, match=r"member must be in \[0, 3\), got 3"):
        ensemble.member(3)


def test_one_member_is_the_single_model_bit_for_bit(small_dataset) -> None:
    (model,) = members(small_dataset.catalog, 1)
    alone = NumpyRollout.from_model(model)
    one = NumpyRollout.ensemble(model.config, states([model]), small_dataset.catalog.embeddings)
    picks = start_sessions_for(small_dataset.logs, "calm", "mixed")[:6]
    reports = np.stack([s.start_report for s in picks])
    starts = start_batch(picks, mode_index("calm"), 20, cold=False, reports=reports)
    candidates = np.arange(18).reshape(6, 3)
    a, b = (
        alone.predict(alone.start(starts), candidates),
        one.predict(one.start(starts), candidates),
    )
    assert a.members is None and b.members is None
    np.testing.assert_array_equal(a.engagement_probabilities, b.engagement_probabilities)


def test_the_mixture_is_a_distribution_whose_means_are_the_members_means() -> None:
    rng = np.random.default_rng(0)
    shape = (4, 3, 2)
    engagement = rng.random((*shape, 2, 10))
    from amrs_gym.world_model.protocol import StepPrediction

    stacked = StepPrediction(
        skip_probability=rng.random(shape),
        engagement_probabilities=engagement / engagement.sum(-1, keepdims=True),
        like_probability=rng.random(shape),
        valence_mean=rng.uniform(-1, 1, shape),
        valence_std=rng.uniform(0.05, 0.3, shape),
        arousal_mean=rng.uniform(-1, 1, shape),
        arousal_std=rng.uniform(0.05, 0.3, shape),
    )
    mixed = mixture(stacked)
    np.testing.assert_allclose(mixed.engagement_probabilities.sum(-1), 1.0)
    np.testing.assert_allclose(mixed.expected_engagement(), stacked.expected_engagement().mean(0))
    np.testing.assert_allclose(mixed.valence_mean, stacked.valence_mean.mean(0))
    # a Gaussian mixture's variance: the members' mean variance plus the variance of their means
    np.testing.assert_allclose(
        mixed.arousal_std**2,
        (stacked.arousal_std**2).mean(0) + stacked.arousal_mean.var(0),
        rtol=1e-9,
    )
    spread = disagreement(stacked)
    np.testing.assert_allclose(spread["like"], stacked.like_probability.std(0))
    same = mixture(
        StepPrediction(**{k: np.repeat(getattr(stacked, k)[:1], 3, 0) for k in spread_fields()})
    )
    np.testing.assert_allclose(same.skip_probability, stacked.skip_probability[0])
    np.testing.assert_allclose(same.engagement_probabilities, stacked.engagement_probabilities[0])


def spread_fields() -> tuple[str, ...]:
    from amrs_gym.world_model.protocol import PREDICTION_FIELDS

    return PREDICTION_FIELDS


def test_load_ensemble_refuses_members_of_another_architecture(small_dataset, tmp_path) -> None:
    fingerprint = small_dataset.catalog.fingerprint()
    (first,) = members(small_dataset.catalog, 1)
    (other,) = members(small_dataset.catalog, 1, d_model=32)
    save_checkpoint(tmp_path / "a.npz", first, fingerprint)
    save_checkpoint(tmp_path / "b.npz", other, fingerprint)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_ensemble([tmp_path / "a.npz", tmp_path / "b.npz"], small_dataset.catalog)
    assert load_ensemble([tmp_path / "a.npz"] * 2, small_dataset.catalog).members == 2
