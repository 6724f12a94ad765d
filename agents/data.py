"""`TrainingData`.

What agents of one mode train from (training listeners' logs, world model, utility).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amrs_gym import defaults
from amrs_gym.bundle import Bundle
from amrs_gym.bundle.bundle import frame_fingerprint
from amrs_gym.catalog import Catalog
from amrs_gym.modes import check_mode
from amrs_gym.reward import Utility, default_utility
from amrs_gym.simulator import (
    ListeningSessions,
    LoggedSteps,
    SessionConfig,
    observation_size,
    replay_logs,
)
from amrs_gym.world_model.protocol import ListenerModel

EPISODE_LENGTH = 20
HISTORY_LENGTH = 20


@dataclass(eq=False)
class TrainingData:
    """The training listeners' logs, the world model and the utility of one mode.

    Test listeners (whose histories start evaluation episodes) are never in `logs`.
    """

    mode: str
    logs: pd.DataFrame
    """Logged sessions of the training (train + validation) listeners, every mode."""
    catalog: Catalog
    utility: Utility
    world_model: ListenerModel | str | Path = defaults.CHECKPOINT_PATH
    """The world model agents may roll out in (a `ListenerModel` or a checkpoint file)."""
    bundle: Bundle | None = None
    """The bundle the data came from (None: the shipped one supplies what is not given)."""
    quick: bool = False
    """Agents train briefly (tests, `--quick` benchmarks)."""
    seed: int = 0
    history_length: int = HISTORY_LENGTH
    episode_length: int = EPISODE_LENGTH
    _pessimistic: dict[float, SessionConfig] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def default(
        cls, mode: str, quick: bool = False, seed: int = 0, utility: Utility | None = None
    ) -> TrainingData:
        """The shipped bundle's training listeners; `quick` keeps a fifth of them."""
        return cls.from_bundle(defaults.default_bundle(), mode, quick, seed, utility)

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle | str | Path,
        mode: str,
        quick: bool = False,
        seed: int = 0,
        utility: Utility | None = None,
    ) -> TrainingData:
        """A bundle's training (train + validation) listeners; `quick` keeps a fifth of them."""
        check_mode(mode)
        bundle = Bundle.load(bundle)
        split = bundle.split
        logs = pd.concat([split.train, split.val], ignore_index=True)
        if quick:
            listeners = np.sort(logs["listener_id"].unique())
            keep = np.random.default_rng(seed).choice(
                listeners, size=max(1, len(listeners) // 5), replace=False
            )
            logs = logs[logs["listener_id"].isin(keep)].reset_index(drop=True)
        return cls(
            mode,
            logs,
            bundle.catalog,
            utility or default_utility(mode),
            world_model=bundle.checkpoint,
            bundle=bundle,
            quick=quick,
            seed=seed,
        )

    @cached_property
    def source(self) -> str:
        """What agent caches key this data by: the bundle's fingerprint, else the logs'."""
        return self.bundle.fingerprint if self.bundle else f"logs-{frame_fingerprint(self.logs)}"

    @cached_property
    def session_config(self) -> SessionConfig:
        """World-model sessions that start from the training listeners' logged histories."""
        return SessionConfig(
            self.mode,
            bundle=self.bundle,
            history_length=self.history_length,
            episode_length=self.episode_length,
            utility=self.utility,
            world_model=self.world_model,
            start_sessions=self.logs,
            catalog=self.catalog,
        )

    @property
    def model(self) -> ListenerModel:
        """The world model (shared, read-only)."""
        return self.session_config.setup.model

    @property
    def n_tracks(self) -> int:
        """Catalog size: the agents' action space."""
        return self.catalog.n_tracks

    @property
    def obs_dim(self) -> int:
        """Size of the env's observation for this world model."""
        return observation_size(self.model.context_size, self.catalog.embedding_dim)

    @property
    def mode_logs(self) -> pd.DataFrame:
        """The training logs of this mode."""
        return self.logs[self.logs["mode"] == self.mode]

    @cached_property
    def replay(self) -> LoggedSteps:
        """This mode's logged sessions replayed through the world model."""
        return replay_logs(self.session_config)

    def sessions(self, n: int, pessimism: float = 0.0) -> ListeningSessions:
        """`n` world-model sessions that start from the training listeners' logged histories.

        With `pessimism` > 0, sessions of the bundle's ensemble whose reward is the utility less
        `pessimism` times the members' disagreement on it.
        """
        if not pessimism:
            return self.session_config.create(n)
        return self.pessimistic_config(pessimism).create(n)

    def pessimistic_config(self, pessimism: float) -> SessionConfig:
        """`session_config` played by the bundle's ensemble with this pessimism."""
        if self.bundle is None or len(self.bundle.members) < 2:
            raise ValueError(
                f"pessimism={pessimism} needs a bundle with an ensemble world model; "
                f"this training data has {'no bundle' if self.bundle is None else 'one member'}"
            )
        if pessimism not in self._pessimistic:
            self._pessimistic[pessimism] = replace(
                self.session_config, world_model=None, pessimism=pessimism
            )
        return self._pessimistic[pessimism]

    def env_kwargs(self, pessimism: float = 0.0) -> dict[str, Any]:
        """Arguments for `gym.make(AMRS-<Mode>-v0)`, for online agents.

        With them, online agents train on training listeners' histories; with `pessimism` > 0, in
        the bundle's ensemble with that pessimism (`pessimistic_config`).
        """
        if pessimism:
            self.pessimistic_config(pessimism)  # refuses a bundle without an ensemble, in one line
        return {
            "utility": self.utility,
            "bundle": self.bundle,
            "world_model": None if pessimism else self.world_model,
            **({"pessimism": pessimism} if pessimism else {}),
            "start_sessions": self.logs,
            "catalog": self.catalog,
            "history_length": self.history_length,
            "episode_length": self.episode_length,
        }

    def logged_distribution(self) -> np.ndarray:
        """Share of this mode's logged plays that went to each track.

        # (n_tracks,)
        """
        counts = np.bincount(self.mode_logs["track_id"].to_numpy(), minlength=self.catalog.n_tracks)
        return counts / max(counts.sum(), 1)
