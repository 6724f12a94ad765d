"""The production ("logging") policy: the realistic recommender whose choices fill the logs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from amrs_gym.catalog import Catalog
from amrs_gym.reference_world.population import Population
from amrs_gym.reference_world.world import _TARGETS, SessionState
from amrs_gym.sampling import sample_categorical
from amrs_gym.validation import check_fields
from amrs_gym.world_model.numpy_ops import single_threaded_blas


@dataclass(frozen=True)
class ProductionPolicyConfig:
    """A mode-aware softmax recommender: popular, on-mode, roughly to taste, with continuity."""

    temperature: float = field(default=0.5, metadata={"min": 1e-06})
    """Softmax temperature over the catalog's scores."""
    popularity_weight: float = 1.5
    """Score per unit of popularity."""
    mode_fit_weight: float = 1.5
    """Score lost per unit of distance between the track's affect and the mode's target."""
    taste_weight: float = 1.0
    """Score per unit of cosine similarity to the policy's (noisy) estimate of the listener's
    taste."""
    taste_noise: float = field(default=1.0, metadata={"min": 0})
    """Noise of that estimate: production knows its listeners only roughly."""
    continuity_weight: float = 0.8
    """Score per unit of similarity to the previous track if it was not skipped (negated if it
    was)."""
    repeat_penalty: float = 1.0
    """Score lost by a track already played in the session."""
    exploration: float = field(default=0.0, metadata={"min": 0.0, "max": 1.0})
    """Share of plays drawn uniformly from the catalog (epsilon-greedy exploration). 0 (the
    default world): production plays only by its scores, so its logs are confounded by its taste
    estimates; logs that explore show the world model what production would not have played
    (README, "What exploration in the logs buys")."""
    seed: int = field(default=1, metadata={"min": 0})
    """Seed of the taste estimates."""

    def __post_init__(self) -> None:
        check_fields(self)

    def create(self, catalog: Catalog, population: Population) -> ProductionPolicy:
        """Build the policy for a catalog and population."""
        return ProductionPolicy(catalog, population, self)


class ProductionPolicy:
    """Stochastic, mode-aware recommender; `sample` returns tracks and their propensities."""

    def __init__(self, catalog: Catalog, population: Population, config: ProductionPolicyConfig):
        self.config = config
        self._unit = catalog.unit_embeddings
        rng = np.random.default_rng(config.seed)
        estimate = population.taste + config.taste_noise * rng.normal(
            0, 1, population.taste.shape
        ) / np.sqrt(catalog.embedding_dim)
        self._taste_estimate = estimate / np.linalg.norm(estimate, axis=1, keepdims=True)
        affect = np.stack([catalog.valence, catalog.arousal], axis=1)
        mode_fit = np.linalg.norm(affect[None] - _TARGETS[:, None], axis=2)  # (4, n_tracks)
        self._static = (
            config.popularity_weight * catalog.popularity[None] - config.mode_fit_weight * mode_fit
        )

    @property
    def taste_estimate(self) -> np.ndarray:
        """Its noisy, unit-length estimate of every listener's taste, (listeners, dim)."""
        estimate: np.ndarray = self._taste_estimate
        return estimate

    def probabilities(self, state: SessionState, last_skipped: np.ndarray) -> np.ndarray:
        """Action probabilities over the catalog for every session, shape (batch, n_tracks)."""
        return self.track_probabilities(
            state.listener, state.mode, state.history, state.position, last_skipped
        )

    def track_probabilities(
        self,
        listener: np.ndarray,
        mode: np.ndarray,
        history: np.ndarray,
        position: np.ndarray,
        last_skipped: np.ndarray,
    ) -> np.ndarray:
        """Action probabilities over the catalog (batch, n_tracks) from what the policy reads.

        Each session's listener, mode index, played tracks (batch, >= position, -1 padded), how many
        it has played, and whether the last one was skipped. It never reads the listener's affect.
        """
        cfg = self.config
        rows = np.arange(len(listener))
        if history.shape[1] == 0:
            history = np.full((len(listener), 1), -1, dtype=np.int64)
        last = history[rows, np.maximum(position - 1, 0)]
        with single_threaded_blas(len(listener)):  # (batch, dim) @ (dim, catalog), twice
            taste = self._taste_estimate[listener] @ self._unit.T
            continuity = self._unit[np.maximum(last, 0)] @ self._unit.T
        scores = self._static[mode] + cfg.taste_weight * taste
        sign = np.where(last_skipped, -1.0, 1.0) * (position > 0)
        scores += (cfg.continuity_weight * sign)[:, None] * continuity
        played = history[:, : max(1, int(position.max(initial=0)))]
        valid = played >= 0
        np.add.at(
            scores,
            (np.repeat(rows, played.shape[1])[valid.ravel()], played[valid]),
            -cfg.repeat_penalty,
        )
        scores /= cfg.temperature
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        result: np.ndarray = probs / probs.sum(axis=1, keepdims=True)
        if cfg.exploration:
            result *= 1.0 - cfg.exploration
            result += cfg.exploration / result.shape[1]
        return result

    def sample(
        self, state: SessionState, last_skipped: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one track per session; returns (track ids, their probabilities)."""
        probs = self.probabilities(state, last_skipped)
        tracks = sample_categorical(probs, rng.random(state.batch_size))
        return tracks, probs[np.arange(state.batch_size), tracks]
