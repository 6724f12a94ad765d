"""Checks every env of the suite shares: its reset options and its one episode length.

Each env truncates its own episodes after its length argument (`episode_length`, `max_steps`),
so the ids are registered without Gymnasium's `max_episode_steps`: `gym.make(id, episode_length=40)`
and `gym.make_vec(id, ..., episode_length=40)` both run 40-step episodes. The vector env takes
`max_episode_steps` as the same length and refuses two different values; `gym.make`'s own
`max_episode_steps` is Gymnasium's `TimeLimit` on top of the env, which the env cannot see: it can
only cut episodes shorter (pass `episode_length` for longer ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gymnasium.envs.registration import EnvSpec, registry


def reset_options(options: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    """`options` as a dict whose keys are among `allowed` (None means none), or one clear error."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict or None, got {options!r}")
    unknown = sorted(str(key) for key in options if key not in allowed)
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {', '.join(unknown)}; this env takes: {', '.join(allowed)}"
        )
    return dict(options)


def vector_length(session: dict[str, Any], max_episode_steps: int | None) -> None:
    """Fold `make_vec`'s `max_episode_steps` into the vector env's `episode_length` option."""
    if max_episode_steps is None:
        return
    given = session.get("episode_length")
    if given is not None and given != max_episode_steps:
        raise ValueError(
            f"max_episode_steps={max_episode_steps} differs from episode_length={given}: "
            "pass one of them (they are the same length)"
        )
    session["episode_length"] = max_episode_steps


def check_render_mode(render_mode: Any) -> None:
    """Refuse a render mode: the listening envs draw nothing (Gymnasium's None is accepted).

    A TypeError, as for an argument the env does not take: SB3's `make_vec_env` asks for
    "rgb_array" first and builds the env without it on a TypeError.
    """
    if render_mode is not None:
        raise TypeError(f"render_mode {render_mode!r}: these envs do not render; pass None")


def check_made_as_registered(spec: EnvSpec | None, mode: str) -> None:
    """Refuse a `mode` other than the id's (`gym.make(id, mode=...)`).

    Checked at reset: `gym.make` sets the spec after building the env.
    """
    if spec is None or spec.id not in registry:
        return
    own = registry[spec.id].kwargs.get("mode")
    if own is not None and own != mode:
        raise ValueError(f"mode {mode!r}: {spec.id} simulates {own}; make the {mode} id instead")
