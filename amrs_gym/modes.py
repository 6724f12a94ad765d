"""Listening modes and their affective targets on the valence/arousal circumplex."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["energize", "focus", "calm", "sleep"]
MODES: tuple[Mode, ...] = ("energize", "focus", "calm", "sleep")
Cohort = Literal["consumer", "clinical"]
COHORTS: tuple[Cohort, ...] = ("consumer", "clinical")


@dataclass(frozen=True)
class ModeTarget:
    """Where a mode wants the listener's affect to go, in circumplex units ([-1, 1])."""

    valence: float
    """Target valence."""
    arousal: float
    """Target arousal."""


DEFAULT_TARGETS: dict[Mode, ModeTarget] = {
    "energize": ModeTarget(valence=0.5, arousal=0.6),
    "focus": ModeTarget(valence=0.2, arousal=0.2),
    "calm": ModeTarget(valence=0.4, arousal=-0.4),
    "sleep": ModeTarget(valence=0.1, arousal=-0.8),
}


def check_mode(mode: object) -> Mode:
    """`mode` if it names a mode, or one clear error listing the valid ones."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def mode_index(mode: str) -> int:
    """Position of `mode` in MODES, with a clear error for an unknown mode."""
    return MODES.index(check_mode(mode))
