"""The listener population of the reference world: latent traits drawn once from a seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from amrs_gym.catalog import Catalog
from amrs_gym.modes import COHORTS
from amrs_gym.validation import check_fields


@dataclass(frozen=True)
class PopulationConfig:
    """Parameters of the listener population (see data/README.md for the equations)."""

    n_listeners: int = field(default=2000, metadata={"min": 1})
    """Number of listeners."""
    clinical_fraction: float = field(default=0.3, metadata={"min": 0, "max": 1})
    """Share of listeners in the `clinical` cohort (the rest are `consumer`)."""
    taste_noise: float = field(default=0.9, metadata={"min": 0})
    """Spread of a listener's taste around the track it is anchored on (embedding units)."""
    seed: int = field(default=0, metadata={"min": 0})
    """Seed of the generator."""

    def __post_init__(self) -> None:
        check_fields(self)

    def create(self, catalog: Catalog) -> Population:
        """Draw every listener's latent traits."""
        if self.n_listeners < 1 or not 0.0 <= self.clinical_fraction <= 1.0:
            raise ValueError("need n_listeners >= 1 and clinical_fraction in [0, 1]")
        rng = np.random.default_rng(self.seed)
        n = self.n_listeners
        clinical = rng.random(n) < self.clinical_fraction
        anchors = rng.integers(0, catalog.n_tracks, n)
        unit = catalog.unit_embeddings
        taste = unit[anchors] + self.taste_noise * rng.normal(
            0, 1, (n, catalog.embedding_dim)
        ) / np.sqrt(catalog.embedding_dim)
        taste /= np.linalg.norm(taste, axis=1, keepdims=True)

        def by_cohort(consumer: np.ndarray, clinic: np.ndarray) -> np.ndarray:
            return np.where(clinical, clinic, consumer)

        return Population(
            cohort=clinical.astype(np.int64),
            taste=taste.astype(np.float32),
            baseline_valence=np.clip(
                by_cohort(rng.normal(0.1, 0.25, n), rng.normal(-0.15, 0.25, n)), -0.9, 0.9
            ),
            baseline_arousal=np.clip(
                by_cohort(rng.normal(0.05, 0.25, n), rng.normal(-0.05, 0.25, n)), -0.9, 0.9
            ),
            sensitivity=rng.lognormal(0.0, 0.3, n),
            engagement_bias=rng.normal(0.0, 0.4, n),
            fatigue=rng.uniform(0.5, 1.5, n),
            skip_bias=by_cohort(rng.normal(0.0, 0.4, n), rng.normal(-2.2, 0.4, n)),
            rating_propensity=by_cohort(rng.beta(2.0, 6.0, n), rng.beta(2.0, 12.0, n)),
            report_propensity=by_cohort(rng.beta(3.0, 7.0, n), rng.beta(2.0, 12.0, n)),
            report_noise=by_cohort(rng.uniform(0.05, 0.12, n), rng.uniform(0.15, 0.3, n)),
        )


@dataclass(frozen=True, eq=False)
class Population:
    """Latent traits, one entry per listener id. None of this is ever logged."""

    cohort: np.ndarray  # (n,) 0 consumer, 1 clinical
    taste: np.ndarray  # (n, embedding_dim) unit vectors
    baseline_valence: np.ndarray  # (n,) resting valence
    baseline_arousal: np.ndarray  # (n,) resting arousal
    sensitivity: np.ndarray  # (n,) gain of the music's pull on affect
    engagement_bias: np.ndarray  # (n,) logit offset of enjoyment
    fatigue: np.ndarray  # (n,) weight of repetition / sameness penalties
    skip_bias: np.ndarray  # (n,) logit offset of skipping (clinical: strongly negative)
    rating_propensity: np.ndarray  # (n,) probability of rating a track
    report_propensity: np.ndarray  # (n,) probability of a self-report after a track
    report_noise: np.ndarray  # (n,) std of self-report noise

    @property
    def n_listeners(self) -> int:
        """Number of listeners."""
        return len(self.cohort)

    def cohort_name(self, listener_id: int) -> str:
        """`consumer` or `clinical`."""
        return COHORTS[int(self.cohort[listener_id])]
