"""The agent protocol: SB3's `predict`, plus `fit`, `save` and `load`.

`Agent.predict` is exactly stable-baselines3's `PolicyPredictor.predict`, so SB3's
`evaluate_policy`, the vector env and `agents.evaluation` drive every agent alike. The tracks
an episode has played travel in SB3's recurrent `state` (returned, passed back, cleared by
`episode_start`). An agent that needs more than that (the production policy needs the
listener's id, greedy the world model's one-step utility) is *session-aware*: it is bound
once, with one line, to a read-only view of the sessions it acts in::

    agents.bind(agent, env)        # env: a single or vector listening env (wrappers allowed)
    evaluate_policy(agent, env)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

import numpy as np

from amrs_gym.simulator import SessionView

if TYPE_CHECKING:
    from agents.data import TrainingData


@runtime_checkable
class Agent(Protocol):
    """A recommender for one mode."""

    name: ClassVar[str]
    mode: str

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Track ids for a batch of observations (n, obs_dim) -> ((n,), state).

        One observation (obs_dim,) gets one action of shape (), as SB3's `predict` returns it.
        """
        ...

    def fit(self, data: TrainingData) -> Self:
        """Train from the training listeners' logs and/or world-model rollouts."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the agent (weights only) to `path`."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read an agent written by `save`."""
        ...


@runtime_checkable
class ProbabilisticAgent(Agent, Protocol):
    """An agent that can say how likely it is to play each track (for off-policy estimates)."""

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """Its distribution over the catalog given observations and its state.

        # (n, n_tracks)
        """
        ...


@runtime_checkable
class SessionAware(Protocol):
    """An agent that reads a `SessionView` of its sessions besides the observation."""

    needs_view: ClassVar[bool]
    view: SessionView | None

    def bind(self, view: SessionView | None) -> Self:
        """Act in the sessions `view` shows from now on (None unbinds)."""
        ...


A = TypeVar("A")


def needs_view(agent: object) -> bool:
    """Whether `agent` reads a session view (and so must be bound before it acts)."""
    return bool(getattr(agent, "needs_view", False))


def needs_ensemble(agent: object) -> bool:
    """Whether `agent` reads the ensemble's disagreement (its sessions must run the ensemble)."""
    return bool(getattr(agent, "needs_ensemble", False))


def bind(agent: A, target: Any) -> A:
    """Bind a session-aware agent to the sessions of `target`.

    `target` is an env, a vector env or a `SessionView`; any other agent is returned unchanged.
    An agent built for another mode, or fitted for another catalog size, than a listening env's
    is refused (session-aware or not: it would act on the wrong utility or the wrong tracks).
    """
    if isinstance(target, SessionView):
        view: SessionView | None = target
    else:
        view = _view_of(target, required=needs_view(agent))
    if view is not None:
        _check_fits(agent, view)
    if needs_view(agent):
        agent.bind(view)  # type: ignore[attr-defined]  # needs_view agents are SessionAware
    return agent


def _check_fits(agent: Any, view: SessionView) -> None:
    """Refuse an agent of another mode or catalog size than the sessions'."""
    name = getattr(agent, "name", type(agent).__name__)
    mode = getattr(agent, "mode", None)
    if mode is not None and mode != view.mode:
        raise ValueError(f"the {name} agent was built for mode {mode!r}, the env is {view.mode!r}")
    tracks = getattr(agent, "n_tracks", None)
    if tracks is not None and tracks != view.n_tracks:
        raise ValueError(
            f"the {name} agent was fitted for {tracks} tracks, the env's catalog has "
            f"{view.n_tracks}"
        )


def _view_of(env: Any, required: bool = True) -> SessionView | None:
    """The listening sessions of `env`; None for another env unless `required`."""
    unwrapped = getattr(env, "unwrapped", env)
    if not hasattr(unwrapped, "session_view"):
        if not required:
            return None
        raise ValueError(
            f"{type(unwrapped).__name__} has no sessions to bind an agent to (not a listening env)"
        )
    view: SessionView = unwrapped.session_view()
    return view


@contextmanager
def bound(agent: Any, view: SessionView) -> Iterator[None]:
    """Bind `agent` to `view` for the block, then restore its previous binding."""
    if not needs_view(agent):
        yield
        return
    previous = agent.view
    agent.bind(view)
    try:
        yield
    finally:
        agent.bind(previous)
