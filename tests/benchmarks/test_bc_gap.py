"""benchmarks/bc_gap.py: production's likelihood is recomputed exactly, and its variants differ."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from agents.bc import BCConfig, validation_rows
from agents.data import TrainingData
from amrs_gym.reference_world import ProductionPolicy
from benchmarks.bc_gap import _with_profile, production_nll


def test_production_nll_is_the_logged_propensities_and_a_term_switched_off_explains_less() -> None:
    data = TrainingData.default("calm", quick=True)
    steps, bundle = data.replay, data.bundle
    assert bundle is not None
    production = bundle.production_policy()
    listener = data.logs.groupby("session_id")["listener_id"].first().loc[steps.session_id]
    rows = validation_rows(steps.session_id, BCConfig())
    assert 0 < rows.sum() < len(rows)
    config = replace(production.config, taste_weight=0.0)
    blind = ProductionPolicy(bundle.catalog, bundle.reference_world().population, config)
    nlls = production_nll(
        {"production": production, "blind": blind}, steps, rows, listener.to_numpy(), "calm"
    )
    nll = nlls["production"]
    assert np.isclose(nll, -np.log(steps.propensities[rows]).mean(), rtol=1e-6)
    assert nlls["blind"] > nll + 0.02
    zeroed = _with_profile(data, None).replay.observations
    assert (zeroed[:, -data.catalog.embedding_dim :] == 0).all()
    assert np.abs(steps.observations[:, -data.catalog.embedding_dim :]).sum() > 0  # untouched
