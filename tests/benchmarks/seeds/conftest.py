"""The SkipSession fixtures, shared with the env's own tests (tiny logs and the registered env)."""

from tests.envs.skip_session.conftest import catalog, default_env, env, hand_made, logs

__all__ = ["catalog", "default_env", "env", "hand_made", "logs"]
