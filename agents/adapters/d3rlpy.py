"""Shared adapter for d3rlpy's offline Q-learning agents (`cql`, `bcq`).

The logged dataset, batched greedy acting, and weights-only files.

The data. The training listeners' logged sessions of the mode, replayed through the world model
(`TrainingData.replay`, `amrs_gym.simulator.replay.LoggedSteps`), so the observations are exactly
the env's (`amrs_gym.offline_data.d3rlpy_dataset`).
Each replayed session becomes one episode of a `d3rlpy.dataset.MDPDataset` over the whole
catalog (`action_size` = n_tracks, also for tracks never logged): no step is terminal (a
listening session has no terminal state) and a session's last replayed step is a timeout. d3rlpy
makes no transition of an episode's last step when it ends by timeout (there is no next
observation to bootstrap from), so those steps' rewards are not learned from.

The rewards are the mode's utility on the LOGGED outcomes: the logged engagement, the rating where
the listener gave one (else the world model's like probability), and the reported valence/arousal
where reported, else the world model's estimate. Only about 1 step in 5 carries an affect report:
filling the others with 0 would read as "neutral affect" and reward tracks for going unreported,
so they take the world model's estimate instead (see `amrs_gym.simulator.replay`).

Observations are standardised with the training data's mean and standard deviation (kept in
the agent's file), since the context vector spans about [-10, 10] while the rest lies in [0, 1].

Weights-only files. The arrays are the `state_dict`s of the torch modules d3rlpy keeps in
`algo.impl.modules` (a dataclass of modules and optimizers; `get_torch_modules()` lists the
modules: `q_funcs`, `targ_q_funcs`, and BCQ's `imitator`). Loading builds a fresh algorithm from
the config, creates its networks with `create_impl(observation_shape, action_size)` and loads the
arrays into them. d3rlpy's own `save_model`/`load_learnable` (`torch.load`, pickle) are never used.

d3rlpy writes nothing to disk here (no `d3rlpy_logs/`: a no-op logger, no checkpoints). Fitting
seeds the global `random`, numpy and torch generators with `d3rlpy.seed(seed)`, since d3rlpy
draws its mini-batches from numpy's global generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import d3rlpy
import numpy as np
import torch
from d3rlpy.base import LearnableConfig
from d3rlpy.logging import NoopAdapterFactory
from d3rlpy.models import VectorEncoderFactory
from d3rlpy.optimizers import AdamFactory

from agents.base import DeterministicAgent, as_batch
from agents.data import TrainingData
from agents.weights import AgentFileError, load_module_arrays, module_arrays
from amrs_gym.offline_data import d3rlpy_dataset


@dataclass(frozen=True)
class OfflineRLConfig:
    """Hyper-parameters every d3rlpy agent here shares (d3rlpy's names)."""

    seed: int = 0
    """Seeds the network initialisation and the mini-batch sampling."""
    n_steps: int = 3000
    """Gradient steps of a full fit (about 45 s for one mode on one shared CPU core)."""
    quick_steps: int = 100
    """Gradient steps when the training data is `quick` (tests)."""
    batch_size: int = 128
    learning_rate: float = 5e-4
    gamma: float = 0.95
    """Discount: an episode has 20 steps."""
    target_update_interval: int = 300
    """Gradient steps between copies of the Q-network into the target network."""
    hidden: int = 128
    """Width of the Q-network's hidden layers (the output layer has one unit per track)."""
    layers: int = 2
    """Number of hidden layers."""


class D3rlpyAgent(DeterministicAgent):
    """An agent whose policy is a d3rlpy discrete Q-learning algorithm fitted to the logs.

    Subclasses name the d3rlpy config class (`algo_config_type`) and its own options. Acting is
    greedy in the learned Q-values (as d3rlpy's `predict`): `deterministic` makes no difference.
    Tracks the episode has already played (the recurrent state) are excluded, as the production
    policy's repeat penalty does: the logs almost never repeat a track, so the
    Q-values never learned what a repeat costs (an extrapolation error of offline RL; without the
    rule BCQ repeated 60% of its tracks and scored below random).
    """

    algo: Any = None
    obs_mean: np.ndarray | None = None
    obs_std: np.ndarray | None = None

    algo_config_type: ClassVar[type[LearnableConfig]]
    """The d3rlpy config class of the algorithm."""

    def _algorithm_options(self) -> dict[str, Any]:
        """Options of the d3rlpy config beyond the shared ones (the algorithm's own)."""
        return {}

    def _algo_config(self) -> LearnableConfig:
        """The d3rlpy config built from this agent's config."""
        config: OfflineRLConfig = self.config
        return self.algo_config_type(
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            gamma=config.gamma,
            target_update_interval=config.target_update_interval,
            encoder_factory=VectorEncoderFactory(hidden_units=[config.hidden] * config.layers),
            optim_factory=AdamFactory(),
            **self._algorithm_options(),
        )

    def _algorithm(self) -> Any:
        return self._fitted(self.algo, "Q-network")

    def fit(self, data: TrainingData) -> Self:
        """Fit to the replayed logs of `data.mode` for `n_steps` gradient steps.

        `quick_steps` if `data.quick`.
        """
        self._adopt(data)
        torch.set_num_threads(1)
        steps = data.replay
        self.obs_mean = steps.observations.mean(axis=0).astype(np.float32)
        self.obs_std = np.maximum(steps.observations.std(axis=0), 1e-2).astype(np.float32)
        dataset = d3rlpy_dataset(steps, data.n_tracks, self.obs_mean, self.obs_std)
        d3rlpy.seed(self.config.seed)
        self.algo = self._algo_config().create(device="cpu")
        n_steps = self.config.quick_steps if data.quick else self.config.n_steps
        self.algo.fit(
            dataset,
            n_steps=n_steps,
            n_steps_per_epoch=n_steps,
            experiment_name=f"{self.name}_{data.mode}",
            with_timestamp=False,
            logger_adapter=NoopAdapterFactory(),
            show_progress=True,
            save_interval=n_steps + 1,
        )
        return self

    def _standardized(self, observation: np.ndarray) -> np.ndarray:
        obs = as_batch(observation, self._fitted(self.obs_dim, "obs_dim"))
        return ((obs - self.obs_mean) / self.obs_std).astype(np.float32)

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """The greedy track (n,) among those the episode has not played.

        See the class docstring.
        """
        with torch.no_grad():
            scores = (
                self._action_scores(torch.from_numpy(self._standardized(observation)))
                .double()
                .numpy()
            )
        rows = np.repeat(np.arange(len(scores)), played.shape[1])
        known = played.reshape(-1) >= 0
        scores[rows[known], played.reshape(-1)[known]] = -np.inf
        return scores.argmax(axis=1).astype(np.int64)

    def _action_scores(self, x: torch.Tensor) -> torch.Tensor:
        """What the greedy action maximises (as d3rlpy's `predict`).

        The expected Q-values.  # (n, n_tracks)
        """
        return self._algorithm().impl._q_func_forwarder.compute_expected_q(x)

    # ----- weights-only files -----

    def _arrays(self) -> dict[str, np.ndarray]:
        impl = self._algorithm().impl
        arrays: dict[str, np.ndarray] = {}
        for module_name, module in impl.modules.get_torch_modules().items():
            arrays.update(module_arrays(module, f"{module_name}/"))
        arrays["obs_mean"], arrays["obs_std"] = self.obs_mean, self.obs_std
        arrays["action_size"] = np.array(impl.action_size)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if "obs_mean" not in arrays or "action_size" not in arrays:
            raise AgentFileError(f"the {self.name} agent file holds no Q-network")
        algo = self._algo_config().create(device="cpu")
        algo.create_impl((len(arrays["obs_mean"]),), int(arrays["action_size"]))
        for module_name, module in algo.impl.modules.get_torch_modules().items():
            load_module_arrays(module, arrays, f"{module_name}/")
        self.obs_mean, self.obs_std = arrays["obs_mean"], arrays["obs_std"]
        self.algo = algo
