"""ReferenceListeningEnv: the reference world (the truth) behind the same spaces and utility."""

from __future__ import annotations

from amrs_gym.envs.affective_listening import AffectiveListeningEnv
from amrs_gym.simulator import OutcomeSource, SessionConfig


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
    The keys of `AffectiveListeningEnv`, with the truth as the evaluator: `skip_probability`,
    `expected_engagement`, `like_probability`, `valence`, `arousal` and `valence_sampled`,
    `arousal_sampled` come from the listener's latent state, `engagement` and `skipped` are the
    real response; `valence_predicted`, `arousal_predicted` are still the world model's.
    """

    def _outcomes(self, config: SessionConfig) -> OutcomeSource:
        if config.pessimism:
            raise ValueError(
                f"pessimism={config.pessimism}: the reference env's rewards are the truth's and "
                "are never penalised (pessimism is for world-model envs)"
            )
        if config.member:
            raise ValueError(
                f"member={config.member}: the reference env's listener is the truth's, not an "
                "ensemble member's (member is for world-model envs)"
            )
        return config.reference_outcomes()
