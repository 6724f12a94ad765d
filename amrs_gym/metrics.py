"""Shared evaluation metrics, computed the same way for every agent.

Affect, behaviour, diversity, collapse, and off-policy estimates from logged propensities.

Everything takes plain arrays of evaluated episodes (`Episodes`), so the world-model env,
the reference world and logged sessions are scored by one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amrs_gym.reward import Utility


@dataclass(frozen=True)
class Episodes:
    """Evaluated episodes of equal length T (n episodes)."""

    tracks: np.ndarray  # (n, T) track ids played
    utility: np.ndarray  # (n, T) per-step utility
    valence: np.ndarray  # (n, T + 1) affect before the first step, then after each step
    arousal: np.ndarray  # (n, T + 1)
    engagement: np.ndarray  # (n, T) expected fraction listened
    like: np.ndarray  # (n, T) like probability

    def __post_init__(self) -> None:
        n, steps = self.tracks.shape
        for name in ("utility", "engagement", "like"):
            if getattr(self, name).shape != (n, steps):
                raise ValueError(f"{name} must have shape {(n, steps)}")
        for name in ("valence", "arousal"):
            if getattr(self, name).shape != (n, steps + 1):
                raise ValueError(f"{name} must have shape {(n, steps + 1)}")


def recommendation_distribution(tracks: np.ndarray, n_tracks: int) -> np.ndarray:
    """Share of all recommendations that went to each track.

    # (n_tracks,)
    """
    counts = np.bincount(np.asarray(tracks).ravel(), minlength=n_tracks).astype(np.float64)
    shares: np.ndarray = counts / max(counts.sum(), 1.0)
    return shares


def entropy(distribution: np.ndarray) -> float:
    """Shannon entropy in nats."""
    p = distribution[distribution > 0]
    return float(-(p * np.log(p)).sum())


def gini(distribution: np.ndarray) -> float:
    """Gini index of the recommendation counts over the whole catalog.

    0 when equal, -> 1 when all go to one track.
    """
    x = np.sort(distribution)
    n = len(x)
    if x.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def intra_list_diversity(tracks: np.ndarray, unit_embeddings: np.ndarray) -> float:
    """Mean over sessions of the mean pairwise cosine distance between the session's tracks."""
    values = []
    for session in np.atleast_2d(tracks):
        e = unit_embeddings[session]
        t = len(session)
        if t < 2:
            continue
        similarity = e @ e.T
        values.append((t * t - similarity.sum()) / (t * (t - 1)))  # off-diagonal mean of 1 - cos
    return float(np.mean(values)) if values else 0.0


def repeat_rate(tracks: np.ndarray) -> float:
    """Share of steps whose track was already played earlier in the same session."""
    tracks = np.atleast_2d(tracks)
    repeats = sum(len(session) - len(np.unique(session)) for session in tracks)
    return float(repeats / tracks.size)


def distinct_share(sessions: Sequence[Sequence[int] | np.ndarray]) -> float:
    """Diversity as MusicBox counts it: distinct tracks / all recommendations, over all sessions."""
    if not len(sessions):
        return float("nan")
    tracks = np.concatenate([np.asarray(s, dtype=np.int64).ravel() for s in sessions])
    return float(len(np.unique(tracks)) / len(tracks)) if len(tracks) else float("nan")


def matched_diversity(
    policy_sessions: Sequence[Sequence[int] | np.ndarray],
    logged_sessions: Sequence[Sequence[int] | np.ndarray],
) -> tuple[float, float]:
    """Distinct shares of two policies over the same sessions.

    Each session is cut to the shorter of the two. The share of distinct tracks falls as
    recommendations pile up, so the two are compared over equal counts: session i keeps its first
    min(len(policy_i), len(logged_i)) tracks on both sides.

    Returns:
        (policy diversity, logged diversity).
    """
    if len(policy_sessions) != len(logged_sessions):
        raise ValueError("need the same number of sessions on both sides")
    lengths = [min(len(p), len(q)) for p, q in zip(policy_sessions, logged_sessions, strict=True)]
    return (
        distinct_share([list(p)[:n] for p, n in zip(policy_sessions, lengths, strict=True)]),
        distinct_share([list(q)[:n] for q, n in zip(logged_sessions, lengths, strict=True)]),
    )


def skip_rate(skipped: Sequence[Sequence[bool] | np.ndarray]) -> float:
    """Share of skipped recommendations over all sessions."""
    if not len(skipped):
        return float("nan")
    flat = np.concatenate([np.asarray(s, dtype=bool).ravel() for s in skipped])
    return float(np.mean(flat)) if len(flat) else float("nan")


def kl_divergence(p: np.ndarray, q: np.ndarray, smoothing: float = 1e-6) -> float:
    """KL(p || q) in nats, with both smoothed so tracks one side never plays stay finite."""
    p = (p + smoothing) / (p + smoothing).sum()
    q = (q + smoothing) / (q + smoothing).sum()
    return float((p * np.log(p / q)).sum())


def diversity_metrics(
    tracks: np.ndarray, unit_embeddings: np.ndarray, logged_distribution: np.ndarray | None = None
) -> dict[str, float]:
    """Diversity and collapse of the recommendations in `tracks` (n, T)."""
    n_tracks = len(unit_embeddings)
    distribution = recommendation_distribution(tracks, n_tracks)
    h = entropy(distribution)
    out = {
        "coverage": float((distribution > 0).sum() / n_tracks),
        "ild": intra_list_diversity(tracks, unit_embeddings),
        "entropy": h,
        "effective_tracks": float(np.exp(h)),
        "gini": gini(distribution),
        "top10_share": float(np.sort(distribution)[-10:].sum()),
        "repeat_rate": repeat_rate(tracks),
    }
    out["kl_to_logged"] = (
        kl_divergence(distribution, logged_distribution)
        if logged_distribution is not None
        else float("nan")
    )
    return out


def affect_metrics(
    episodes: Episodes, utility: Utility, zone_radius: float = 0.25
) -> dict[str, float]:
    """Affect metrics of episodes.

    Change of valence/arousal over the episode, distance to the target at the end, time in the
    target zone.
    """
    target = np.array([utility.target_valence, utility.target_arousal])
    end_distance = np.hypot(
        episodes.valence[:, -1] - target[0], episodes.arousal[:, -1] - target[1]
    )
    in_zone = utility.in_target_zone(episodes.valence[:, 1:], episodes.arousal[:, 1:], zone_radius)
    return {
        "valence_delta": float((episodes.valence[:, -1] - episodes.valence[:, 0]).mean()),
        "arousal_delta": float((episodes.arousal[:, -1] - episodes.arousal[:, 0]).mean()),
        "final_distance": float(end_distance.mean()),
        "time_in_zone": float(in_zone.mean()),
    }


def behaviour_metrics(episodes: Episodes) -> dict[str, float]:
    """Mean per-step utility with a 95% interval over episodes, engagement and like rate."""
    per_episode = episodes.utility.mean(axis=1)
    n = len(per_episode)
    spread = per_episode.std(ddof=1) if n > 1 else 0.0
    return {
        "utility_mean": float(per_episode.mean()),
        "utility_ci95": float(1.96 * spread / np.sqrt(n)),
        "engagement": float(episodes.engagement.mean()),
        "like_rate": float(episodes.like.mean()),
    }


def evaluate_episodes(
    episodes: Episodes,
    utility: Utility,
    unit_embeddings: np.ndarray,
    logged_distribution: np.ndarray | None = None,
) -> dict[str, float]:
    """Every shared metric of a set of episodes."""
    return {
        **behaviour_metrics(episodes),
        **affect_metrics(episodes, utility),
        **diversity_metrics(episodes.tracks, unit_embeddings, logged_distribution),
    }


def off_policy_estimates(
    target_probability: np.ndarray,
    logged_propensity: np.ndarray,
    logged_utility: np.ndarray,
    clip: float = 100.0,
) -> dict[str, float]:
    """Per-step IPS and self-normalised IPS of a policy's utility from logged data.

    Args:
        target_probability: the evaluated policy's probability of each logged action.
        logged_propensity: the logging policy's probability of that action.
        logged_utility: the utility observed for that logged step.
        clip: upper bound on importance weights (variance control; reported weights above it are
            clipped).
    """
    weights = np.minimum(target_probability / np.maximum(logged_propensity, 1e-12), clip)
    total = weights.sum()
    return {
        "ips_utility": float((weights * logged_utility).mean()),
        "snips_utility": float((weights * logged_utility).sum() / total)
        if total > 0
        else float("nan"),
        "effective_sample_size": float(total**2 / max((weights**2).sum(), 1e-12)),
    }
