"""DOPE's metrics (Fu et al. 2021) of estimates against true values, with bootstrap intervals.

Rollout-based values (the truth and the simulator estimators) are per-episode arrays; episodes
are resampled, the same draw for every policy (they share starts and seeds). Log-based
estimators are resampled by session (multinomial session weights, one draw for every policy);
FQE's Q-function is not refitted per resample, so its interval is the initial states' share only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from agents.off_policy import LOG_ESTIMATORS, LoggedEvidence, estimate

METRICS = ("normalised_abs_error", "spearman", "regret_at_1", "regret_at_5")
Key = tuple[str, str]
"""(policy, estimator); estimator "truth" is the reference world's value."""


def dope_metrics(estimate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """DOPE's metrics of estimates against true values, one entry per policy.

    Normalised absolute error (mean |estimate - truth| / (max - min truth)), Spearman's rank
    correlation, regret@k (the best true value minus the best true value among the estimator's
    top k, / (max - min truth)).

    Example:
        >>> m = dope_metrics(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 1.0]))
        >>> m["spearman"], round(m["normalised_abs_error"], 3), m["regret_at_1"]
        (0.5, 0.5, 0.5)
    """
    batch = dope_metrics_batch(estimate[:, None], truth[:, None])
    return {metric: float(values[0]) for metric, values in batch.items()}


def dope_metrics_batch(estimate: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """`dope_metrics` of each column: estimates and true values (policies, resamples).

    One vectorised pass over every bootstrap resample (a Python loop of scipy calls took most
    of a quick run's scoring). Spearman's rho is the Pearson correlation of average ranks, as
    scipy's; NaN with fewer than 3 policies or a constant column.

    # -> each metric (resamples,)
    """
    span = truth.max(axis=0) - truth.min(axis=0)
    span = np.where(span > 0, span, 1.0)
    ranked_truth = np.take_along_axis(truth, np.argsort(-estimate, axis=0, kind="stable"), axis=0)
    best = truth.max(axis=0)
    return {
        "normalised_abs_error": np.abs(estimate - truth).mean(axis=0) / span,
        "spearman": spearman(estimate, truth),
        "regret_at_1": (best - ranked_truth[:1].max(axis=0)) / span,
        "regret_at_5": (best - ranked_truth[:5].max(axis=0)) / span,
    }


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho of each column pair of a and b (rows, columns).

    NaN where it is undefined: under 3 rows, or a constant column.
    """
    if len(a) < 3:
        return np.full(a.shape[1], np.nan)
    ra, rb = rankdata(a, axis=0), rankdata(b, axis=0)
    ra -= ra.mean(axis=0)
    rb -= rb.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho: np.ndarray = (ra * rb).sum(axis=0) / np.sqrt((ra**2).sum(axis=0) * (rb**2).sum(axis=0))
    return rho


def resampled_values(
    values: Mapping[Key, Sequence[float] | np.ndarray],
    resamples: int,
    seed: int,
    evidence: LoggedEvidence | None = None,
) -> dict[Key, tuple[float, np.ndarray]]:
    """Each (policy, estimator)'s point value and its bootstrap draws (resamples,).

    `values` holds per-episode utilities (truth and rollout estimators, equal episode counts);
    `evidence` adds every log-based estimator of each policy it holds (NaN where it has nothing
    to weigh: `scored_by` leaves those out).
    """
    rng = np.random.default_rng(seed)
    episodes = len(next(iter(values.values())))
    draws = rng.integers(0, episodes, (resamples, episodes))
    out: dict[Key, tuple[float, np.ndarray]] = {}
    for key, per_episode in values.items():
        array = np.asarray(per_episode, dtype=np.float64)
        out[key] = (float(array.mean()), array[draws].mean(axis=1))
    if evidence is not None:
        sessions = evidence.n_sessions
        counts = rng.multinomial(sessions, np.full(sessions, 1.0 / sessions), size=resamples)
        weights = np.vstack([np.ones(sessions), counts])  # row 0: the point estimate
        for policy in evidence.policies:
            for estimator in LOG_ESTIMATORS:
                both = estimate(evidence, policy, estimator, weights)
                out[(policy, estimator)] = (float(both[0]), both[1:])
    return out


def score_set(
    resampled: Mapping[Key, tuple[float, np.ndarray]], policies: list[str], estimator: str
) -> dict[str, Any]:
    """One estimator's DOPE metrics over `policies`, each with a 95% bootstrap interval."""
    truth = np.array([resampled[(p, "truth")][1] for p in policies])  # (policies, resamples)
    estimates = np.array([resampled[(p, estimator)][1] for p in policies])
    point = dope_metrics(
        np.array([resampled[(p, estimator)][0] for p in policies]),
        np.array([resampled[(p, "truth")][0] for p in policies]),
    )
    samples = dope_metrics_batch(estimates, truth)
    return {
        "policies": policies,
        **{
            metric: {
                "value": point[metric],
                "ci95": np.nanpercentile(samples[metric], [2.5, 97.5]).tolist(),
            }
            for metric in METRICS
        },
    }


def scored_by(resampled: Mapping[Key, tuple[float, np.ndarray]], estimator: str) -> list[str]:
    """The policies `estimator` gave a finite value (in insertion order)."""
    return [p for (p, e), (point, _) in resampled.items() if e == estimator and np.isfinite(point)]


def score(
    values: Mapping[Key, Sequence[float] | np.ndarray],
    resamples: int,
    seed: int,
    evidence: LoggedEvidence | None = None,
    registered: Sequence[str] | None = None,
) -> dict[str, Any]:
    """`score_resampled` of `resampled_values`."""
    return score_resampled(resampled_values(values, resamples, seed, evidence), registered)


def score_resampled(
    resampled: Mapping[Key, tuple[float, np.ndarray]], registered: Sequence[str] | None = None
) -> dict[str, Any]:
    """Every estimator's metrics over the policies every estimator scored (one set for all).

    Keys: each estimator (the common set), `<estimator>_all` where an estimator scored more
    policies than the common set, and `<estimator>_registered` over the `registered` agents
    among its policies (the leaderboard's ten) when given.
    """
    estimators = [e for e in dict.fromkeys(e for _, e in resampled) if e != "truth"]
    scored = {e: policies for e in estimators if (policies := scored_by(resampled, e))}
    common = [p for p in scored_by(resampled, "truth") if all(p in s for s in scored.values())]
    out: dict[str, Any] = {}
    for estimator, policies_of in scored.items():
        sets = {estimator: common}
        if set(policies_of) != set(common):
            sets[f"{estimator}_all"] = policies_of
        if registered is not None:
            sets[f"{estimator}_registered"] = [p for p in policies_of if p in registered]
        for label, policies in sets.items():
            if len(policies) >= 2:
                out[label] = score_set(resampled, policies, estimator)
    return out


__all__ = [
    "METRICS",
    "dope_metrics",
    "dope_metrics_batch",
    "resampled_values",
    "score",
    "score_resampled",
    "score_set",
    "scored_by",
]
