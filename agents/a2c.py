"""`a2c`.

Stable-baselines3 A2C choosing catalog tracks (`Discrete(n_tracks)`), trained in the world model.

The policy is a categorical distribution over the whole catalog, learned online from episodes in
`AMRS-<Mode>-v0` envs that start from the training listeners' histories. It acts by sampling
from that distribution (its mode when `deterministic`), so it also exposes `action_probabilities`
for the off-policy estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from stable_baselines3 import A2C
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.adapters.sb3 import SB3DiscreteAgent, net_arch
from agents.base import preset
from amrs_gym.reward import DEFAULT_PESSIMISM


@dataclass(frozen=True)
class A2CConfig:
    """A2C hyper-parameters (SB3's names where they exist)."""

    seed: int = 0
    """Seeds the network initialisation, the envs and the action sampling."""
    pessimism: float = 0.0
    """Train in the bundle's ensemble with reward = utility - pessimism * the members'
    disagreement on it (0: the single world model)."""
    n_envs: int = 4
    """World-model envs stepped together; each update uses `n_envs * n_steps` transitions."""
    total_timesteps: int = 45_000
    """Env steps of a full fit (about a minute for one mode on one CPU core)."""
    quick_timesteps: int = 256
    """Env steps when the training data is `quick` (tests)."""
    n_steps: int = 10
    """Steps per env before each update (half an episode)."""
    learning_rate: float = 7e-4
    gamma: float = 0.95
    """Discount: an episode has 20 steps, so the affect goal a few tracks ahead still counts."""
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    """Entropy bonus, keeping the 1,200-way policy from collapsing onto one track early."""
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 128
    """Width of the shared hidden layers of the policy and value networks."""
    layers: int = 2
    """Number of hidden layers."""


class A2CAgent(SB3DiscreteAgent):
    """Advantage actor-critic over the catalog, trained in the world-model env."""

    name: ClassVar[str] = "a2c"
    config_type: ClassVar[type] = A2CConfig

    def _new_model(self, env: DummyVecEnv) -> A2C:
        config: A2CConfig = self.config
        return A2C(
            "MlpPolicy",
            env,
            learning_rate=config.learning_rate,
            n_steps=config.n_steps,
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            ent_coef=config.ent_coef,
            vf_coef=config.vf_coef,
            max_grad_norm=config.max_grad_norm,
            policy_kwargs={"net_arch": net_arch(config.hidden, config.layers)},
            seed=config.seed,
            device="cpu",
            verbose=0,
        )


PessimisticA2CAgent = preset(
    A2CAgent,
    "a2c_pessimistic",
    "A2C trained in `AMRS-<Mode>-Pessimistic-v0` (lambda = `DEFAULT_PESSIMISM`).",
    pessimism=DEFAULT_PESSIMISM,
)
