import numpy as np
import torch

from amrs_gym.world_model.training import masked_losses, total_loss
from tests.world_model.conftest import make_model


def test_batch_has_previous_session_context(batch) -> None:
    assert (batch.segment == 0).any(), (
        "listeners with several sessions get their previous session as context"
    )
    assert not (batch.scored & (batch.segment == 0)).any(), "previous-session rows are never scored"


def test_missing_labels_contribute_nothing(small_dataset, batch) -> None:
    model = make_model(small_dataset.catalog)
    with torch.no_grad():
        prediction = model(batch)
    losses = masked_losses(prediction, batch)
    # change the predictions where no rating/report exists: the like/valence losses must not move
    no_rating = torch.isnan(batch.rating)
    no_report = torch.isnan(batch.valence)
    prediction.like_logit = torch.where(
        no_rating, prediction.like_logit + 5.0, prediction.like_logit
    )
    prediction.valence_mean = torch.where(
        no_report, -prediction.valence_mean, prediction.valence_mean
    )
    changed = masked_losses(prediction, batch)
    torch.testing.assert_close(losses["like"], changed["like"])
    torch.testing.assert_close(losses["valence"], changed["valence"])
    # and where labels exist they do count
    prediction.like_logit = prediction.like_logit + 5.0 * (~no_rating)
    assert not torch.isclose(masked_losses(prediction, batch)["like"], losses["like"])


def test_all_missing_labels_give_zero_not_nan(small_dataset, batch) -> None:
    model = make_model(small_dataset.catalog)
    empty = batch.index(slice(0, 4))
    empty.rating = torch.full_like(empty.rating, float("nan"))
    empty.valence = torch.full_like(empty.valence, float("nan"))
    losses = masked_losses(model(empty), empty)
    assert losses["like"].item() == 0.0 and losses["valence"].item() == 0.0
    assert torch.isfinite(total_loss(losses))


def test_history_free_ignores_history(small_dataset, batch) -> None:
    model = make_model(small_dataset.catalog, use_history=False)
    shuffled = batch.index(slice(None))
    shuffled.feedback = torch.flip(batch.feedback, dims=[1])
    with torch.no_grad():
        a, b = model(batch), model(shuffled)
    torch.testing.assert_close(a.skip_logit, b.skip_logit)
    assert np.isfinite(a.valence_mean.numpy()).all()
