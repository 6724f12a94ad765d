"""A bundle's logged sessions as offline-RL datasets: d3rlpy's `MDPDataset` and Minari's format.

The training listeners' logged sessions of one mode are replayed through the bundle's world
model (`amrs_gym.simulator.replay`), so observations are exactly what the env would have shown;
actions are the logged tracks, rewards the mode's utility on the logged outcomes. Each session is
one episode that ends by truncation (a listening session has no terminal state).

    python -m amrs_gym.data export --bundle BUNDLE --mode calm --format d3rlpy --out DIR
    python -m amrs_gym.data export --bundle BUNDLE --mode calm --format minari --out DIR

d3rlpy: `DIR/<mode>.h5`, read back with
`d3rlpy.dataset.ReplayBuffer.load(path, d3rlpy.dataset.InfiniteBuffer())`. Minari (the `minari`
extra): a dataset `amrs-<mode>-logged-v0` under DIR; with `MINARI_DATASETS_PATH=DIR`,
`minari.load_dataset("amrs-<mode>-logged-v0")` reads it and its `recover_environment()` gives the
world-model env of the same bundle back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from amrs_gym.bundle import Bundle
from amrs_gym.io import atomic_write, prepare_output_dir
from amrs_gym.modes import check_mode
from amrs_gym.simulator import LoggedSteps, SessionConfig, replay_logs

if TYPE_CHECKING:
    from d3rlpy.dataset import MDPDataset

ExportFormat = Literal["minari", "d3rlpy"]


def d3rlpy_dataset(
    steps: LoggedSteps,
    n_tracks: int,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> MDPDataset:
    """Replayed logged sessions as a d3rlpy dataset over the whole catalog.

    One episode per session, ended by a timeout; observations standardised with `mean`/`std`
    when given (as the offline agents train), else as the env shows them.
    """
    from amrs_gym.compat import quiet_legacy_gym

    quiet_legacy_gym()  # d3rlpy imports the old gym package, which prints a notice
    from d3rlpy.constants import ActionSpace
    from d3rlpy.dataset import MDPDataset

    if not len(steps) or not steps.timeouts[-1]:
        raise ValueError("the logged steps must end with a session's last step")
    observations = steps.observations
    if mean is not None and std is not None:
        observations = (observations - mean) / std
    return MDPDataset(
        observations=observations.astype(np.float32),
        actions=steps.actions.astype(np.int64),
        rewards=steps.rewards.astype(np.float32),
        terminals=np.zeros(len(steps), dtype=np.float32),
        timeouts=steps.timeouts.astype(np.float32),
        action_space=ActionSpace.DISCRETE,
        action_size=n_tracks,
    )


def training_sessions(bundle: Bundle | str | Path, mode: str) -> SessionConfig:
    """World-model sessions of `mode` that start from the bundle's training listeners' logs."""
    check_mode(mode)
    bundle = Bundle.load(bundle)
    return SessionConfig(mode, bundle=bundle, start_sessions=bundle.logs)


def export_logged_dataset(
    bundle: Bundle | str | Path, mode: str, format: ExportFormat, out: str | Path
) -> Path:
    """Write a mode's logged sessions as a `format` dataset into the directory `out`.

    Returns:
        The file (d3rlpy) or dataset directory (Minari) written.
    """
    if format not in ("minari", "d3rlpy"):
        raise ValueError(f"format must be minari or d3rlpy, got {format!r}")
    config = training_sessions(bundle, mode)
    if format == "minari":
        _require_minari()
    created = _missing_dirs(Path(out).absolute())
    try:
        out_dir = prepare_output_dir(out)
        steps = replay_logs(config)
        if format == "d3rlpy":
            dataset = d3rlpy_dataset(steps, config.resolved_bundle.catalog.n_tracks)
            path = out_dir / f"{mode}.h5"

            def dump(tmp: Path) -> None:
                with tmp.open("w+b") as handle:  # h5py reads back what it writes
                    dataset.dump(handle)

            return atomic_write(path, dump)
        return _write_minari(steps, config, out_dir)
    except BaseException:
        for folder in created:  # deepest first: leave no empty folder this call made behind
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _missing_dirs(path: Path) -> list[Path]:
    """The folders `path` and its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _require_minari() -> None:
    try:
        import minari  # noqa: F401
    except ImportError:
        raise ValueError(
            "--format minari needs the minari package: pip install 'amrs-gym[minari]'"
        ) from None


def _episodes(steps: LoggedSteps) -> list[dict[str, Any]]:
    """One dict of arrays per session, observations including the one after the last step."""
    ends = np.flatnonzero(steps.timeouts) + 1
    starts = np.r_[0, ends[:-1]]
    return [
        {
            "observations": np.concatenate(
                [steps.observations[a:b], steps.next_observations[b - 1 : b]]
            ),
            "actions": steps.actions[a:b],
            "rewards": steps.rewards[a:b],
            "terminations": np.zeros(b - a, dtype=bool),
            "truncations": steps.timeouts[a:b].astype(bool),
        }
        for a, b in zip(starts, ends, strict=True)
    ]


def _write_minari(steps: LoggedSteps, config: SessionConfig, out_dir: Path) -> Path:
    """A Minari dataset under `out_dir` whose environment is the sessions' world-model env."""
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    from amrs_gym import MODE_ENV_IDS

    mode, bundle = config.mode, config.resolved_bundle
    spec = replace(
        gym.spec(MODE_ENV_IDS[mode]),
        kwargs={
            "mode": mode,
            "bundle": str(bundle.path),
            "history_length": config.history_length,
            "episode_length": config.episode_length,
        },
    )
    dataset_id = f"amrs-{mode}-logged-v0"
    # absolute: Minari joins MINARI_DATASETS_PATH with paths it has already joined with it
    staging = Path(tempfile.mkdtemp(prefix=".minari.", dir=out_dir.absolute()))
    previous = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(staging)
    try:
        buffers = [
            EpisodeBuffer(
                id=index,
                observations=list(episode["observations"]),
                actions=list(episode["actions"]),
                rewards=list(episode["rewards"]),
                terminations=list(episode["terminations"]),
                truncations=list(episode["truncations"]),
            )
            for index, episode in enumerate(_episodes(steps))
        ]
        with warnings.catch_warnings():  # Minari asks for an author's email and an eval env
            warnings.simplefilter("ignore", UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id=dataset_id,
                buffer=buffers,
                env=spec,
                eval_env=spec,
                algorithm_name="logging policy",
                description=f"logged {mode} sessions of bundle {bundle.fingerprint}, replayed",
                data_format="arrow",
            )
        shutil.rmtree(out_dir / dataset_id, ignore_errors=True)  # an earlier export's
        os.replace(staging / dataset_id, out_dir / dataset_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if previous is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = previous
    return out_dir / dataset_id
