"""Shared adapter for stable-baselines3 agents (`a2c`, `ddpg`).

Training in the world-model env, batched acting, and weights-only files.

An SB3 agent trains online in a `DummyVecEnv` of `AMRS-<Mode>-v0` envs whose episodes start from the
TRAINING listeners' logged histories (`TrainingData.env_kwargs()`), never the held-out ones
evaluation starts from. Saving writes only the policy's `state_dict` as numpy arrays
(`agents.weights.save_weights`); loading rebuilds the SB3 model around an env that only has the
right spaces and loads the arrays into it. SB3's own `save`/`load` are never used: they unpickle.

Seeding: SB3 seeds the global `random`, numpy and torch generators and the envs from the config's
`seed` when the model is built, so a fit is reproducible on one machine. Acting draws from the
agent's own generator (`seed()`), never the global ones.
"""

from __future__ import annotations

from typing import Any, Self

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm.auto import tqdm

from agents.base import BaseAgent, DistributionAgent, as_batch
from agents.data import TrainingData
from agents.weights import AgentFileError, load_module_arrays, module_arrays
from amrs_gym import MODE_ENV_IDS


class SpacesOnlyEnv(gym.Env[np.ndarray, Any]):
    """An env that only has spaces.

    What SB3 needs to build a model (or the track wrapper to read its action space) when no world
    model should be loaded. It cannot be stepped.
    """

    def __init__(self, observation_space: spaces.Space[Any], action_space: spaces.Space[Any]):
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Refuse: the env has no sessions."""
        raise RuntimeError("SpacesOnlyEnv only describes spaces; it cannot be reset")

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Refuse: the env has no sessions."""
        raise RuntimeError("SpacesOnlyEnv only describes spaces; it cannot be stepped")


def observation_box(obs_dim: int) -> spaces.Box:
    """The env's observation space for `obs_dim` values.

    Its bounds do not enter SB3's MLP policies.
    """
    return spaces.Box(-10.0, 10.0, shape=(obs_dim,), dtype=np.float32)


class TqdmProgress(BaseCallback):
    """A tqdm bar over the environment steps of an SB3 `learn` (SB3's own bar needs `rich`)."""

    def __init__(self, total: int, description: str):
        super().__init__()
        self.total, self.description = total, description
        self.bar: Any = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, desc=self.description, unit="step", leave=False)

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class SB3Agent(BaseAgent):
    """An agent whose policy is a stable-baselines3 model trained in the world-model env.

    Subclasses say how to build the model (`_new_model`), which action space it acts in
    (`_action_space`), how to wrap a training env (`_wrap`), and map the model's actions to
    track ids (`_act`). The config must have `seed`, `n_envs`, `total_timesteps` and
    `quick_timesteps`.
    """

    model: BaseAlgorithm | None = None

    def _new_model(self, env: DummyVecEnv) -> BaseAlgorithm:
        """A fresh, seeded SB3 model for `env` (the config's hyper-parameters)."""
        raise NotImplementedError

    def _action_space(self) -> spaces.Space[Any]:
        """The action space the SB3 model acts in."""
        raise NotImplementedError

    def _wrap(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        """Wrap one training env (identity by default)."""
        return env

    def _model(self) -> BaseAlgorithm:
        return self._fitted(self.model, "model")

    def training_env(self, data: TrainingData) -> DummyVecEnv:
        """`n_envs` world-model envs of `data.mode`.

        Their episodes start from the training listeners' histories; an agent whose config has a
        `pessimism` > 0 trains in the pessimistic ensemble (`AMRS-<Mode>-Pessimistic-v0`'s reward).
        """
        pessimism = getattr(self.config, "pessimism", 0.0)
        env_id, kwargs = MODE_ENV_IDS[data.mode], data.env_kwargs(pessimism)
        return DummyVecEnv(
            [lambda: self._wrap(gym.make(env_id, **kwargs)) for _ in range(self.config.n_envs)]
        )

    def fit(self, data: TrainingData) -> Self:
        """Train online in the world model for `total_timesteps` env steps.

        `quick_timesteps` if `data.quick`.
        """
        self._adopt(data)
        torch.set_num_threads(1)
        env = self.training_env(data)
        try:
            self.model = self._new_model(env)
            self.model.set_logger(Logger(folder=None, output_formats=[]))  # no SB3-* temp folders
            steps = self.config.quick_timesteps if data.quick else self.config.total_timesteps
            self.model.learn(
                total_timesteps=steps, callback=TqdmProgress(steps, f"{self.name} {data.mode}")
            )
        finally:
            env.close()
        self.model.env = None  # the envs are closed; acting needs only the policy
        self.model.policy.set_training_mode(False)
        return self

    def policy_actions(self, observation: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The SB3 policy's actions for a batch of observations, in its own action space."""
        model = self._model()
        actions, _ = model.predict(
            as_batch(observation, self._fitted(self.obs_dim, "obs_dim")),
            deterministic=deterministic,
        )
        return actions

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """The model's greedy action, as track ids (n,) int64."""
        return np.asarray(self.policy_actions(observation), dtype=np.int64).reshape(-1)

    # ----- weights-only files -----

    def _arrays(self) -> dict[str, np.ndarray]:
        return module_arrays(self._model().policy, "policy/")

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if not any(k.startswith("policy/") for k in arrays) or self.obs_dim is None:
            raise AgentFileError(f"the {self.name} agent file holds no policy")
        obs_dim = self.obs_dim
        env = DummyVecEnv([lambda: SpacesOnlyEnv(observation_box(obs_dim), self._action_space())])
        model = self._new_model(env)
        load_module_arrays(model.policy, arrays, "policy/")
        model.env = None
        model.policy.set_training_mode(False)
        self.model = model


class SB3DiscreteAgent(DistributionAgent, SB3Agent):
    """An SB3 agent whose policy is a categorical distribution over the catalog (A2C, PPO).

    It exposes `action_probabilities` and samples from them with the agent's own generator.
    """

    def _action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self._catalog_size())

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The policy's distribution over the catalog for each observation.

        # (n, n_tracks)
        """
        policy = self._model().policy
        obs = torch.as_tensor(
            as_batch(observation, self._fitted(self.obs_dim, "obs_dim")), device=policy.device
        )
        with torch.no_grad():
            probabilities = policy.get_distribution(obs).distribution.probs
        probabilities = probabilities.double().cpu().numpy()
        return probabilities / probabilities.sum(axis=1, keepdims=True)


def net_arch(hidden: int, layers: int) -> list[int]:
    """SB3's `net_arch` for `layers` hidden layers of width `hidden`."""
    return [int(hidden)] * int(layers)


__all__ = [
    "SB3Agent",
    "SB3DiscreteAgent",
    "SpacesOnlyEnv",
    "TqdmProgress",
    "net_arch",
    "observation_box",
]
