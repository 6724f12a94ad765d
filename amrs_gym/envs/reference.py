"""ReferenceListeningEnv: the reference world (the truth) behind the same spaces and utility."""

from __future__ import annotations

from functools import lru_cache

from amrs_gym import defaults
from amrs_gym.envs.affective_listening import AffectiveListeningEnv
from amrs_gym.reference_world import ReferenceWorld


@lru_cache(maxsize=1)
def default_reference_world() -> ReferenceWorld:
    """The reference world that generated the default logs (same catalog, population and dynamics)."""
    world, _ = defaults.default_dataset_config().build_world(defaults.default_catalog())
    return world


class ReferenceListeningEnv(AffectiveListeningEnv):
    """The reference world as an env: **for evaluation, not training**.

    ## Description
    Same spaces, arguments, starting sessions and utility as `AffectiveListeningEnv`, but
    the listener's responses come from the reference world that produced the default
    logs: the held-out listener continues from their true latent state. The world model
    is only the *observer* that turns the real feedback (engagement, skips, sparse
    ratings and reports) into the same observation vector, as it would in deployment.
    The reward is the mode's utility computed on the latent truth (expected engagement,
    like probability, true valence/arousal). Registered as `AMRS-<Mode>-Reference-v0`;
    `amrs_gym.make_reference_env("calm")` builds one.

    Training on this env would tune a policy to the evaluator itself; train on logs or in
    the world-model env, and use this one to score.

    ## Info
    As `AffectiveListeningEnv`; `valence_sampled`/`arousal_sampled` are the true latent
    affect after the track and `engagement`/`skipped` the real response.
    """

    def _world(self) -> ReferenceWorld:
        return default_reference_world()
