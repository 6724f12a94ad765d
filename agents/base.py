"""What every agent shares: the `Agent` protocol, the data agents train from, weights-only saving,
and the policy network behind BC and DPO.

An agent acts on a batch of observations with SB3's `predict` signature, so the vector env
(or SB3's `evaluate_policy`) can drive any of them. Agents that need more than the
observation (the logging policy needs the listener's id, greedy needs the world model's
cached state) read it from the `sessions` keyword: the `ListeningSessions` behind the env
(`env.unwrapped.sessions`), which `agents.evaluation` passes to every agent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd
import torch
from torch import nn

from agents.replay import LoggedSteps, replay_logs
from amrs_gym import defaults
from amrs_gym.catalog import Catalog
from amrs_gym.envs.sessions import (
    ListeningSessions,
    StartSession,
    load_shared_engine,
    start_sessions_for,
)
from amrs_gym.io import atomic_write
from amrs_gym.modes import MODES
from amrs_gym.reward import Utility, default_utility
from amrs_gym.sampling import sample_categorical
from amrs_gym.world_model.rollout import NumpyRollout

WEIGHTS_FORMAT = 1
EPISODE_LENGTH = 20
HISTORY_LENGTH = 20


@runtime_checkable
class Agent(Protocol):
    """A recommender for one mode: `predict` on a batch, `fit` from logs and/or the world model, `save`/`load`."""

    name: ClassVar[str]
    mode: str

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        *,
        sessions: ListeningSessions | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Track ids for a batch of observations (n, obs_dim) -> ((n,), state)."""
        ...

    def fit(self, data: TrainingData) -> Self:
        """Train from the training listeners' logs and/or world-model rollouts (no-op for fixed policies)."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the agent (weights only) to `path`."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read an agent written by `save`."""
        ...


def check_mode(mode: str) -> str:
    """`mode`, or a clear error naming the valid ones."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def as_batch(observation: np.ndarray, obs_dim: int) -> np.ndarray:
    """A (n, obs_dim) float32 batch from one observation or a batch; a clear error for anything else."""
    obs = np.asarray(observation, dtype=np.float32)
    if obs.ndim == 1:
        obs = obs[None]
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"expected observations of shape (n, {obs_dim}), got {np.shape(observation)}")
    return obs


def require_sessions(agent: str, sessions: ListeningSessions | None, n: int) -> ListeningSessions:
    """The sessions an env-aware agent needs, or an error saying how to pass them."""
    if sessions is None:
        raise ValueError(
            f"the {agent} agent needs the env's sessions: call predict(obs, sessions=env.unwrapped.sessions) "
            "or evaluate it with agents.evaluation.rollout"
        )
    if sessions.n != n:
        raise ValueError(f"got {n} observations for {sessions.n} sessions")
    return sessions


def time_step(observation: np.ndarray, episode_length: int = EPISODE_LENGTH) -> np.ndarray:
    """The step index within the episode, read back from the observation's time field."""
    return np.rint(observation[:, 6] * episode_length).astype(np.int64)


# ----- training data -----------------------------------------------------------------------------


@dataclass
class TrainingData:
    """What agents of one mode train from: the training listeners' logs, the world model and the utility.

    Test listeners (whose histories start evaluation episodes) are never in `logs`.
    """

    mode: str
    logs: pd.DataFrame
    """Logged sessions of the training (train + validation) listeners, every mode."""
    catalog: Catalog
    utility: Utility
    checkpoint: Path = defaults.CHECKPOINT_PATH
    """The world model agents may roll out in."""
    quick: bool = False
    """Agents train briefly (tests, `--quick` benchmarks)."""
    seed: int = 0
    history_length: int = HISTORY_LENGTH
    episode_length: int = EPISODE_LENGTH

    @classmethod
    def default(cls, mode: str, quick: bool = False, seed: int = 0, utility: Utility | None = None) -> TrainingData:
        """The default logs' training listeners; `quick` keeps a fifth of them."""
        check_mode(mode)
        split = defaults.default_split()
        logs = pd.concat([split.train, split.val], ignore_index=True)
        if quick:
            listeners = np.sort(logs["listener_id"].unique())
            keep = np.random.default_rng(seed).choice(listeners, size=max(1, len(listeners) // 5), replace=False)
            logs = logs[logs["listener_id"].isin(keep)].reset_index(drop=True)
        return cls(mode, logs, defaults.default_catalog(), utility or default_utility(mode), quick=quick, seed=seed)

    @property
    def engine(self) -> NumpyRollout:
        """The world model's rollout engine (shared, read-only)."""
        return load_shared_engine(str(self.checkpoint))

    @property
    def mode_logs(self) -> pd.DataFrame:
        """The training logs of this mode."""
        return self.logs[self.logs["mode"] == self.mode]

    @cached_property
    def replay(self) -> LoggedSteps:
        """This mode's logged sessions replayed through the world model."""
        return replay_logs(self.logs, self.mode, self.utility, self.engine, self.catalog,
                           self.history_length, self.episode_length)

    @cached_property
    def starts(self) -> list[StartSession]:
        """The training listeners' sessions of this mode that episodes can start from."""
        return start_sessions_for(self.logs, self.mode, "mixed")

    def sessions(self, n: int) -> ListeningSessions:
        """`n` world-model sessions that start from the training listeners' logged histories."""
        return ListeningSessions(n, self.mode, self.utility, self.engine, self.catalog, self.starts,
                                 self.history_length, self.episode_length)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments for `gym.make(AMRS-<Mode>-v0)` so online agents train on training listeners' histories."""
        return {"utility": self.utility, "checkpoint": self.checkpoint, "start_sessions": self.logs,
                "history_length": self.history_length, "episode_length": self.episode_length}

    def logged_distribution(self) -> np.ndarray:
        """Share of this mode's logged plays that went to each track.  # (n_tracks,)"""
        counts = np.bincount(self.mode_logs["track_id"].to_numpy(), minlength=self.catalog.n_tracks)
        return counts / max(counts.sum(), 1)


# ----- weights-only files ------------------------------------------------------------------------


def save_weights(path: str | Path, kind: str, mode: str, config: Any, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays plus a JSON header (agent kind, mode, config) to one `.npz`, atomically."""
    header = {"format": WEIGHTS_FORMAT, "kind": kind, "mode": mode, "config": asdict(config)}
    payload = {f"array/{k}": np.asarray(v) for k, v in arrays.items()}
    payload["header"] = np.array(json.dumps(header))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **payload)

    atomic_write(path, write)


def load_weights(path: str | Path, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by `save_weights` without unpickling anything; refuse another agent's file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no agent file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            arrays = {k.removeprefix("array/"): archive[k] for k in archive.files if k.startswith("array/")}
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(f"{path} is not an amrs-gym agent file ({error})") from None
    if header.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} has agent file format {header.get('format')}, this code reads {WEIGHTS_FORMAT}")
    if header.get("kind") != kind:
        raise ValueError(f"{path} holds a {header.get('kind')!r} agent, not {kind!r}")
    return header, arrays


def module_arrays(module: nn.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's parameters and buffers as numpy arrays."""
    return {prefix + k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module: nn.Module, arrays: dict[str, np.ndarray], prefix: str = "") -> None:
    """Load arrays from `module_arrays` into `module`; a clear error if the shapes do not fit."""
    state = {k.removeprefix(prefix): torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"agent weights do not fit this network: {str(error).splitlines()[0]}") from None


# ----- the policy network behind BC and DPO ------------------------------------------------------


class TrackPolicy(nn.Module):
    """Observation (and the tracks the session has played) -> logits over the catalog.

    A track's logit is the match between a projection of the input and the track's content
    (embedding and affect features), plus a learned per-track bias: tracks share what is learned
    about their content, so rarely logged tracks still get sensible scores. With `memory`
    embeddings, the input also holds the mean and the last of the played tracks' embeddings: the
    observation does not say which tracks the session has played, and without them the policy
    cannot steer away from what it just played (intra-list diversity) or follow a track that was
    not skipped.
    """

    def __init__(self, obs_dim: int, track_content: np.ndarray, hidden: int = 256,
                 memory: np.ndarray | None = None):
        super().__init__()
        memory = np.zeros((len(track_content), 0)) if memory is None else memory
        self.register_buffer("memory", torch.as_tensor(memory, dtype=torch.float32))  # (n_tracks, m)
        width = obs_dim + 2 * memory.shape[1]  # the observation, then the mean and last played embedding
        self.body = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU()
        )
        self.register_buffer("content", torch.as_tensor(track_content, dtype=torch.float32))  # (n_tracks, c)
        self.project = nn.Linear(hidden, track_content.shape[1])
        self.bias = nn.Parameter(torch.zeros(len(track_content)))

    @property
    def memory_dim(self) -> int:
        """Width of each remembered track's embedding (0: the policy reads the observation only)."""
        return int(self.memory.shape[1])

    @property
    def obs_dim(self) -> int:
        """Size of the observations it reads."""
        return int(self.body[0].normalized_shape[0]) - 2 * self.memory_dim

    def forward(self, observation: torch.Tensor, played: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, n_tracks); `played` (batch, T) holds the session's tracks in order, -1 padded."""
        if self.memory_dim:
            if played is None:
                raise ValueError("this policy also reads the tracks the session has played: pass `played`")
            observation = torch.cat([observation, self._remembered(played)], dim=1)
        return self.project(self.body(observation)) @ self.content.T + self.bias

    def probabilities(self, observation: np.ndarray, played: np.ndarray | None = None) -> np.ndarray:
        """The softmax over the catalog, without gradients, numpy in and out.  # (batch, n_tracks)"""
        with torch.no_grad():
            logits = self(torch.from_numpy(observation), None if played is None else torch.from_numpy(played))
            return torch.softmax(logits.double(), dim=-1).numpy()

    def _remembered(self, played: torch.Tensor) -> torch.Tensor:
        """Mean and last embedding of the played tracks (zeros before the first).  # (batch, 2 * m)"""
        if played.shape[1] == 0:
            played = torch.full((len(played), 1), -1, dtype=torch.long)
        known = (played >= 0).float()  # (batch, T)
        embeddings = self.memory[played.clamp(min=0)] * known[..., None]  # (batch, T, m)
        count = known.sum(1)
        mean = embeddings.sum(1) / count.clamp(min=1)[:, None]
        last = embeddings[torch.arange(len(played)), (count.long() - 1).clamp(min=0)]
        return torch.cat([mean, last], dim=1)


def track_content(catalog: Catalog) -> np.ndarray:
    """What a policy knows about each track: unit embedding and affect features.  # (n_tracks, dim + 5)"""
    return np.concatenate([catalog.unit_embeddings, catalog.features()], axis=1)


class BaseAgent:
    """Shared plumbing: mode and config, seeding, and saving as config plus named arrays (`_arrays`)."""

    name: ClassVar[str]
    config_type: ClassVar[type]
    needs_sessions: ClassVar[bool] = False
    """True if `predict` reads the env's sessions (listener ids, world-model state), not only observations."""

    def __init__(self, mode: str, config: Any = None):
        self.mode = check_mode(mode)
        self.config = config if config is not None else self.config_type()
        self.rng = np.random.default_rng(self.config.seed)

    def seed(self, seed: int) -> None:
        """Reseed the action sampling."""
        self.rng = np.random.default_rng(seed)

    def fit(self, data: TrainingData) -> Self:
        """Nothing to learn (fixed policies); learning agents override this."""
        return self

    def _check_data(self, data: TrainingData) -> None:
        """Refuse training data of another mode."""
        if data.mode != self.mode:
            raise ValueError(f"the agent is for mode {self.mode!r}, the data for {data.mode!r}")

    def _fitted(self, learned: Any, what: str) -> Any:
        """`learned`, or a clear error if the agent was neither fitted nor loaded."""
        if learned is None:
            raise RuntimeError(f"the {self.name} agent has no {what} yet: fit() or load() it first")
        return learned

    def _arrays(self) -> dict[str, np.ndarray]:
        """What `save` writes beside the config."""
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what `_arrays` returned."""

    def save(self, path: str | Path) -> None:
        """Write the config and learned arrays (`.npz`, no pickle), atomically."""
        save_weights(path, self.name, self.mode, self.config, self._arrays())

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read an agent written by `save`."""
        return cls.from_weights(*load_weights(path, cls.name))

    @classmethod
    def from_weights(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Self:
        """The agent a file's header and arrays (from `load_weights`) describe."""
        agent = cls(header["mode"], cls.config_type(**header["config"]))
        agent._set_arrays(arrays)
        return agent


class DistributionAgent(BaseAgent):
    """An agent that acts by drawing from its `action_probabilities` (the most likely track if `deterministic`)."""

    def action_probabilities(self, observation: np.ndarray, sessions: ListeningSessions | None = None) -> np.ndarray:
        """The distribution over the catalog for each observation.  # (n, n_tracks)"""
        raise NotImplementedError

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        *,
        sessions: ListeningSessions | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Sample a track per observation from `action_probabilities`, with the agent's own generator."""
        return self._choose(self.action_probabilities(observation, sessions), deterministic), state

    def _choose(self, probabilities: np.ndarray, deterministic: bool) -> np.ndarray:
        """The most likely track of each row if `deterministic`, else one drawn with the agent's generator."""
        if deterministic:
            return probabilities.argmax(axis=1)
        return sample_categorical(probabilities, self.rng.random(len(probabilities)))


class PolicyAgent(DistributionAgent):
    """Shared acting, probabilities and saving of agents whose policy is a `TrackPolicy` (BC, DPO).

    A policy that remembers the played tracks keeps them as its recurrent `state` (SB3's
    convention: `predict` returns it, the caller passes it back, `episode_start` clears it), so
    it needs nothing from the env but the observation.
    """

    policy: TrackPolicy | None = None

    def _build(self, obs_dim: int, catalog: Catalog) -> TrackPolicy:
        torch.manual_seed(self.config.seed)
        memory = catalog.unit_embeddings if self.config.remember_played else None
        self.policy = TrackPolicy(obs_dim, track_content(catalog), self.config.hidden, memory)
        return self.policy

    def _network(self) -> TrackPolicy:
        return self._fitted(self.policy, "policy")

    @property
    def remembers_played(self) -> bool:
        """Whether the policy reads the tracks the session has played (then pass `played`)."""
        return self._network().memory_dim > 0

    def action_probabilities(
        self, observation: np.ndarray, sessions: ListeningSessions | None = None, played: np.ndarray | None = None
    ) -> np.ndarray:
        """The policy's distribution over the catalog for each observation.  # (n, n_tracks)

        `played` (n, T): each session's tracks so far, -1 padded (default: the `sessions`' own).
        """
        policy = self._network()
        obs = as_batch(observation, policy.obs_dim)
        if played is None and sessions is not None:
            played = sessions.played
        if played is not None:
            played = np.asarray(played, dtype=np.int64).reshape(len(obs), -1)
        return policy.probabilities(obs, played)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
        *,
        sessions: ListeningSessions | None = None,
    ) -> tuple[np.ndarray, Any]:
        """A track per observation; `state` is the tracks played so far (n, t), -1 where a session had none."""
        n = len(np.atleast_2d(observation))
        played = np.full((n, 0), -1, dtype=np.int64) if state is None else np.array(state, dtype=np.int64)
        if played.ndim != 2 or len(played) != n:
            raise ValueError(f"state must be the (n, t) tracks played by {n} sessions, got shape {played.shape}")
        if episode_start is not None:
            played[np.asarray(episode_start, dtype=bool)] = -1
        actions = self._choose(self.action_probabilities(observation, played=played), deterministic)
        return actions, _append_played(played, actions)

    def _arrays(self) -> dict[str, np.ndarray]:
        policy = self._network()
        arrays = module_arrays(policy, "policy/")
        arrays["obs_dim"] = np.array(policy.obs_dim)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if "obs_dim" not in arrays or "policy/content" not in arrays:
            raise ValueError(f"the {self.name} agent file holds no policy")
        if "policy/memory" not in arrays:
            raise ValueError(f"the {self.name} agent file was written by an older amrs-gym: retrain it")
        memory = arrays["policy/memory"] if arrays["policy/memory"].shape[1] else None
        self.policy = TrackPolicy(int(arrays["obs_dim"]), arrays["policy/content"], self.config.hidden, memory)
        load_module_arrays(self.policy, arrays, "policy/")


def _append_played(played: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """`played` (n, t) with each row's action written after its last played track (left-aligned).  # (n, t')"""
    count = (played >= 0).sum(axis=1)
    if count.max(initial=0) >= played.shape[1]:
        played = np.concatenate([played, np.full((len(played), 1), -1, dtype=np.int64)], axis=1)
    played[np.arange(len(played)), count] = actions
    return played
