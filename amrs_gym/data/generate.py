"""Generate logged listening sessions from the reference world under the production policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from amrs_gym.catalog import Catalog, CatalogConfig
from amrs_gym.modes import COHORTS, MODES
from amrs_gym.reference_world import (
    PopulationConfig,
    ProductionPolicy,
    ProductionPolicyConfig,
    ReferenceWorld,
    WorldConfig,
)
from amrs_gym.validation import check_fields

#: probability of each mode (energize, focus, calm, sleep) for a session, by cohort.
MODE_PROBABILITIES = {"consumer": (0.3, 0.3, 0.2, 0.2), "clinical": (0.15, 0.15, 0.4, 0.3)}

LATENT_COLUMNS = (
    "true_valence",
    "true_arousal",
    "expected_engagement",
    "skip_probability",
    "like_probability",
    "true_valence_before",
    "true_arousal_before",
)


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that defines a logged dataset; one `seed` drives every random draw."""

    n_listeners: int = field(default=2000, metadata={"min": 1})
    """Number of listeners; each has at least one session."""
    n_sessions: int = field(default=10000, metadata={"min": 1})
    """Number of sessions (>= n_listeners)."""
    min_length: int = field(default=15, metadata={"min": 1})
    """Fewest tracks in a session."""
    max_length: int = field(default=30, metadata={"min": 1})
    """Most tracks in a session."""
    seed: int = field(default=0, metadata={"min": 0})
    """Master seed: catalog uses seed, population seed+1, production policy seed+2, sessions
    seed+3."""
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    """Synthetic catalog parameters (its own seed is replaced by `seed`)."""
    population: PopulationConfig = field(default_factory=PopulationConfig)
    """Population parameters (n_listeners and seed are replaced)."""
    world: WorldConfig = field(default_factory=WorldConfig)
    """Response and affect dynamics."""
    policy: ProductionPolicyConfig = field(default_factory=ProductionPolicyConfig)
    """Production policy parameters (seed is replaced)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.n_sessions < self.n_listeners:
            raise ValueError(
                f"n_sessions ({self.n_sessions}) must be >= n_listeners ({self.n_listeners}): "
                "every listener has a session"
            )
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length ({self.min_length}) must be <= max_length ({self.max_length})"
            )

    def resolved(self) -> DatasetConfig:
        """This config with the seeds and listener count it imposes written into its parts.

        What it really builds, as its JSON should record it.
        """
        return replace(
            self,
            catalog=replace(self.catalog, seed=self.seed),
            population=replace(self.population, n_listeners=self.n_listeners, seed=self.seed + 1),
            policy=replace(self.policy, seed=self.seed + 2),
        )

    def build_world(
        self, catalog: Catalog | None = None
    ) -> tuple[ReferenceWorld, ProductionPolicy]:
        """The reference world and production policy this config describes."""
        parts = self.resolved()
        catalog = catalog or parts.catalog.create()
        population = parts.population.create(catalog)
        world = ReferenceWorld(catalog, population, self.world)
        return world, parts.policy.create(catalog, population)

    def create(self, catalog: Catalog | None = None, progress: bool = False) -> LoggedDataset:
        """Generate the logs (pass `catalog` to use a real annotated catalog instead)."""
        world, policy = self.build_world(catalog)
        logs, latent = _simulate(
            self, world, policy, np.random.default_rng(self.seed + 3), progress
        )
        return LoggedDataset(logs=logs, latent=latent, world=world, policy=policy, config=self)


@dataclass(frozen=True, eq=False)
class LoggedDataset:
    """Logs plus the hidden truth behind them (row-aligned), and the world that made them."""

    logs: pd.DataFrame
    latent: pd.DataFrame
    world: ReferenceWorld
    policy: ProductionPolicy
    config: DatasetConfig

    @property
    def catalog(self) -> Catalog:
        """The catalog the logs index into."""
        return self.world.catalog

    @cached_property
    def summary(self) -> str:
        """A one-line description."""
        logs = self.logs
        return (
            f"{len(logs):,} rows, {logs.session_id.nunique():,} sessions, "
            f"{logs.listener_id.nunique():,} listeners, {self.catalog.n_tracks:,} tracks"
        )


def _simulate(
    config: DatasetConfig,
    world: ReferenceWorld,
    policy: ProductionPolicy,
    rng: np.random.Generator,
    progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every session in one batch, step by step."""
    n_sessions = config.n_sessions
    listener = np.concatenate(
        [
            np.arange(config.n_listeners),
            rng.integers(0, config.n_listeners, n_sessions - config.n_listeners),
        ]
    )
    rng.shuffle(listener)
    cohort = world.population.cohort[listener]
    mode = np.empty(n_sessions, dtype=np.int64)
    for index, cohort_name in enumerate(COHORTS):
        members = cohort == index
        mode[members] = rng.choice(
            len(MODES), size=int(members.sum()), p=MODE_PROBABILITIES[cohort_name]
        )
    length = rng.integers(config.min_length, config.max_length + 1, n_sessions)

    state = world.start(listener, mode, rng, max_len=config.max_length)
    valence_start, arousal_start = world.report(state, rng)
    last_skipped = np.zeros(n_sessions, dtype=bool)
    columns: dict[str, list[np.ndarray]] = {}

    def add(name: str, values: np.ndarray) -> None:
        columns.setdefault(name, []).append(values)

    for position in tqdm(
        range(config.max_length), desc="generating sessions", disable=not progress
    ):
        before_valence, before_arousal = state.valence.copy(), state.arousal.copy()
        track, propensity = policy.sample(state, last_skipped, rng)
        outcome = world.step(state, track, rng)
        last_skipped = outcome.skipped
        active = position < length
        for name, values in (
            ("session_id", np.arange(n_sessions)),
            ("position", np.full(n_sessions, position)),
            ("track_id", track),
            ("propensity", propensity),
            ("engagement", outcome.engagement),
            ("skipped", outcome.skipped),
            ("rating", outcome.rating),
            ("valence_report", outcome.valence_report),
            ("arousal_report", outcome.arousal_report),
            ("true_valence", outcome.valence),
            ("true_arousal", outcome.arousal),
            ("expected_engagement", outcome.expected_engagement),
            ("skip_probability", outcome.skip_probability),
            ("like_probability", outcome.like_probability),
            ("true_valence_before", before_valence),
            ("true_arousal_before", before_arousal),
        ):
            add(name, values[active])

    rows = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
    session = rows["session_id"].to_numpy()
    rows.insert(0, "listener_id", listener[session])
    rows.insert(2, "mode", pd.Categorical.from_codes(mode[session], MODES).astype(str))
    rows.insert(3, "cohort", pd.Categorical.from_codes(cohort[session], COHORTS).astype(str))
    rows["valence_start"] = valence_start[session]
    rows["arousal_start"] = arousal_start[session]
    rows = rows.sort_values(["session_id", "position"], kind="stable").reset_index(drop=True)
    latent = rows[list(LATENT_COLUMNS)].copy()
    return rows.drop(columns=list(LATENT_COLUMNS)), latent
