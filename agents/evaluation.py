"""Score any agent the same way: batched episodes in the world model or in the reference world, the
shared metrics, and off-policy estimates from the logged propensities.

Every agent sees the same starting histories (held-out listeners) and the same random streams
for a given seed, so differences between agents are differences between policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from agents.base import EPISODE_LENGTH, HISTORY_LENGTH, Agent
from agents.replay import LoggedSteps, replay_logs
from amrs_gym import defaults
from amrs_gym.envs.reference import default_reference_world
from amrs_gym.envs.sessions import build_sessions, load_shared_engine
from amrs_gym.metrics import Episodes, evaluate_episodes, off_policy_estimates
from amrs_gym.reference_world.world import ReferenceWorld
from amrs_gym.reward import Utility, default_utility

Evaluator = Literal["world_model", "reference"]
EVALUATORS: tuple[Evaluator, ...] = ("world_model", "reference")


@dataclass(frozen=True)
class Evaluation:
    """Episodes an agent played and their shared metrics."""

    episodes: Episodes
    metrics: dict[str, float]


def rollout(
    agent: Agent,
    mode: str,
    evaluator: Evaluator = "world_model",
    n_episodes: int = 500,
    seed: int | tuple[int, ...] = 0,
    utility: Utility | None = None,
    checkpoint: str | Path | None = None,
    logged_distribution: np.ndarray | None = None,
    episode_length: int = EPISODE_LENGTH,
    start_sessions: pd.DataFrame | None = None,
    history_length: int = HISTORY_LENGTH,
    world: ReferenceWorld | None = None,
) -> Evaluation:
    """Play `n_episodes` episodes of `mode` (all at once, as one batch) and score them.

    In the world model, affect is the model's predicted valence/arousal; in the reference
    world it is the listener's true latent affect. Engagement and like rate are the
    expectations the utility used (the evaluator's own). Stochastic agents sample
    (`deterministic=False`), reseeded with `seed` if they have a `seed` method. Episodes start
    from the shipped held-out listeners' histories unless `start_sessions` (logs) is given, e.g.
    training listeners' logs to validate a setting without touching the test listeners.
    Episode i draws from `default_rng([*seed, i])`, so a tuple seed gives each caller's batch its
    own streams (the stress tests: one per scenario). `world` replaces the shipped reference
    world (evaluator "reference" only), e.g. one with a dynamic switched off.
    """
    if evaluator not in EVALUATORS:
        raise ValueError(f"unknown evaluator {evaluator!r}; expected one of {', '.join(EVALUATORS)}")
    if agent.mode != mode:
        raise ValueError(f"the agent was built for mode {agent.mode!r}, not {mode!r}")
    if world is not None and evaluator != "reference":
        raise ValueError("a world can only be given to the reference evaluator")
    if evaluator == "reference":
        world = world or default_reference_world()
    sessions = build_sessions(n_episodes, mode, "mixed", "history", history_length, episode_length,
                              utility or default_utility(mode), checkpoint, world=world, start_frame=start_sessions)
    utility = sessions.utility
    rngs = [np.random.default_rng([*np.atleast_1d(seed), i]) for i in range(n_episodes)]
    sessions.reset(np.arange(n_episodes), rngs, cold=False)
    if hasattr(agent, "seed"):
        agent.seed(seed)
    shape = (n_episodes, episode_length)
    tracks, utilities = np.zeros(shape, dtype=np.int64), np.zeros(shape)
    engagement, like = np.zeros(shape), np.zeros(shape)
    valence, arousal = np.zeros((n_episodes, episode_length + 1)), np.zeros((n_episodes, episode_length + 1))
    if world is None:
        valence[:, 0], arousal[:, 0] = sessions.affect.T
    else:
        valence[:, 0], arousal[:, 0] = sessions.truth.valence, sessions.truth.arousal
    key = "predicted" if world is None else "sampled"  # the reference env's "sampled" is the truth
    episode_start = np.ones(n_episodes, dtype=bool)
    state: Any = None
    for t in range(episode_length):
        actions, state = agent.predict(sessions.observations(), state, episode_start, sessions=sessions)
        actions = sessions.check_actions(np.asarray(actions).reshape(-1))
        rewards, info = sessions.step(actions, rngs)
        episode_start[:] = False
        components = info["utility_components"]
        tracks[:, t], utilities[:, t] = actions, rewards
        engagement[:, t] = _expectation(components["engagement"], utility.engagement_weight, info["expected_engagement"])
        like[:, t] = _expectation(components["like"], utility.like_weight, info["like_probability"])
        valence[:, t + 1], arousal[:, t + 1] = info[f"valence_{key}"], info[f"arousal_{key}"]
    episodes = Episodes(tracks, utilities, valence, arousal, engagement, like)
    metrics = evaluate_episodes(episodes, utility, sessions.catalog.unit_embeddings, logged_distribution)
    return Evaluation(episodes, metrics)


def _expectation(weighted: np.ndarray, weight: float, fallback: np.ndarray) -> np.ndarray:
    """The unweighted expectation behind a utility term (the env's prediction if the term is switched off)."""
    return weighted / weight if weight else np.asarray(fallback, dtype=np.float64)


def off_policy(agent: Agent, steps: LoggedSteps, clip: float = 100.0) -> dict[str, float]:
    """IPS and SNIPS of the agent's per-step utility on logged steps (held-out listeners' logs, replayed),
    for agents that expose `action_probabilities` from the observation alone (plus the session's played
    tracks, rebuilt from the logs, for agents that remember them); NaN otherwise."""
    probabilities = getattr(agent, "action_probabilities", None)
    if probabilities is None or getattr(agent, "needs_sessions", False):
        return {"ips_utility": float("nan"), "snips_utility": float("nan")}
    played = steps.played_before(EPISODE_LENGTH) if getattr(agent, "remembers_played", False) else None
    chosen = np.empty(len(steps))
    for first in range(0, len(steps), 4096):
        block = slice(first, first + 4096)
        extra = {} if played is None else {"played": played[block]}
        step_probabilities = probabilities(steps.observations[block], **extra)
        chosen[block] = np.take_along_axis(step_probabilities, steps.actions[block, None], 1)[:, 0]
    estimate = off_policy_estimates(chosen, steps.propensities, steps.rewards, clip=clip)
    return {"ips_utility": estimate["ips_utility"], "snips_utility": estimate["snips_utility"]}


def held_out_steps(mode: str, utility: Utility | None = None) -> LoggedSteps:
    """The held-out (test) listeners' logged sessions of `mode`, replayed: data no agent trained on."""
    split = defaults.default_split()
    return replay_logs(split.test, mode, utility or default_utility(mode),
                       load_shared_engine(str(defaults.CHECKPOINT_PATH)), defaults.default_catalog(), progress=False)
