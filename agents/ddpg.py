"""`ddpg`: stable-baselines3 DDPG proposing a point in track-feature space (Wolpertinger-style).

The actor outputs a continuous 5-d action (valence, arousal, energy, tempo, popularity, each in
[-1, 1]); `amrs_gym.wrappers.ContinuousTrackAction(space="features", k=...)` plays a track near
it. Training runs in `AMRS-<Mode>-v0` envs (training listeners' histories) wrapped that way, with
Gaussian exploration noise on the actor's output.

Acting equals what training saw: `predict` takes the actor's noiseless action and applies the
wrapper's rule, using the wrapper's own `nearest_tracks` for the `k` candidates. With `k > 1` the
rule plays, among the `k` nearest tracks, the one played least recently in the episode: the
episode's plays are the recurrent `state` `predict` returns (SB3 convention: pass `state` and
`episode_start` back in, as `evaluate_policy` does; without a state every row counts as an
episode's first step and gets its nearest track). The default `k = 10` lets a policy that keeps
proposing one point walk through ten similar tracks rather than repeat one (the utility
penalises repeats).

The actor is deterministic: `deterministic=False` does not add exploration noise when acting
(as in SB3's `predict` for DDPG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DDPG
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.adapters.sb3 import SB3Agent, SpacesOnlyEnv, net_arch, observation_box
from agents.base import DeterministicAgent, preset
from agents.data import TrainingData
from agents.weights import AgentFileError
from amrs_gym.catalog import DESCRIPTOR_COLUMNS, Catalog, CatalogError
from amrs_gym.reward import DEFAULT_PESSIMISM
from amrs_gym.wrappers import ContinuousTrackAction

FEATURE_DIM = 5
"""Size of the action: `Catalog.features()` (valence, arousal, energy, tempo, popularity)."""


@dataclass(frozen=True)
class DDPGConfig:
    """DDPG hyper-parameters (SB3's names where they exist)."""

    seed: int = 0
    """Seeds the network initialisation, the envs and the exploration noise."""
    pessimism: float = 0.0
    """Train in the bundle's ensemble with reward = utility - pessimism * the members'
    disagreement on it (0: the single world model)."""
    k: int = 10
    """Candidate tracks per action (`ContinuousTrackAction`'s `k`): the least recently played of the
    `k` nearest is played."""
    n_envs: int = 2
    """World-model envs stepped together."""
    total_timesteps: int = 13_000
    """Env steps of a full fit (about a minute for one mode on one CPU core)."""
    quick_timesteps: int = 200
    """Env steps when the training data is `quick` (tests)."""
    learning_starts: int = 1_000
    """Env steps of noisy random-ish play before the first update."""
    quick_learning_starts: int = 50
    """`learning_starts` when the training data is `quick`."""
    buffer_size: int = 50_000
    """Replay buffer size (at least the run's transitions, so nothing is forgotten)."""
    batch_size: int = 128
    learning_rate: float = 1e-3
    tau: float = 0.005
    """Soft update rate of the target networks."""
    gamma: float = 0.95
    """Discount: an episode has 20 steps."""
    train_freq: int = 1
    """Env steps (per env) between updates."""
    gradient_steps: int = 1
    """Gradient steps per update."""
    noise_sigma: float = 0.2
    """Standard deviation of the Gaussian exploration noise (actions span [-1, 1])."""
    hidden: int = 256
    """Width of the actor's and critic's hidden layers."""
    layers: int = 2
    """Number of hidden layers."""


class DDPGAgent(DeterministicAgent, SB3Agent):
    """Deterministic actor in track-feature space plus a critic, trained in the world-model env."""

    name: ClassVar[str] = "ddpg"
    config_type: ClassVar[type] = DDPGConfig

    catalog: Catalog | None = None
    _chooser: ContinuousTrackAction | None = None
    _quick: bool = False

    def _action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(FEATURE_DIM,), dtype=np.float32)

    def _wrap(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        return ContinuousTrackAction(env, space="features", k=self.config.k)

    def _new_model(self, env: DummyVecEnv) -> DDPG:
        config: DDPGConfig = self.config
        noise = NormalActionNoise(np.zeros(FEATURE_DIM), np.full(FEATURE_DIM, config.noise_sigma))
        return DDPG(
            "MlpPolicy",
            env,
            learning_rate=config.learning_rate,
            buffer_size=config.buffer_size,
            learning_starts=config.quick_learning_starts if self._quick else config.learning_starts,
            batch_size=config.batch_size,
            tau=config.tau,
            gamma=config.gamma,
            train_freq=config.train_freq,
            gradient_steps=config.gradient_steps,
            action_noise=noise,
            policy_kwargs={"net_arch": net_arch(config.hidden, config.layers)},
            seed=config.seed,
            device="cpu",
            verbose=0,
        )

    def fit(self, data: TrainingData) -> Self:
        """Train online in the world model (through `ContinuousTrackAction`); see `SB3Agent.fit`."""
        self._quick = data.quick
        self._use_catalog(data.catalog)
        try:
            return super().fit(data)
        finally:
            self._quick = False

    def _use_catalog(self, catalog: Catalog) -> None:
        """Map actions to tracks of `catalog` with the wrapper the agent trained through."""
        self.catalog = catalog
        picker = SpacesOnlyEnv(observation_box(1), spaces.Discrete(catalog.n_tracks))
        self._chooser = ContinuousTrackAction(
            picker, space="features", k=self.config.k, catalog=catalog
        )

    def tracks_for(self, points: np.ndarray, played: np.ndarray) -> np.ndarray:
        """`ContinuousTrackAction`'s choice for each continuous action.

        Given each episode's plays so far.

        Args:
            points: Continuous actions (n, 5).
            played: Tracks played so far in each episode, in order, -1 for none (n, t).

        Returns:
            Track ids (n,) int64.
        """
        if self._chooser is None:
            raise RuntimeError("the ddpg agent has no catalog yet: fit() or load() it first")
        candidates = np.stack(
            [self._chooser.nearest_tracks(np.asarray(p, np.float32)) for p in points]
        )  # (n, k)
        if candidates.shape[1] == 1:
            return candidates[:, 0].astype(np.int64)
        # the step each candidate was last played at (-1 = never); the least recent wins, ties to
        # the nearer
        steps = np.arange(played.shape[1])
        last = np.where(played[:, None, :] == candidates[:, :, None], steps, -1).max(
            axis=2, initial=-1
        )
        return candidates[np.arange(len(candidates)), last.argmin(axis=1)].astype(np.int64)

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """The actor's point for each observation.

        Then the wrapper's rule given the played tracks.
        """
        return self.tracks_for(self.policy_actions(observation), played)

    # ----- weights-only files: the policy plus the catalog its actions index -----

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._arrays()
        if self.catalog is None:
            raise RuntimeError("the ddpg agent has no catalog yet: fit() or load() it first")
        arrays["catalog_fingerprint"] = np.array(self.catalog.fingerprint())
        arrays["catalog_embeddings"] = self.catalog.embeddings
        for name in DESCRIPTOR_COLUMNS:
            arrays[f"catalog_{name}"] = getattr(self.catalog, name)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        try:
            catalog = Catalog(
                embeddings=arrays["catalog_embeddings"],
                **{name: arrays[f"catalog_{name}"] for name in DESCRIPTOR_COLUMNS},
                source="ddpg agent file",
            )
        except (KeyError, CatalogError) as error:
            raise AgentFileError(f"the ddpg agent file has no usable catalog ({error})") from None
        saved = str(arrays.get("catalog_fingerprint", ""))
        if saved != catalog.fingerprint():
            raise AgentFileError(
                f"the ddpg agent file's catalog has fingerprint {catalog.fingerprint()!r}, "
                f"its header says {saved!r}"
            )
        self._use_catalog(catalog)


PessimisticDDPGAgent = preset(
    DDPGAgent,
    "ddpg_pessimistic",
    "DDPG trained in `AMRS-<Mode>-Pessimistic-v0` (lambda = `DEFAULT_PESSIMISM`).",
    pessimism=DEFAULT_PESSIMISM,
)
