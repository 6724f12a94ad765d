"""Score any agent the same way.

Batched episodes in the world model or in the reference world, the shared metrics, and off-policy
estimates from the logged propensities.

Every agent sees the same starting histories (held-out listeners) and the same random streams
for a given seed, so differences between agents are differences between policies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from agents.data import EPISODE_LENGTH
from agents.protocol import Agent, bound, needs_ensemble, needs_view
from amrs_gym.bundle import Bundle
from amrs_gym.metrics import Episodes, evaluate_episodes, off_policy_estimates
from amrs_gym.reference_world import ReferenceWorld
from amrs_gym.reward import Utility
from amrs_gym.simulator import ListeningSessions, LoggedSteps, SessionConfig, replay_logs
from amrs_gym.simulator.config import MAX_SESSIONS
from amrs_gym.validation import check_choice, check_int

Evaluator = Literal["world_model", "reference"]
EVALUATORS: tuple[Evaluator, ...] = ("world_model", "reference")


@dataclass(frozen=True)
class Evaluation:
    """Episodes an agent played and their shared metrics."""

    episodes: Episodes
    metrics: dict[str, float]
    penalty: np.ndarray | None = None
    """Per-step pessimism penalty (episodes, steps) in pessimistic sessions: the utility is
    `episodes.utility + penalty` (None elsewhere)."""


def rollout(
    agent: Agent,
    sessions: SessionConfig | str,
    evaluator: Evaluator = "world_model",
    n_episodes: int = 500,
    seed: int | tuple[int, ...] = 0,
    world: ReferenceWorld | None = None,
    logged_distribution: np.ndarray | None = None,
    watch: Callable[[ListeningSessions, np.ndarray], None] | None = None,
) -> Evaluation:
    """Play `n_episodes` episodes of `sessions` all at once as one batch, and score them.

    `sessions` is a `SessionConfig`, or a mode for the defaults. In the world model, affect is the
    model's predicted valence/arousal; in the reference world it is the listener's true latent
    affect. Engagement and like rate are the expectations the utility used (the evaluator's own).
    Stochastic agents sample (`deterministic=False`), reseeded with `seed` if they have a `seed`
    method. Episodes start from the config's starting sessions (by default the shipped held-out
    listeners'; training listeners' logs validate a setting without touching the test listeners).
    Episode i draws from `default_rng([*seed, i])`, so a tuple seed gives each caller's batch its
    own streams (the stress tests: one per scenario). `world` replaces the shipped reference world
    (evaluator "reference" only), e.g. one with a dynamic switched off. `watch(sessions, actions)`
    is called before each step with the actions about to be played (to read what the simulator
    predicts of them; it must not step the sessions).
    """
    config = SessionConfig(sessions) if isinstance(sessions, str) else sessions
    check_int("n_episodes", n_episodes, 1, MAX_SESSIONS)
    for part in np.atleast_1d(seed).tolist():
        check_int("seed", part, 0)
    if needs_ensemble(agent) and not config.ensemble:
        config = replace(config, ensemble=True)  # it reads the members' disagreement
    check_choice("evaluator", evaluator, EVALUATORS)
    if agent.mode != config.mode:
        raise ValueError(f"the agent was built for mode {agent.mode!r}, not {config.mode!r}")
    if world is not None and evaluator != "reference":
        raise ValueError("a world can only be given to the reference evaluator")
    outcomes = config.reference_outcomes(world) if evaluator == "reference" else None
    simulated = config.create(n_episodes, outcomes)
    fitted_for = getattr(agent, "n_tracks", None)
    if fitted_for is not None and fitted_for != simulated.catalog.n_tracks:
        raise ValueError(
            f"the {agent.name} agent was fitted for {fitted_for} tracks, "
            f"the sessions' catalog has {simulated.catalog.n_tracks}"
        )
    utility, steps = simulated.utility, config.episode_length
    rngs = [np.random.default_rng([*np.atleast_1d(seed), i]) for i in range(n_episodes)]
    simulated.reset(np.arange(n_episodes), rngs, cold=config.start == "cold")
    if hasattr(agent, "seed"):
        agent.seed(seed)
    shape = (n_episodes, steps)
    tracks, utilities = np.zeros(shape, dtype=np.int64), np.zeros(shape)
    engagement, like, penalty = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    valence, arousal = np.zeros((n_episodes, steps + 1)), np.zeros((n_episodes, steps + 1))
    valence[:, 0], arousal[:, 0] = simulated.evaluator_affect().T
    episode_start = np.ones(n_episodes, dtype=bool)
    state: Any = None
    with bound(agent, simulated.view()):
        for t in range(steps):
            actions, state = agent.predict(simulated.observations(), state, episode_start)
            actions = simulated.check_actions(np.asarray(actions).reshape(-1))
            if watch is not None:
                watch(simulated, actions)
            rewards, info = simulated.step(actions, rngs)
            episode_start[:] = False
            tracks[:, t], utilities[:, t] = actions, rewards
            engagement[:, t], like[:, t] = info["expected_engagement"], info["like_probability"]
            penalty[:, t] = info.get("pessimism_penalty", 0.0)
            valence[:, t + 1], arousal[:, t + 1] = info["valence"], info["arousal"]
    episodes = Episodes(tracks, utilities, valence, arousal, engagement, like)
    metrics = evaluate_episodes(
        episodes, utility, simulated.catalog.unit_embeddings, logged_distribution
    )
    return Evaluation(episodes, metrics, penalty if simulated.pessimism else None)


def off_policy(agent: Agent, steps: LoggedSteps, clip: float = 100.0) -> dict[str, float]:
    """IPS and SNIPS of the agent's per-step utility on logged steps.

    The steps are held-out listeners' logs, replayed. For agents that expose
    `action_probabilities` from the observation and their state (the session's played tracks,
    rebuilt from the logs); NaN for others and for session-aware agents.
    """
    if not np.isfinite(steps.propensities).all():
        raise ValueError(
            "off-policy estimates need the logging policy's propensities: these logs have none "
            "(column propensity)"
        )
    probabilities = getattr(agent, "action_probabilities", None)
    if probabilities is None or needs_view(agent):
        return {"ips_utility": float("nan"), "snips_utility": float("nan")}
    played = steps.played_before(EPISODE_LENGTH)
    chosen = np.empty(len(steps))
    for first in range(0, len(steps), 4096):
        block = slice(first, first + 4096)
        step_probabilities = probabilities(steps.observations[block], played[block])
        chosen[block] = np.take_along_axis(step_probabilities, steps.actions[block, None], 1)[:, 0]
    estimate = off_policy_estimates(chosen, steps.propensities, steps.rewards, clip=clip)
    return {"ips_utility": estimate["ips_utility"], "snips_utility": estimate["snips_utility"]}


def held_out_steps(
    mode: str, utility: Utility | None = None, bundle: Bundle | None = None
) -> LoggedSteps:
    """The bundle's held-out (test) listeners' logged sessions of `mode`, replayed.

    Data no agent trained on (the shipped bundle's unless `bundle` is given).
    """
    config = SessionConfig(mode, utility=utility, bundle=bundle)
    return replay_logs(config, progress=False)
