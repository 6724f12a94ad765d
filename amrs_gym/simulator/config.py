"""`SessionConfig`.

What to simulate (mode, cohort, starts, lengths, utility, and the bundle or the world model,
starting sessions and catalog), validated once; `create(n)` builds the sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from amrs_gym import defaults
from amrs_gym.bundle import Bundle
from amrs_gym.catalog import Catalog
from amrs_gym.modes import COHORTS, check_mode, mode_index
from amrs_gym.reference_world import ReferenceWorld
from amrs_gym.reward import MAX_PESSIMISM, Utility, default_utility
from amrs_gym.simulator.outcomes import OutcomeSource, ReferenceOutcomes, WorldModelOutcomes
from amrs_gym.simulator.sessions import ListeningSessions
from amrs_gym.simulator.starts import StartSession, read_start_frame, start_sessions_for
from amrs_gym.validation import check_choice, check_int, check_value
from amrs_gym.world_model.checkpoint import load_ensemble, load_listener_model
from amrs_gym.world_model.member_world import MemberWorld
from amrs_gym.world_model.protocol import (
    EnsembleModel,
    ListenerModel,
    ModelState,
    reads_propensity,
)

COHORT_CHOICES = (*COHORTS, "mixed")
START_CHOICES = ("history", "cold")
MAX_SESSIONS = 65_536
"""Most sessions one batch holds (each keeps about 0.13 MB of world-model state per member)."""
ProductionScorer = Callable[..., np.ndarray]
"""(listener, mode, history, position, last_skipped) -> each track's probability (n, n_tracks)."""
_MODELS: dict[tuple[object, ...], ListenerModel] = {}


def _shared_model(paths: tuple[str, ...], catalog: Catalog) -> ListenerModel:
    """One read-only model per checkpoint file(s) and catalog (rollout state lives in the sessions).

    Several files are one batched ensemble. A file rewritten in place (a bundle rebuilt) is read
    again.
    """
    stats = []
    for path in paths:
        file = Path(path)
        stats.append((file.stat().st_size, file.stat().st_mtime_ns) if file.is_file() else (-1, -1))
    key = (paths, tuple(stats), catalog.fingerprint())
    if key not in _MODELS:
        _MODELS[key] = (
            load_listener_model(paths[0], catalog=catalog)
            if len(paths) == 1
            else load_ensemble(list(paths), catalog=catalog)
        )
    return _MODELS[key]


@dataclass(frozen=True, eq=False)
class SessionSetup:
    """A `SessionConfig` resolved.

    The utility, the loaded model and catalog, the starting sessions.
    """

    mode: str
    utility: Utility
    model: ListenerModel
    catalog: Catalog
    starts: list[StartSession]
    encoded: dict[tuple[int, ...], ModelState] = field(default_factory=dict)
    """Batches of starting sessions encoded together, by the starts' indices, shared by every
    `create` (see `ListeningSessions._encode`)."""


@dataclass(frozen=True, eq=False)
class SessionConfig:
    """Listening sessions to simulate; `create(n)` builds n of them.

    Every field is checked when the config is built (one error naming the parameter); the
    world model, catalog and starting sessions are loaded once, on first use.
    """

    mode: str
    """energize, focus, calm or sleep."""
    cohort: str = "mixed"
    """Starting listeners: consumer, clinical or mixed."""
    start: str = "history"
    """"history" (continue a logged session after the listener's previous one) or "cold"."""
    history_length: int = 20
    """Logged tracks of the previous session kept as context."""
    episode_length: int = 20
    """Steps per episode."""
    utility: Utility | None = None
    """The reward; None means `default_utility(mode)`."""
    bundle: Bundle | str | Path | None = None
    """A simulator bundle (or its directory): its world model, catalog, held-out listeners' start
    sessions and reference world (if it has one); None means the shipped default bundle."""
    world_model: ListenerModel | str | Path | None = None
    """A `ListenerModel`, or a checkpoint file; None means the bundle's."""
    start_sessions: pd.DataFrame | str | Path | None = None
    """Logs (a DataFrame or a parquet/CSV file) whose sessions episodes start from; None means the
    bundle's held-out listeners' (train agents on training listeners' logs)."""
    catalog: Catalog | str | Path | None = None
    """The catalog (or its parquet file); None means the bundle's."""
    ensemble: bool = False
    """Simulate with every member of the bundle's ensemble (their mixture; `info["uncertainty"]`
    reports their disagreement) instead of its one world model."""
    pessimism: float = 0.0
    """lambda >= 0: the world model's reward becomes utility - lambda * utility uncertainty
    (implies `ensemble`). `DEFAULT_PESSIMISM` is the pessimistic ids' value."""
    member: int = 0
    """Draw the listener's responses from this member of the bundle's ensemble (0: its world
    model). The observation keeps the world model's context (`MemberWorld`), so an agent meets
    another member's listener as it would meet the world model's: a check of a policy against
    the ensemble's other plausible worlds."""
    production: ProductionScorer | None = None
    """What a world model that reads the production policy's propensity (`production_propensity`)
    asks at every step: a callable `(listener, mode, history, position, last_skipped)` -> every
    track's probability (n, n_tracks), as `ProductionPolicy.track_probabilities` takes them (the
    sessions' listener ids, mode index, tracks played, -1 padded, how many, whether the last was
    skipped). None: the bundle's production policy (a bundle with a reference world). A platform
    passes its own production system here."""

    def __post_init__(self) -> None:
        check_mode(self.mode)
        check_choice("cohort", self.cohort, COHORT_CHOICES)
        check_choice("start", self.start, START_CHOICES)
        object.__setattr__(
            self, "history_length", check_int("history_length", self.history_length, 0)
        )
        object.__setattr__(
            self, "episode_length", check_int("episode_length", self.episode_length, 1)
        )
        if not isinstance(self.ensemble, bool):
            raise ValueError(f"ensemble must be True or False, got {self.ensemble!r}")
        check_value("pessimism", self.pessimism, float, {"min": 0, "max": MAX_PESSIMISM})
        object.__setattr__(self, "pessimism", float(self.pessimism))
        if self.pessimism > 0:
            object.__setattr__(self, "ensemble", True)
        object.__setattr__(self, "member", check_int("member", self.member, 0))
        if self.member and (self.ensemble or self.world_model is not None):
            raise ValueError(
                f"member={self.member} plays one member of the bundle's ensemble: it excludes "
                "ensemble, pessimism and world_model"
            )
        if self.bundle is not None:
            if not isinstance(self.bundle, Bundle | str | Path):
                raise ValueError(
                    f"bundle must be a bundle directory, a Bundle or None, got {self.bundle!r}"
                )
            object.__setattr__(self, "bundle", Bundle.load(self.bundle))
        for name, kinds, allowed in (
            ("start_sessions", (pd.DataFrame, str, Path), "a DataFrame, a parquet/CSV file"),
            ("catalog", (Catalog, str, Path), "a Catalog, a parquet file"),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kinds):
                raise ValueError(f"{name} must be {allowed} or None, got {value!r}")
        self._check_pieces()

    def _check_pieces(self) -> None:
        """The world model, production scorer and utility given: of the right kind and mode."""
        model = self.world_model
        if (
            model is not None
            and not isinstance(model, str | Path)
            and not hasattr(model, "predict")
        ):
            raise ValueError(
                f"world_model must be a ListenerModel, a checkpoint file or None, got {model!r}"
            )
        if self.production is not None and not callable(self.production):
            raise ValueError(
                "production must be a callable (listener, mode, history, position, last_skipped) "
                f"-> probabilities (n, n_tracks), or None; got {self.production!r}"
            )
        if self.utility is not None:
            if not isinstance(self.utility, Utility):
                raise ValueError(
                    f"utility must be an amrs_gym.reward.Utility or None, got {self.utility!r}"
                )
            if self.utility.mode != self.mode:
                raise ValueError(
                    f"utility is for mode {self.utility.mode!r}, the sessions are {self.mode!r}"
                )

    @property
    def resolved_bundle(self) -> Bundle:
        """The bundle the missing pieces come from (the shipped one unless `bundle` was given)."""
        return defaults.bundle_or_shipped(self.bundle)

    @cached_property
    def production_scorer(self) -> ProductionScorer:
        """`production`, or the bundle's production policy (`NoTruthError` if it has none).

        Resolved once per config: sessions ask it at every step.
        """
        if self.production is not None:
            return self.production
        return self.resolved_bundle.production_policy().track_probabilities

    @classmethod
    def from_options(cls, mode: str, **options: Any) -> SessionConfig:
        """A config from keyword options (the envs' arguments), refusing unknown ones by name."""
        known = {f.name for f in fields(cls)} - {"mode"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        config = cls(mode=mode, **options)
        if options.get("ensemble") is False and config.pessimism > 0:
            raise ValueError(
                f"ensemble=False conflicts with pessimism={config.pessimism}: the pessimistic "
                "reward needs the ensemble's disagreement (a pessimistic id turns it on)"
            )
        return config

    @cached_property
    def setup(self) -> SessionSetup:
        """The resolved pieces (loaded on first use, then shared by every `create`)."""
        catalog = self._catalog()
        model = self._model(catalog)
        if model.n_tracks != catalog.n_tracks:
            raise ValueError(
                f"the world model expects {model.n_tracks} tracks, "
                f"the catalog has {catalog.n_tracks}"
            )
        total = self.history_length + self.episode_length
        if total > model.max_tracks:
            raise ValueError(
                f"history_length + episode_length = {total} exceeds the world model's context of "
                f"{model.max_tracks} tracks"
            )
        if (
            reads_propensity(model)
            and self.production is None
            and not self.resolved_bundle.has_truth
        ):
            raise ValueError(
                f"the world model reads the production policy's propensity of each candidate, "
                f"and bundle {self.resolved_bundle.path} has no production policy to ask (no "
                "reference world): pass your production system as `production`"
            )
        frame = self.start_frame()
        return SessionSetup(
            mode=self.mode,
            utility=self.utility or default_utility(self.mode),
            model=model,
            catalog=catalog,
            starts=start_sessions_for(frame, self.mode, self.cohort, catalog.unit_embeddings),
        )

    def start_frame(self) -> pd.DataFrame:
        """The logs episodes start from."""
        return (
            self.resolved_bundle.start_sessions
            if self.start_sessions is None
            else read_start_frame(self.start_sessions)
        )

    def _catalog(self) -> Catalog:
        if self.catalog is None:
            return self.resolved_bundle.catalog
        if isinstance(self.catalog, Catalog):
            return self.catalog
        return Catalog.load(self.catalog)

    def _model(self, catalog: Catalog) -> ListenerModel:
        if self.world_model is None:
            bundle = self.resolved_bundle
            if self.member:
                if self.member >= len(bundle.members):
                    raise ValueError(
                        f"member must be in [0, {len(bundle.members)}) for {bundle.path}, "
                        f"got {self.member}"
                    )
                pair = _shared_model(
                    (str(bundle.checkpoint), str(bundle.members[self.member])), catalog
                )
                return MemberWorld(cast(EnsembleModel, pair), 1)
            if not self.ensemble:
                return _shared_model((str(bundle.checkpoint),), catalog)
            if len(bundle.members) < 2:
                raise ValueError(
                    f"ensemble/pessimism need a bundle with an ensemble; {bundle.path} has one "
                    "world model (build one with `python -m amrs_gym.world_model.train "
                    "--members 5`)"
                )
            return _shared_model(tuple(str(f) for f in bundle.members), catalog)
        if isinstance(self.world_model, str | Path):
            model = _shared_model((str(Path(self.world_model).resolve()),), catalog)
        elif isinstance(self.world_model, ListenerModel):
            model = self.world_model
        else:
            raise ValueError(
                "world_model must be a ListenerModel, a checkpoint path or None, "
                f"got {self.world_model!r}"
            )
        if self.ensemble and getattr(model, "members", 1) < 2:
            raise ValueError(
                "ensemble/pessimism need an ensemble world model (`members` >= 2, e.g. "
                "`amrs_gym.world_model.load_ensemble`); the world_model given has one member"
            )
        return model

    def create(self, n: int, outcomes: OutcomeSource | None = None) -> ListeningSessions:
        """N sessions whose outcomes come from `outcomes` (default: drawn from the world model)."""
        check_int("n", n, 1, MAX_SESSIONS)
        return ListeningSessions(self, int(n), outcomes or WorldModelOutcomes())

    def reference_outcomes(self, world: ReferenceWorld | None = None) -> ReferenceOutcomes:
        """Outcomes from `world` (default: the bundle's reference world).

        Raises:
            NoTruthError: no `world` and the bundle's logs did not come from a reference world.
        """
        return ReferenceOutcomes(
            world or self.resolved_bundle.reference_world(),
            mode_index(self.mode),
            self.episode_length,
        )
