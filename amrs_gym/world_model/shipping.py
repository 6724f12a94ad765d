"""Writing the packaged assets that make `gym.make("AMRS-Calm-v0")` work offline."""

from __future__ import annotations

import json
from typing import Any

from amrs_gym import defaults
from amrs_gym.data.generate import LoggedDataset
from amrs_gym.data.splits import Split
from amrs_gym.io import atomic_write_parquet, atomic_write_text


def write_assets(dataset: LoggedDataset, split: Split, card: dict[str, Any]) -> None:
    """Write the catalog, the test listeners' sessions (episode starts) and the model card."""
    dataset.catalog.save(defaults.CATALOG_PATH)
    test = dataset.logs["listener_id"].isin(split.test["listener_id"].unique())
    sessions = dataset.logs[test].copy()
    sessions["latent_valence_before"] = dataset.latent.loc[test, "true_valence_before"].to_numpy()
    sessions["latent_arousal_before"] = dataset.latent.loc[test, "true_arousal_before"].to_numpy()
    atomic_write_parquet(sessions.reset_index(drop=True), defaults.START_SESSIONS_PATH)
    write_model_card(card)


def write_model_card(card: dict[str, Any], fidelity: dict[str, Any] | None = None) -> None:
    """Render MODEL_CARD.md from the checkpoint's card (and fidelity figures when known)."""
    lines = [
        "# Model card: the default amrs-gym world model",
        "",
        "A causal transformer over a listening session (start token: mode, cohort, starting",
        "valence/arousal report; one token per played track: content embedding + observed",
        "feedback). For a candidate next track it predicts P(skip), a distribution of the",
        "fraction listened, P(like) and the self-reported valence/arousal after the track",
        "(Gaussian mean and std).",
        "",
        "## Data",
        f"- {card['data']}",
        f"- {card['train_sessions']:,} training sessions, "
        f"{card['val_sessions']:,} validation sessions;"
        " test listeners are never seen in training (they start the envs' episodes).",
        "",
        "## Training",
        f"- Reproduce: `{card['command'].strip()}`",
        f"- Best epoch {card['best_epoch']}, validation loss {card['best_val_loss']:.4f},"
        f" {card['train_seconds']:.0f} s on {card['world_size']} process(es), CPU.",
        "",
        "## Hyper-parameters",
        "```json",
        json.dumps({"model": card["config"], "training": card["train_config"]}, indent=2),
        "```",
        "",
        "## Fidelity",
        "Listener-cold and track-cold figures come from `python -m benchmarks.fidelity --out DIR`;",
        "see the README's fidelity table.",
    ]
    if fidelity:
        lines += ["", "```json", json.dumps(fidelity, indent=2, default=float), "```"]
    atomic_write_text("\n".join(lines) + "\n", defaults.MODEL_CARD_PATH)
