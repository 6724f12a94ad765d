"""Quiet the unmaintained `gym` package.

d3rlpy installs it, SB3 and d3rlpy import it when it is there, and it prints a notice on stderr
at import. `agents` and `benchmarks` call this first.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys


def quiet_legacy_gym() -> None:
    """Import `gym` (if installed) with its import-time notice silenced.

    Later imports are then silent.
    """
    if "gym" in sys.modules or importlib.util.find_spec("gym") is None:
        return
    with contextlib.redirect_stderr(io.StringIO()):
        import gym  # noqa: F401
