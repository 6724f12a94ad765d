"""Off-policy estimates of a policy's per-step utility from logged sessions alone.

What a platform can compute from its logs (with the logging policy's propensities), no rollout:

- `ips`: step-wise importance sampling, the mean of rho * r with rho = pi(a|s) / mu(a|s), clipped.
- `snips`: step-wise self-normalised, sum(rho * r) / sum(rho).
- `pdwis`: per-decision weighted IS: a step's weight is the product of its session's rhos so far,
  normalised over sessions at each step; the mean over steps.
- `direct`: one-step direct method, sum over tracks of pi(a|s) times the world model's expected
  utility of a at the logged state.
- `dr`: one-step doubly robust, `direct` plus rho times the logged utility's residual from the
  world model's expectation.
- `fqe`: fitted Q evaluation (Le et al. 2019; d3rlpy's `FQE` with a Q-function of the state and
  the track's content, or its `DiscreteFQE`) on the logged transitions, next tracks drawn from
  the policy; its value at each session's first state over the session's length.

The step-wise estimators score the policy on the logged states (they cannot see how it would move
listeners elsewhere); `pdwis` and `fqe` account for the whole session. Every estimator takes
per-session weights, so bootstrap intervals resample sessions by reweighting them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.protocol import bound
from amrs_gym.compat import quiet_legacy_gym
from amrs_gym.sampling import sample_categorical
from amrs_gym.simulator import ListeningSessions, LoggedSteps, SessionConfig, replay_logs
from amrs_gym.validation import check_choice, check_fields

LOG_ESTIMATORS = ("ips", "snips", "pdwis", "direct", "dr", "fqe")
Q_FUNCTIONS = ("content", "tracks")


@dataclass(frozen=True)
class FQESettings:
    """d3rlpy FQE settings.

    Chosen on training listeners' logs by the error on the logging policy's own logged value
    (benchmarks/NOTES.md, "FQE that reads track content").
    """

    q_function: str = "content"
    """"content": Q reads the state and the track's content (embedding and features; d3rlpy's
    `FQE`), so what is learnt of one track carries to similar ones; "tracks": one output per
    track (d3rlpy's `DiscreteFQE`), which a few thousand logged steps over a large catalog leave
    mostly untrained."""

    n_steps: int = field(default=500, metadata={"min": 1})
    """Gradient steps."""
    batch_size: int = field(default=256, metadata={"min": 1})
    """Transitions per step."""
    learning_rate: float = field(default=3e-4, metadata={"min": 1e-9, "max": 1.0})
    """Adam's step size."""
    hidden: int = field(default=128, metadata={"min": 1})
    """Width of the Q-network's two hidden layers."""
    target_update_interval: int = field(default=10, metadata={"min": 1})
    """Steps between target-network copies (a 20-step horizon needs 20 copies to carry value
    back to the first step; 500 steps make 50)."""

    def __post_init__(self) -> None:
        check_fields(self)
        check_choice("q_function", self.q_function, Q_FUNCTIONS)


@dataclass(frozen=True)
class PolicyOnLogs:
    """What one policy makes of every logged step (N steps, in `LoggedSteps` order)."""

    probability: np.ndarray  # (N,) the policy's probability of the logged track
    direct: np.ndarray  # (N,) sum over tracks of pi(track | state) * the model's expected utility
    draws: np.ndarray  # (N, samples) tracks drawn from the policy at each logged state


@dataclass(frozen=True)
class LoggedEvidence:
    """Logged steps, the world model's view of them and each policy's, for the estimators."""

    steps: LoggedSteps
    n_tracks: int
    modelled: np.ndarray  # (N,) the world model's expected utility of the logged track
    session: np.ndarray  # (N,) each step's session index, 0..S-1
    policies: dict[str, PolicyOnLogs] = field(default_factory=dict)
    first_values: dict[str, np.ndarray] = field(default_factory=dict)
    """FQE's value of each session's first state per policy, divided by the session's length.
    # (S,)"""
    track_content: np.ndarray | None = None
    """What a content-reading FQE knows of each track: unit embedding and features.
    # (n_tracks, F)"""

    @property
    def n_sessions(self) -> int:
        """Number of logged sessions S."""
        return int(self.session.max()) + 1 if len(self.session) else 0


def replay_policies(
    policies: Mapping[str, Any],
    config: SessionConfig,
    samples: int = 16,
    seed: int = 0,
    progress: bool = False,
    n_sessions: int | None = None,
) -> LoggedEvidence:
    """Replay `config`'s logged sessions once, asking every policy about each logged state.

    Policies are agents with `action_probabilities` (session-aware ones are bound to the replay's
    sessions); the world model (the config's) predicts every track's one-step utility. Only
    `n_sessions` of the sessions, drawn at random, if given (the world model's catalog-wide
    prediction at every logged state is most of the cost).

    Raises:
        ValueError: a policy without `action_probabilities`, or logs without propensities.
    """
    for name, policy in policies.items():
        if not callable(getattr(policy, "action_probabilities", None)):
            raise ValueError(f"policy {name!r} has no action_probabilities to weight logs with")
    rng = np.random.default_rng(seed)
    n_starts = len(config.setup.starts)
    if n_sessions is not None and n_sessions < 1:
        raise ValueError(f"n_sessions must be at least 1, got {n_sessions}")
    starts = (
        None
        if n_sessions is None or n_sessions >= n_starts
        else np.sort(rng.choice(n_starts, n_sessions, replace=False))
    )

    def watch(sessions: ListeningSessions, actions: np.ndarray) -> dict[str, np.ndarray]:
        n, n_tracks = sessions.n, sessions.catalog.n_tracks
        every = np.broadcast_to(np.arange(n_tracks), (n, n_tracks))
        modelled = sessions.predicted_utility(every)  # (n, n_tracks)
        observations, played = sessions.observations(), sessions.played.copy()
        out = {"modelled": modelled[np.arange(n), actions]}
        view = sessions.view()
        for name, policy in policies.items():
            with bound(policy, view):
                p = np.asarray(policy.action_probabilities(observations, played), dtype=np.float64)
            out[f"{name}/probability"] = p[np.arange(n), actions]
            out[f"{name}/direct"] = (p * modelled).sum(axis=1)
            out[f"{name}/draws"] = sample_categorical(p, rng.random((n, samples)))
        return out

    steps = replay_logs(config, progress=progress, watch=watch, starts=starts)
    if not np.isfinite(steps.propensities).all():
        raise ValueError(
            "off-policy estimates need the logging policy's propensities: these logs have none "
            "(column propensity)"
        )
    _, session = np.unique(steps.session_id, return_inverse=True)
    extras = steps.extras
    catalog = config.setup.catalog
    return LoggedEvidence(
        steps=steps,
        n_tracks=catalog.n_tracks,
        modelled=extras["modelled"],
        session=session,
        policies={
            name: PolicyOnLogs(
                extras[f"{name}/probability"], extras[f"{name}/direct"], extras[f"{name}/draws"]
            )
            for name in policies
        },
        track_content=np.c_[catalog.unit_embeddings, catalog.features()].astype(np.float32),
    )


def importance_weights(evidence: LoggedEvidence, name: str, clip: float) -> np.ndarray:
    """The importance weights pi / mu of each logged step, clipped at `clip`.

    # (N,)
    """
    rho = evidence.policies[name].probability / np.maximum(evidence.steps.propensities, 1e-12)
    return np.minimum(rho, clip)


def cumulative_weights(rho: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Each step's product of its session's rhos up to it (rows: sessions' steps in order).

    # (N,)

    Example:
        >>> cumulative_weights(np.array([2.0, 0.5, 3.0, 1.0]), np.array([0, 1, 0, 1]))
        array([2., 1., 3., 3.])
    """
    weights = rho.astype(np.float64).copy()
    for t in range(1, int(step.max(initial=0)) + 1):
        rows = np.flatnonzero(step == t)
        weights[rows] *= weights[rows - 1]
    return weights


def estimate(
    evidence: LoggedEvidence,
    name: str,
    estimator: str,
    session_weights: np.ndarray | None = None,
    clip: float = 100.0,
) -> np.ndarray:
    """One estimator's per-step utility of policy `name`, once per row of session weights.

    `session_weights` (R, S) weighs each session (a bootstrap resample's counts); None is one row
    of ones. NaN where the estimator has nothing to weigh (every weight 0) or FQE was not fitted.

    # (R,)
    """
    if name not in evidence.policies:
        raise ValueError(
            f"policy {name!r}: not replayed in this evidence (it holds "
            f"{', '.join(sorted(evidence.policies))})"
        )
    counts = np.ones((1, evidence.n_sessions)) if session_weights is None else session_weights
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    if estimator == "fqe":
        values = evidence.first_values.get(name)
        if values is None:
            return np.full(len(counts), np.nan)
        return _ratio(counts @ values, counts.sum(axis=1))
    c = counts[:, evidence.session]  # (R, N)
    r, policy = evidence.steps.rewards, evidence.policies[name]
    rho = importance_weights(evidence, name, clip)
    if estimator == "ips":
        return _ratio(c @ (rho * r), c.sum(axis=1))
    if estimator == "snips":
        return _ratio(c @ (rho * r), c @ rho)
    if estimator == "direct":
        return _ratio(c @ policy.direct, c.sum(axis=1))
    if estimator == "dr":
        return _ratio(c @ (policy.direct + rho * (r - evidence.modelled)), c.sum(axis=1))
    if estimator == "pdwis":
        w, step = cumulative_weights(rho, evidence.steps.step), evidence.steps.step
        per_step = np.stack(
            [
                _ratio(c[:, step == t] @ (w * r)[step == t], c[:, step == t] @ w[step == t])
                for t in range(int(step.max(initial=-1)) + 1)
            ],
            axis=1,
        )  # (R, T)
        defined = np.isfinite(per_step)
        return _ratio(np.where(defined, per_step, 0.0).sum(axis=1), defined.sum(axis=1))
    raise ValueError(
        f"unknown estimator {estimator!r}; expected one of {', '.join(LOG_ESTIMATORS)}"
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """The quotient, NaN where the denominator is not positive."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, np.nan)


class _DrawnNextTracks:
    """Stands in for the evaluated algorithm inside d3rlpy's FQE.

    FQE asks it for the policy's action at each next observation of a minibatch; it finds the
    logged step that observation belongs to and answers with one of the tracks the policy drew
    there (a fresh one each time, so the target averages over the policy's distribution): the
    track's index, or its row of `content` when the Q-function reads track content.
    """

    def __init__(
        self,
        observations: np.ndarray,
        draws: np.ndarray,
        seed: int,
        content: np.ndarray | None = None,
    ):
        self._row = {o.tobytes(): i for i, o in enumerate(observations)}
        self._draws, self._rng, self._content = draws, np.random.default_rng(seed), content
        self.impl = self  # FQE reads `algo.impl.predict_best_action`

    def predict_best_action(self, x: torch.Tensor) -> torch.Tensor:
        rows = np.array([self._row.get(o.tobytes(), -1) for o in x.detach().cpu().numpy()])
        picks = self._rng.integers(0, self._draws.shape[1], len(rows))
        actions = np.where(rows >= 0, self._draws[np.maximum(rows, 0), picks], 0)  # -1: terminal
        if self._content is not None:
            return torch.from_numpy(self._content[actions])
        return torch.from_numpy(actions.astype(np.int64))


def _sampled_at_once(dataset: Any) -> Callable[[int], Any]:
    """d3rlpy's `sample_transition_batch` for `dataset`, without a Python call per transition.

    d3rlpy draws each transition's index with its own `np.random.randint` call and stacks the
    transitions one by one: half of an FQE fit's time. The legacy generator gives the same
    indices drawn all at once, so the batches (and FQE's values) are bit for bit d3rlpy's (tested).
    """
    from d3rlpy.dataset import TransitionMiniBatch

    episodes = dataset.episodes
    observations = np.concatenate([e.observations for e in episodes])
    actions = np.concatenate([e.actions for e in episodes]).astype(np.float32)
    rewards = np.concatenate([e.rewards for e in episodes]).astype(np.float32)
    firsts = np.cumsum([0] + [e.size() for e in episodes])[:-1]
    index = [np.arange(e.transition_count) for e in episodes]  # each episode's transitions
    rows = np.concatenate([first + i for first, i in zip(firsts, index, strict=True)])
    terminal = np.concatenate(
        [e.terminated & (i == e.size() - 1) for e, i in zip(episodes, index, strict=True)]
    )
    after = np.minimum(rows + 1, len(observations) - 1)  # the next row, unless terminal

    def sample(batch_size: int) -> Any:
        picked = np.random.randint(len(rows), size=batch_size)
        row, last = rows[picked], terminal[picked][:, None]
        return TransitionMiniBatch(
            observations=observations[row],
            actions=actions[row],
            rewards=rewards[row],
            next_observations=np.where(last, 0.0, observations[after[picked]]).astype(np.float32),
            next_actions=np.where(last, 0.0, actions[after[picked]]).astype(np.float32),
            terminals=last.astype(np.float32),
            intervals=np.ones((batch_size, 1), dtype=np.float32),
            transitions=[],
        )

    return sample


def fit_fqe(
    evidence: LoggedEvidence,
    name: str,
    settings: FQESettings | None = None,
    seed: int = 0,
) -> np.ndarray:
    """FQE's per-step value of each session's first state for policy `name` (stored, returned).

    d3rlpy's `FQE` over the tracks' content, or its `DiscreteFQE` (`settings.q_function`), on the
    logged transitions, each reward divided by its session's length (a session ends at its last
    logged step, no discount: the horizon is the session, and the observation carries the time in
    session).

    # (S,)
    """
    quiet_legacy_gym()
    import d3rlpy
    from d3rlpy.constants import ActionSpace
    from d3rlpy.dataset import MDPDataset
    from d3rlpy.logging import NoopAdapterFactory
    from d3rlpy.models import VectorEncoderFactory
    from d3rlpy.ope import FQE, DiscreteFQE, FQEConfig

    settings = settings or FQESettings()
    steps, policy = evidence.steps, evidence.policies[name]
    content = settings.q_function == "content"
    if content and evidence.track_content is None:
        raise ValueError(
            "q_function 'content' needs the evidence's track_content (replay_policies sets it)"
        )
    lengths = np.bincount(evidence.session).astype(np.float64)  # (S,)
    mean = steps.observations.mean(axis=0)
    std = np.maximum(steps.observations.std(axis=0), 1e-2)
    observations = ((steps.observations - mean) / std).astype(np.float32)
    tracks = evidence.track_content if content else None
    dataset = MDPDataset(
        observations=observations,
        actions=steps.actions.astype(np.int64) if tracks is None else tracks[steps.actions],
        # each reward over its session's length: the first state's value is then the per-step
        # utility itself, of order 1, which Adam reaches in a few hundred steps (sums of 20 are not)
        rewards=(steps.rewards / lengths[evidence.session]).astype(np.float32),
        terminals=steps.timeouts.astype(np.float32),
        action_space=ActionSpace.DISCRETE if tracks is None else ActionSpace.CONTINUOUS,
        action_size=evidence.n_tracks if tracks is None else tracks.shape[1],
    )
    dataset.sample_transition_batch = _sampled_at_once(dataset)  # type: ignore[method-assign]
    d3rlpy.seed(seed)
    torch.set_num_threads(1)
    config = FQEConfig(
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        gamma=1.0,
        target_update_interval=settings.target_update_interval,
        encoder_factory=VectorEncoderFactory(hidden_units=[settings.hidden] * 2),
    )
    algo = _DrawnNextTracks(observations, policy.draws, seed, tracks)
    fqe = (FQE if content else DiscreteFQE)(
        algo=algo,  # type: ignore[arg-type]
        config=config,
        device="cpu",
    )
    fqe.fit(
        dataset,
        n_steps=settings.n_steps,
        n_steps_per_epoch=settings.n_steps,
        experiment_name=f"fqe_{name}",
        with_timestamp=False,
        logger_adapter=NoopAdapterFactory(),
        show_progress=False,
        save_interval=settings.n_steps + 1,
    )
    first = np.flatnonzero(steps.step == 0)  # each session's first row, in session order
    state, draws = torch.from_numpy(observations[first]), policy.draws[first]  # (S, d), (S, m)
    q_function = fqe.impl._q_func_forwarder
    with torch.no_grad():
        if tracks is None:
            q = np.take_along_axis(q_function.compute_expected_q(state).double().numpy(), draws, 1)
        else:
            q = np.stack(
                [
                    q_function.compute_expected_q(state, torch.from_numpy(tracks[column]))
                    .double()
                    .numpy()[:, 0]
                    for column in draws.T
                ],
                axis=1,
            )  # (S, m)
    evidence.first_values[name] = q.mean(axis=1)
    return evidence.first_values[name]


def fit_fqe_all(
    evidence: LoggedEvidence,
    settings: FQESettings | None = None,
    seed: int = 0,
    progress: bool = False,
) -> None:
    """`fit_fqe` for every policy of `evidence`."""
    for name in tqdm(list(evidence.policies), desc="FQE", disable=not progress):
        fit_fqe(evidence, name, settings, seed)


__all__ = [
    "LOG_ESTIMATORS",
    "FQESettings",
    "LoggedEvidence",
    "PolicyOnLogs",
    "estimate",
    "fit_fqe",
    "fit_fqe_all",
    "replay_policies",
]
