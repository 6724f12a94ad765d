"""AffectiveListeningEnv: the learned world model as a Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from amrs_gym.envs.checks import check_made_as_registered, check_render_mode, reset_options
from amrs_gym.simulator import (
    OutcomeSource,
    SessionConfig,
    SessionView,
    WorldModelOutcomes,
)
from amrs_gym.simulator.config import START_CHOICES
from amrs_gym.validation import check_choice


class AffectiveListeningEnv(gym.Env[np.ndarray, np.int64]):
    """A listening session simulated by the learned world model; reward = the mode's utility.

    ## Description
    An episode continues a held-out listener's logged session (or starts a cold one) in
    one mode (energize, focus, calm or sleep). Each step the agent picks a track from the
    catalog; the world model predicts the listener's response (skip, fraction listened,
    like, valence/arousal after the track), samples an outcome and continues from it.
    Registered as `AMRS-Energize-v0`, `AMRS-Focus-v0`, `AMRS-Calm-v0`, `AMRS-Sleep-v0`, and
    pessimistic as `AMRS-<Mode>-Pessimistic-v0` (the ensemble, `pessimism=DEFAULT_PESSIMISM`).

    ## Action Space
    `Discrete(n_tracks)`: the catalog index of the next track (1,200 in the default catalog).

    ## Observation Space
    A flat `Box` of float32, 15 + d_model + embedding_dim values (95 with the default model and
    catalog):

    | index | field | min | max | unit |
    | --- | --- | --- | --- | --- |
    | 0-3 | mode one-hot (energize, focus, calm, sleep) | 0 | 1 | - |
    | 4-5 | cohort one-hot (consumer, clinical) | 0 | 1 | - |
    | 6 | time in the episode, step / episode_length | 0 | 1 | fraction |
    | 7-8 | world model's current valence, arousal estimate | -1 | 1 | circumplex |
    | 9-10 | the mode's target valence, arousal | -1 | 1 | circumplex |
    | 11 | distance from the estimate to the target | 0 | 2.83 | circumplex |
    | 12-14 | last step's engagement, skipped, like probability | 0 | 1 | fraction |
    | 15-78 | world model context vector (summary of the session so far) | -10 | 10 | - |
    | 79-94 | listener profile (below) | -1 | 1 | embedding |

    The listener profile is the engagement-weighted mean unit embedding of the tracks the
    listener's earlier logged sessions played (`amrs_gym.simulator.starts.listener_profiles`;
    zeros in a cold start): what a production recommender knows of a listener's taste.

    ## Rewards
    The mode's `amrs_gym.reward.Utility` (a dataclass; pass your own as `utility`):
    `engagement_weight * E[engagement] + like_weight * P(like) + progress_weight * (d - d')
    - distance_weight * d' - repeat_weight * repeats`, with d, d' the distance of the predicted
    valence/arousal to the target before and after the track. Focus adds
    `- steadiness_weight * |affect change|`, sleep adds `+ falling_arousal_weight * (a - a')`.
    Defaults: engagement 1, like 0.5, progress 10, distance 0.5, repeat 0.5, focus steadiness 2,
    sleep falling arousal 3. Expected values given the sampled trajectory are used, which
    lowers the reward's variance without changing its expectation.

    ## Starting State
    By default a random logged session of a held-out (test) listener in this mode and
    cohort, of which the last `history_length` tracks form the context. With
    `options={"start": "cold"}` (or `start="cold"`), only the session's starting report is kept.

    ## Episode End
    - Termination: never (a session has no terminal state).
    - Truncation: after `episode_length` steps. The env truncates itself (the ids register no
      `max_episode_steps`), so `gym.make` and `gym.make_vec` honour `episode_length` alike.

    ## Info
    Every key means the same in every listening env; "the evaluator" is what produces the
    outcomes: the world model here, the latent truth in the reference env.
    - `track_id`: the track played.
    - `engagement`, `skipped`: the response the session continues from (sampled here).
    - `skip_probability`, `expected_engagement`, `like_probability`: the evaluator's expectations
      (the last two are the reward's engagement and like terms).
    - `valence`, `arousal`: the listener's affect after the track as the evaluator has it (the
      reward's affect; here the world model's predicted mean).
    - `valence_predicted`, `arousal_predicted`: the world model's predicted mean affect after the
      track (the next observation's estimate).
    - `valence_sampled`, `arousal_sampled`: one realisation of that affect (here a draw from the
      predicted distribution).
    - `utility_components`: each weighted term of the utility (they sum to it; to the reward too
      unless the env is pessimistic).
    With `ensemble=True` (or `pessimism` > 0) the outcome is drawn from the members' mixture, and:
    - `uncertainty`: the members' standard deviation of skip, like, engagement, valence, arousal
      and the one-step utility (a dict of floats).
    - `utility`: the mixture's utility; `pessimism_penalty`: `pessimism * uncertainty["utility"]`;
      the reward is `utility - pessimism_penalty`.

    ## Arguments
    The fields of `amrs_gym.simulator.SessionConfig`, checked when the env is built:

    | parameter | type | default | meaning |
    | --- | --- | --- | --- |
    | mode | str | (set by the id) | energize, focus, calm or sleep |
    | cohort | str | "mixed" | consumer, clinical or mixed starting listeners |
    | start | str | "history" | "history" or "cold" |
    | history_length | int | 20 | logged tracks kept as context |
    | episode_length | int | 20 | steps per episode |
    | utility | Utility or None | None | reward; None means `default_utility(mode)` |
    | bundle | Bundle, directory or None | None | simulator bundle; None: the shipped one |
    | world_model | ListenerModel, path or None | None | a model or checkpoint; None: the bundle's |
    | start_sessions | DataFrame, path or None | None | start logs; None: the bundle's test ones |
    | catalog | Catalog, path or None | None | the catalog; None means the bundle's |
    | ensemble | bool | False | simulate with every member of the bundle's ensemble |
    | pessimism | float | 0.0 | lambda >= 0 of the pessimistic reward (implies ensemble) |
    | member | int | 0 | the listener of this member of the bundle's ensemble (0: its world model) |
    | production | callable or None | None | production's scorer (`SessionConfig.production`) |

    A bundle (`python -m amrs_gym.world_model.train --logs LOGS --out BUNDLE`) brings its own
    catalog, so the action space is `Discrete(n_tracks)` of that catalog. `start_sessions` are
    logs whose sessions start episodes; None means the bundle's held-out (test) listeners' (train
    agents on training listeners' logs).

    ## Version History
    - v0: first release.
    - v0, amrs-gym 0.2: same dynamics, reward and spaces. Info keys mean the same in every
      listening env (`valence`, `arousal` added; `skip_probability`, `expected_engagement`,
      `like_probability` are the evaluator's); any `ListenerModel` can drive the env
      (`world_model`, which replaces `checkpoint`).
    - v0, with simulator bundles: same dynamics; `bundle` (a platform's catalog, world model and
      listeners).
    - v0, with the ensemble: same dynamics, spaces and reward by default; `ensemble` and
      `pessimism` are new options, `AMRS-<Mode>-Pessimistic-v0` new ids. The observation keeps its
      layout: with the ensemble its context vector is the first member's (the one world model of
      the default env) and its affect estimate the mixture's.
    - v0, with member worlds: same dynamics, spaces and reward by default; `member=k` draws the
      listener's responses from member k of the ensemble, while the observation keeps the world
      model's context vector (each member's encoder has its own representation, which agents
      that read the context were trained on only as the world model's).
    - v0, with the propensity world model: same spaces and reward. The shipped world model also
      reads the production policy's propensity of each candidate, so its dynamics and context
      vector are a new model's: agents trained in the earlier one must be retrained (the agent
      cache is keyed by the bundle's fingerprint). `production` (a platform's own production
      scorer) is a new option.

    Example:
        >>> import gymnasium as gym, amrs_gym
        >>> env = gym.make("AMRS-Calm-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (95,)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> round(reward, 6) == round(sum(info["utility_components"].values()), 6)
        True
        >>> info["valence"] == info["valence_predicted"]  # the world model is the evaluator here
        True
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, mode: str, render_mode: str | None = None, **session: Any):
        """Build the sessions `SessionConfig(mode, **session)` describes (see Arguments).

        `render_mode` is Gymnasium's (what `gym.make` and SB3's `make_vec_env` pass): None only.
        """
        check_render_mode(render_mode)
        self.render_mode = render_mode
        self.config = SessionConfig.from_options(mode, **session)
        self.sessions = self.config.create(1, self._outcomes(self.config))
        self.mode, self.start = self.config.mode, self.config.start
        self.utility, self.catalog, self.model = (
            self.sessions.utility,
            self.sessions.catalog,
            self.sessions.model,
        )
        self.episode_length = self.config.episode_length
        self.observation_space = self.sessions.observation_space()
        self.action_space = spaces.Discrete(self.catalog.n_tracks)
        self._steps: int | None = None

    def _outcomes(self, config: SessionConfig) -> OutcomeSource:
        """Where outcomes come from: the world model here (the reference env overrides this)."""
        return WorldModelOutcomes()

    def session_view(self) -> SessionView:
        """The read-only view a session-aware agent is bound to (`agents.bind(agent, env)`)."""
        return self.sessions.view()

    def _get_obs(self) -> np.ndarray:
        obs: np.ndarray = self.sessions.observations()[0]
        return obs

    def _get_info(self, step_info: dict[str, Any] | None = None) -> dict[str, Any]:
        if step_info is None:
            return {}
        return {
            key: (
                {k: float(v[0]) for k, v in value.items()}
                if isinstance(value, dict)
                else value[0].item()
            )
            for key, value in step_info.items()
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; `options={"start": "cold"}` overrides the start for this episode."""
        super().reset(seed=seed)
        check_made_as_registered(self.spec, self.mode)
        start = check_choice(
            "start", reset_options(options, ("start",)).get("start", self.start), START_CHOICES
        )
        self.sessions.reset(np.arange(1), [self.np_random], cold=start == "cold")
        self._steps = 0
        return self._get_obs(), self._get_info()

    def step(self, action: np.int64 | int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Play `action` (a track id) and return the listener's simulated response."""
        if self._steps is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.episode_length:
            raise RuntimeError("the episode has ended (truncated); call reset() before step()")
        if isinstance(action, bool | np.bool_) or not self.action_space.contains(action):
            raise ValueError(
                f"invalid action {action!r}: expected an integer track id in {self.action_space}"
            )
        rewards, info = self.sessions.step(np.array([action]), [self.np_random])
        self._steps += 1
        truncated = self._steps >= self.episode_length
        return self._get_obs(), float(rewards[0]), False, truncated, self._get_info(info)
