"""The reference world: a seeded listener population, a catalog and their dynamics (the truth)."""

from amrs_gym.reference_world.population import Population, PopulationConfig
from amrs_gym.reference_world.production_policy import ProductionPolicy, ProductionPolicyConfig
from amrs_gym.reference_world.world import Outcome, ReferenceWorld, SessionState, WorldConfig

__all__ = [
    "Outcome",
    "Population",
    "PopulationConfig",
    "ProductionPolicy",
    "ProductionPolicyConfig",
    "ReferenceWorld",
    "SessionState",
    "WorldConfig",
]
