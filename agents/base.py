"""Base classes the agents share.

Acting with SB3's `predict` and the played tracks as its state, sizes read from the training data,
binding to a session view, and weights-only saving.

Subclasses implement `_act(observation, played, deterministic)`; `predict` keeps the tracks the
episode has played in SB3's recurrent `state` (left-aligned, -1 padded, cleared by
`episode_start`), so every agent can avoid or follow what it played.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import fields, make_dataclass
from pathlib import Path
from typing import Any, ClassVar, Self, get_args, get_type_hints

import numpy as np
import torch

from agents.data import TrainingData
from agents.policy import TrackPolicy, track_content
from agents.weights import (
    AgentFileError,
    load_module_arrays,
    load_weights,
    module_arrays,
    save_weights,
)
from amrs_gym.catalog import Catalog
from amrs_gym.modes import check_mode
from amrs_gym.sampling import sample_categorical
from amrs_gym.simulator import LAST_SKIPPED_INDEX, SessionView
from amrs_gym.validation import check_fields, check_value


def as_batch(observation: np.ndarray, obs_dim: int | None = None) -> np.ndarray:
    """A (n, obs_dim) float32 batch of finite values from one observation or a batch.

    Raises:
        ValueError: for another shape (`obs_dim` None accepts any width) or non-finite values.
    """
    try:
        obs = np.asarray(observation, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"observations must be numbers, got {observation!r:.80}") from None
    if obs.ndim == 1:
        obs = obs[None]
    if obs.ndim != 2 or not len(obs) or (obs_dim is not None and obs.shape[1] != obs_dim):
        raise ValueError(
            f"expected observations of shape (n, {obs_dim or 'obs_dim'}) with n >= 1, "
            f"got {np.shape(observation)}"
        )
    if not np.isfinite(obs).all():
        raise ValueError("observations hold NaN or infinite values")
    return obs


FRACTIONS = frozenset(
    {
        "gamma",
        "discount",
        "gae_lambda",
        "tau",
        "validation_fraction",
        "branch_probability",
        "action_flexibility",
    }
)
"""Agent config fields that are probabilities, shares or discounts: in [0, 1]."""


def check_agent_config(config: Any) -> None:
    """Check an agent's config: the field types, then the bounds every agent config shares.

    Unless a field's metadata bounds it otherwise: `seed` and counts of steps before learning
    (`*learning_starts`) are integers >= 0, every other integer >= 1; floats are finite and >= 0,
    those in `FRACTIONS` <= 1, and a `learning_rate` > 0.

    Raises:
        ValueError: naming the field, the value and what is allowed.
    """
    check_fields(config)
    hints = get_type_hints(type(config))
    for field in fields(config):
        value, kind = getattr(config, field.name), hints[field.name]
        optional = [t for t in get_args(kind) if t is not type(None)]
        kind = optional[0] if len(optional) == 1 else kind  # `float | None` bounds as a float
        if field.metadata or value is None or kind not in (int, float):
            continue
        if kind is int:
            low = 0 if field.name == "seed" or field.name.endswith("learning_starts") else 1
            check_value(field.name, value, int, {"min": low})
        else:
            bounds: dict[str, float] = {"min": 1e-12 if field.name == "learning_rate" else 0.0}
            if field.name in FRACTIONS:
                bounds["max"] = 1.0
            check_value(field.name, value, float, bounds)


def played_tracks(
    state: Any, episode_start: np.ndarray | None, n: int, n_tracks: int | None = None
) -> np.ndarray:
    """The tracks each of n episodes has played, from SB3's recurrent `state`.

    # (n, t) int64, -1 padded

    `state` is what `predict` returned last time (None at first); rows where `episode_start` is
    True start afresh. Track ids must lie in [-1, n_tracks) (-1: padding).
    """
    if state is None:
        return np.full((n, 0), -1, dtype=np.int64)
    try:
        values = np.array(state, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"state must be the (n, t) track ids played, got {state!r:.80}") from None
    if values.ndim != 2 or len(values) != n:
        raise ValueError(
            f"state must be the (n, t) tracks played by {n} sessions, got shape {values.shape}"
        )
    top = np.inf if n_tracks is None else n_tracks - 1
    if not (
        np.isfinite(values) & (values == np.round(values)) & (values >= -1) & (values <= top)
    ).all():
        allowed = "ids >= -1" if n_tracks is None else f"ids in -1..{n_tracks - 1}"
        raise ValueError(f"state must hold track {allowed} (-1: none), got {state!r:.80}")
    played = values.astype(np.int64)
    if episode_start is not None:
        starts = np.asarray(episode_start, dtype=bool).reshape(-1)
        if len(starts) != n:
            raise ValueError(
                f"episode_start must hold {n} flags, one per observation, got {len(starts)}"
            )
        played[starts] = -1
    return played


def remember(played: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """`played` (n, t) with each row's action written after its last played track.

    # (n, t')
    """
    count = (played >= 0).sum(axis=1)
    if count.max(initial=0) >= played.shape[1]:
        played = np.concatenate([played, np.full((len(played), 1), -1, dtype=np.int64)], axis=1)
    played[np.arange(len(played)), count] = actions
    return played


def act_remembering(
    act: Callable[[np.ndarray, np.ndarray, bool], np.ndarray],
    observation: np.ndarray,
    state: Any,
    episode_start: np.ndarray | None,
    deterministic: bool,
    obs_dim: int | None = None,
    n_tracks: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SB3's `predict` around `act(observations, played, deterministic)`.

    The tracks each episode has played travel in SB3's recurrent `state`.
    """
    batch = as_batch(observation, obs_dim)
    played = played_tracks(state, episode_start, len(batch), n_tracks)
    actions = np.asarray(act(batch, played, deterministic), dtype=np.int64).reshape(-1)
    return actions, remember(played, actions)


def sb3_actions(observation: Any, actions: np.ndarray) -> np.ndarray:
    """Actions as SB3's `predict` returns them: (n,) for a batch, () for one observation."""
    return actions.reshape(()) if np.ndim(observation) == 1 else actions


class BaseAgent:
    """Mode and config, seeding, sizes, the SB3 `predict` loop, an optional session view, and files.

    `n_tracks` and `obs_dim` come from the training data (`fit`) or the agent's file (`load`).
    """

    name: ClassVar[str]
    config_type: ClassVar[type]
    needs_view: ClassVar[bool] = False
    """True if `predict` reads a session view (listener ids, world-model state): bind it first."""

    def __init__(self, mode: str, config: Any = None):
        """A new, unfitted agent for `mode` (`config`.

        Its `config_type`, default values if None).
        """
        self.mode = check_mode(mode)
        self.config = config if config is not None else self.config_type()
        if not isinstance(self.config, self.config_type):
            raise ValueError(
                f"the {self.name} agent takes a {self.config_type.__name__}, got {config!r}"
            )
        check_agent_config(self.config)
        self.rng = np.random.default_rng(self.config.seed)
        self.n_tracks: int | None = None
        self.obs_dim: int | None = None
        self.view: SessionView | None = None

    def seed(self, seed: Any) -> None:
        """Reseed the action sampling."""
        self.rng = np.random.default_rng(seed)

    def bind(self, view: SessionView | None) -> Self:
        """Read `view` when acting.

        For session-aware agents; `agents.bind(agent, env)` is the one-liner.
        """
        if view is not None and self.n_tracks is not None and view.n_tracks != self.n_tracks:
            raise ValueError(
                f"the {self.name} agent was fitted for {self.n_tracks} tracks, "
                f"these sessions have {view.n_tracks}"
            )
        self.view = view
        return self

    def fit(self, data: TrainingData) -> Self:
        """Take the sizes of `data` (fixed policies learn nothing else).

        Learning agents extend this.
        """
        self._adopt(data)
        return self

    def _adopt(self, data: TrainingData) -> None:
        """Refuse data of another mode; take its catalog and observation sizes."""
        if data.mode != self.mode:
            raise ValueError(f"the agent is for mode {self.mode!r}, the data for {data.mode!r}")
        self.n_tracks, self.obs_dim = data.n_tracks, data.obs_dim

    def _fitted(self, learned: Any, what: str) -> Any:
        """`learned`, or a clear error if the agent was neither fitted nor loaded."""
        if learned is None:
            raise RuntimeError(f"the {self.name} agent has no {what} yet: fit() or load() it first")
        return learned

    def _catalog_size(self) -> int:
        size: int = self._fitted(self.n_tracks, "catalog size")
        return size

    def _bound_view(self, n: int) -> SessionView:
        """The bound view, checked against a batch of n observations."""
        if self.view is None:
            raise RuntimeError(
                f"the {self.name} agent reads the env's sessions: "
                "bind it first, agents.bind(agent, env)"
            )
        if self.view.n != n:
            raise ValueError(f"got {n} observations for {self.view.n} bound sessions")
        return self.view

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """A track per observation; `state` is the tracks played so far (SB3's recurrent state)."""
        actions, played = act_remembering(
            self._act, observation, state, episode_start, deterministic, self.obs_dim, self.n_tracks
        )
        return sb3_actions(observation, actions), played

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        """Track ids (n,) for observations (n, obs_dim).

        Given each episode's played tracks (n, t).
        """
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        """What `save` writes beside the config."""
        return {}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what `_arrays` returned."""

    def resolved_settings(self) -> dict[str, Any]:
        """Settings the config leaves to module defaults (None fields), as training resolves them.

        Saved with the agent; a cache refits when they change (e.g. re-chosen defaults).
        """
        return {}

    def save(self, path: str | Path) -> None:
        """Write the config, sizes and learned arrays (`.npz`, no pickle), atomically."""
        arrays = self._arrays()
        save_weights(
            path,
            self.name,
            self.mode,
            self.config,
            arrays,
            resolved=self.resolved_settings(),
            n_tracks=self.n_tracks,
            obs_dim=self.obs_dim,
        )

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read an agent written by `save`."""
        header, arrays = load_weights(path, cls.name)
        try:
            return cls.from_weights(header, arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise AgentFileError(f"{path}: {error}") from None

    @classmethod
    def from_weights(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Self:
        """The agent a file's header and arrays (from `load_weights`) describe."""
        agent = cls(header["mode"], cls.config_type(**header["config"]))
        agent.n_tracks, agent.obs_dim = header.get("n_tracks"), header.get("obs_dim")
        for name, array in arrays.items():
            if np.issubdtype(array.dtype, np.number) and not np.isfinite(array).all():
                raise AgentFileError(
                    f"the {cls.name} agent's array {name} holds NaN or infinite values"
                )
        agent._set_arrays(arrays)
        return agent


def preset(agent: type[BaseAgent], name: str, doc: str, **defaults: Any) -> type[BaseAgent]:
    """`agent` under another registry name, its config with other defaults (`doc` says why).

    E.g. the DPO family and the agents trained against the pessimistic ensemble. The preset's
    files carry its name, and its config every field of `agent`'s.
    """
    base = agent.config_type
    known = {f.name: f for f in fields(base)}
    unknown = sorted(set(defaults) - set(known))
    if unknown:
        raise ValueError(f"{agent.name} has no config field(s) {', '.join(unknown)}")
    title = "".join(part.title() for part in name.split("_"))
    namespace = {"__doc__": doc, "__module__": agent.__module__}
    config = make_dataclass(
        f"{title}Config",
        [
            (key, known[key].type, dataclasses.field(default=value, metadata=known[key].metadata))
            for key, value in defaults.items()
        ],
        bases=(base,),
        frozen=True,
        namespace=namespace,
    )
    return type(f"{title}Agent", (agent,), {**namespace, "name": name, "config_type": config})


class DeterministicAgent(BaseAgent):
    """An agent whose policy is deterministic: all its mass on the track `_act` plays."""

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """One-hot rows: the track the agent plays after the tracks `state`.

        # (n, n_tracks)
        """
        actions, _ = act_remembering(self._act, observation, state, None, True, self.obs_dim)
        probabilities = np.zeros((len(actions), self._catalog_size()))
        probabilities[np.arange(len(actions)), actions] = 1.0
        return probabilities


class DistributionAgent(BaseAgent):
    """An agent that acts by drawing from its `action_probabilities`.

    It plays the most likely track if `deterministic`.
    """

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The distribution over the catalog for each observation.

        Given the played tracks `state`.

        # (n, n_tracks)
        """
        raise NotImplementedError

    def _act(self, observation: np.ndarray, played: np.ndarray, deterministic: bool) -> np.ndarray:
        return self._choose(self.action_probabilities(observation, played), deterministic)

    def _choose(self, probabilities: np.ndarray, deterministic: bool) -> np.ndarray:
        """The most likely track of each row if `deterministic`.

        Else one drawn with the agent's generator.
        """
        if deterministic:
            return probabilities.argmax(axis=1)
        return sample_categorical(probabilities, self.rng.random(len(probabilities)))


class PolicyAgent(DistributionAgent):
    """Acting, probabilities and saving of agents whose policy is a `TrackPolicy` (BC, DPO)."""

    policy: TrackPolicy | None = None

    def _build(self, obs_dim: int, catalog: Catalog) -> TrackPolicy:
        torch.manual_seed(self.config.seed)
        memory = catalog.unit_embeddings if self.config.remember_played else None
        self.policy = TrackPolicy(
            obs_dim,
            track_content(catalog),
            self.config.hidden,
            memory,
            profile_dim=0 if memory is None else catalog.embedding_dim,
            skipped_index=_skipped_index(obs_dim),
        )
        return self.policy

    def _network(self) -> TrackPolicy:
        policy: TrackPolicy = self._fitted(self.policy, "policy")
        return policy

    @property
    def remembers_played(self) -> bool:
        """Whether the policy reads the tracks the session has played."""
        return self._network().memory_dim > 0

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The policy's distribution over the catalog for each observation.

        # (n, n_tracks)

        `state` (n, T): each session's tracks so far, -1 padded (None: none played).
        """
        policy = self._network()
        obs = as_batch(observation, policy.obs_dim)
        return policy.probabilities(obs, played_tracks(state, None, len(obs), self.n_tracks))

    def _arrays(self) -> dict[str, np.ndarray]:
        policy = self._network()
        arrays = module_arrays(policy, "policy/")
        arrays["obs_dim"] = np.array(policy.obs_dim)
        arrays["profile_dim"] = np.array(policy.profile_dim)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        if (
            "obs_dim" not in arrays
            or "profile_dim" not in arrays
            or "policy/content" not in arrays
            or "policy/memory" not in arrays
        ):
            raise AgentFileError(f"the {self.name} agent file holds no policy")
        memory = arrays["policy/memory"] if arrays["policy/memory"].shape[1] else None
        self.policy = TrackPolicy(
            int(arrays["obs_dim"]),
            arrays["policy/content"],
            self.config.hidden,
            memory,
            profile_dim=int(arrays["profile_dim"]),
            skipped_index=_skipped_index(int(arrays["obs_dim"])),
        )
        load_module_arrays(self.policy, arrays, "policy/")


def _skipped_index(obs_dim: int) -> int | None:
    """Where a listening env's observation flags a skipped last track (None if it is too short)."""
    return LAST_SKIPPED_INDEX if obs_dim > LAST_SKIPPED_INDEX else None
