"""MODEL_CARD.md: what a bundle's world model is, what it was trained on and how well it does."""

from __future__ import annotations

import json
from typing import Any

from amrs_gym.bundle.fidelity import card_markdown


def model_card(card: dict[str, Any], fidelity: dict[str, Any] | None = None) -> str:
    """The model card as markdown, from the checkpoint's card and the fidelity report card."""
    lines = [
        "# Model card: an amrs-gym world model",
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
        "- Settings below; the defaults' docstrings (`WorldModelConfig`, `TrainConfig`) say how",
        "  each was chosen. Early stopping reads validation listeners; test listeners only score.",
        "",
        "## Hyper-parameters",
        "```json",
        json.dumps({"model": card["config"], "training": card["train_config"]}, indent=2),
        "```",
    ]
    if fidelity:
        lines += ["", "## Fidelity on held-out listeners", "", card_markdown(fidelity)]
    return "\n".join(lines) + "\n"
