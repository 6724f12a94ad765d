"""`dpo`: behaviour cloning, then Direct Preference Optimization on world-model rollouts (AMRS).

1. Fit the reference policy the config names (`reference`, BC by default) on the logs; freeze a
   copy.
2. Each round, start world-model sessions from training listeners' logged histories and play
   them with the current policy (so later rounds see the states the fine-tuned policy visits).
   At a random subset of steps, sample `candidates` distinct tracks from the reference policy,
   fork the session once per candidate, play the candidate and then `horizon - 1` steps of the
   reference policy, and score the candidate by the discounted sum of the mode's utility, plus a
   novelty bonus (`novelty_weight` times its mean cosine distance to the tracks already played).
   Forks of one state share their random numbers, so returns differ by the candidate, not by luck.
3. Pair the best-scored candidate with the worst, the second with the second-worst, ...
   (pairs closer than `margin` are dropped) and minimise

       -log sigmoid(beta * [(log pi(w|s) - log ref(w|s)) - (log pi(l|s) - log ref(l|s))])
       + kl_weight * KL(ref(.|s) || pi(.|s))

   The first term is DPO; its implicit anchor to the reference is only along the sampled tracks,
   so the explicit, mass-covering KL term over the whole catalog keeps the policy's breadth.

One policy per mode: each mode has its own utility and its own BC reference. Every default was
chosen on training listeners in the world model (`python -m benchmarks.dpo_sweep`; the history is
in benchmarks/NOTES.md): one-step scoring, 16 candidates, the per-mode `MODE_WEIGHTS`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from agents.base import BaseAgent, PolicyAgent
from agents.data import TrainingData
from agents.policy import TrackPolicy
from amrs_gym.sampling import sample_categorical
from amrs_gym.simulator import ListeningSessions

MODE_WEIGHTS: dict[str, tuple[float, float]] = {
    "energize": (0.5, 2.0),
    "focus": (0.25, 1.0),
    "calm": (0.25, 1.5),
    "sleep": (0.25, 2.0),
}
"""Per mode, the (KL weight, novelty weight) chosen by `python -m benchmarks.dpo_sweep`
(validation on training listeners in the world model; see the module docstring). Grid: KL
{0.25, 0.5} x novelty {1, 1.5, 2}. Chosen, with validation utility gain over BC and the share of
BC's coverage / ILD kept: energize +0.133 (84% / 91%), focus +0.156 (84% / 96%), calm +0.148
(82% / 94%), sleep +0.097 (84% / 95%)."""


@dataclass(frozen=True)
class DPOConfig:
    """BC+DPO hyper-parameters (the BC stage uses `BCConfig` defaults with this seed and width)."""

    seed: int = 0
    reference: str = "bc"
    """The registered agent whose fitted policy DPO starts from and is anchored to (a `PolicyAgent`,
    built with this config's seed, width and `remember_played`)."""
    hidden: int = field(default=0, metadata={"min": 0})
    """Width of the policy network, shared with the BC reference (0: linear, `BCConfig.hidden`)."""
    remember_played: bool = True
    """The policy (and its BC reference) also reads the session's played tracks (`TrackPolicy`)."""
    beta: float = 0.5
    """DPO temperature: how far one pair's log-ratio margin is allowed to push the policy."""
    kl_weight: float | None = None
    """Weight of the explicit KL(reference || policy) over the whole catalog (None: the mode's
    validated value, `MODE_WEIGHTS`)."""
    horizon: int = 1
    """Steps scored per candidate: the candidate, then horizon - 1 steps of the reference policy."""
    discount: float = 0.9
    """Discount of later steps' utility within the horizon."""
    candidates: int = 16
    """Distinct tracks sampled from the reference at each branching state."""
    branch_probability: float = 0.25
    """Chance that a step of a session becomes a branching state."""
    novelty_weight: float | None = None
    """Bonus per unit of a candidate's mean cosine distance to the tracks already played in the
    session, added to its rollout return (0 = the mode's utility alone; None: the mode's validated
    value)."""
    margin: float = 0.05
    """Smallest return difference for a (preferred, dispreferred) pair."""
    sessions_per_round: int = 256
    """World-model sessions played per round."""
    rounds: int = 12
    """Rounds of (rollouts, updates)."""
    quick_rounds: int = 2
    """Rounds when the training data is `quick`."""
    pairs_per_update: int = 256
    """Pairs in one gradient step."""
    epochs_per_round: int = 4
    """Passes over a round's pairs."""
    learning_rate: float = 1e-3
    diversity: float = 1.0
    """Scales both the KL and the novelty weight: below 1 trades coverage for utility, above 1
    the reverse (the DPO family, `dpo_sharp` and `dpo_broad`, spans the trade-off)."""

    def weights(self, mode: str) -> tuple[float, float]:
        """(KL weight, novelty weight) for `mode`.

        The fields, or the mode's validated values where None, times `diversity`.
        """
        kl_weight, novelty_weight = MODE_WEIGHTS[mode]
        kl_weight = kl_weight if self.kl_weight is None else self.kl_weight
        novelty_weight = novelty_weight if self.novelty_weight is None else self.novelty_weight
        return self.diversity * kl_weight, self.diversity * novelty_weight


@dataclass(frozen=True)
class SharpDPOConfig(DPOConfig):
    """DPO held a quarter as tightly to BC and to novelty: more utility, less diversity."""

    diversity: float = 0.25


@dataclass(frozen=True)
class BroadDPOConfig(DPOConfig):
    """DPO held four times as tightly to BC and to novelty: more diversity, less utility."""

    diversity: float = 4.0


def dpo_loss(
    logits: torch.Tensor,
    reference_logits: torch.Tensor,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    beta: float,
    kl_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The DPO loss plus `kl_weight` * KL(reference || policy), averaged over a batch of pairs.

    Args:
        logits: the policy's logits at each pair's state.  # (batch, n_tracks)
        reference_logits: the frozen reference's logits there.  # (batch, n_tracks)
        chosen: the preferred track of each pair.  # (batch,)
        rejected: the dispreferred track.  # (batch,)
        beta: the DPO temperature on each pair's log-ratio margin.
        kl_weight: the weight of KL(reference || policy) over the whole catalog.
    """
    log_probs = F.log_softmax(logits, dim=-1)
    reference = F.log_softmax(reference_logits, dim=-1)
    rows = torch.arange(len(chosen))
    ratio_chosen = log_probs[rows, chosen] - reference[rows, chosen]
    ratio_rejected = log_probs[rows, rejected] - reference[rows, rejected]
    preference = -F.logsigmoid(beta * (ratio_chosen - ratio_rejected)).mean()
    kl = (
        (reference.exp() * (reference - log_probs)).sum(-1).mean()
    )  # KL(reference || policy): mass-covering
    stats = {
        "preference_loss": preference.item(),
        "kl": kl.item(),
        "accuracy": (ratio_chosen > ratio_rejected).float().mean().item(),
    }
    return preference + kl_weight * kl, stats


@dataclass
class PreferencePairs:
    """Observations with a preferred and a dispreferred track (and the return gap between them)."""

    observations: np.ndarray  # (pairs, obs_dim)
    played: np.ndarray  # (pairs, episode_length) the session's tracks so far, -1 padded
    chosen: np.ndarray  # (pairs,)
    rejected: np.ndarray  # (pairs,)
    gap: np.ndarray  # (pairs,)


class DPOAgent(PolicyAgent):
    """BC+DPO: a softmax policy over the catalog, fine-tuned on world-model preferences."""

    name: ClassVar[str] = "dpo"
    config_type: ClassVar[type] = DPOConfig

    def reference_agent(self) -> BaseAgent:
        """A new, unfitted agent of the kind `config.reference` names, as DPO would fit it."""
        import agents

        config: DPOConfig = self.config
        return agents.make(
            config.reference,
            mode=self.mode,
            seed=config.seed,
            hidden=config.hidden,
            remember_played=config.remember_played,
        )

    def use_reference(self, reference: BaseAgent) -> Self:
        """Fine-tune from this fitted reference instead of fitting one (e.g.

        One shared with a cache).
        """
        if (
            not isinstance(reference, PolicyAgent)
            or reference.policy is None
            or reference.mode != self.mode
        ):
            raise ValueError(
                f"the reference must be a fitted policy agent (bc) of mode {self.mode!r}"
            )
        self._reference = reference
        return self

    def fit(self, data: TrainingData) -> Self:
        """Fit the reference (unless `use_reference` gave one), then fine-tune it with DPO."""
        config: DPOConfig = self.config
        self._adopt(data)
        torch.set_num_threads(1)
        reference = getattr(self, "_reference", None)
        if reference is None:
            reference = self.reference_agent().fit(data)
            self.use_reference(reference)
        frozen = copy.deepcopy(reference.policy).eval().requires_grad_(False)
        self.policy = copy.deepcopy(reference.policy).train()
        optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate)
        rng = np.random.default_rng(config.seed)
        rounds = config.quick_rounds if data.quick else config.rounds
        self.history: list[dict[str, float]] = []
        bar = tqdm(range(rounds), desc=f"dpo {data.mode}", leave=False)
        for round_index in bar:
            pairs = self.collect_pairs(data, frozen, rng, round_index)
            stats = self._update(pairs, frozen, optimizer, rng)
            stats["pairs"] = float(len(pairs.chosen))
            stats["mean_gap"] = float(pairs.gap.mean()) if len(pairs.gap) else 0.0
            self.history.append(stats)
            bar.set_postfix(
                pairs=len(pairs.chosen),
                kl=f"{stats.get('kl', 0):.3f}",
                acc=f"{stats.get('accuracy', 0):.2f}",
            )
        self.policy.eval()
        return self

    # ----- preferences from world-model rollouts ------------------------------------------------

    def collect_pairs(
        self,
        data: TrainingData,
        reference: TrackPolicy,
        rng: np.random.Generator,
        round_index: int = 0,
    ) -> PreferencePairs:
        """One round of on-policy sessions in the world model.

        It branches at random steps into scored candidates.
        """
        config: DPOConfig = self.config
        n = config.sessions_per_round if not data.quick else max(8, config.sessions_per_round // 8)
        sessions = data.sessions(n)
        rngs = [np.random.default_rng([config.seed, round_index, i]) for i in range(n)]
        sessions.reset(np.arange(n), rngs, cold=False)
        found: list[PreferencePairs] = []
        for _ in range(data.episode_length):
            observations = sessions.observations()
            branching = np.flatnonzero(rng.random(n) < config.branch_probability)
            if len(branching):
                found.append(
                    self._score_candidates(sessions, observations, branching, reference, data, rng)
                )
            actions = self._sample(
                self._network(), observations, sessions.played, rng.random(n)
            )  # on-policy
            sessions.step(actions, rngs)
        return PreferencePairs(
            *(
                np.concatenate([getattr(p, f) for p in found]) if found else np.zeros(0)
                for f in ("observations", "played", "chosen", "rejected", "gap")
            )
        )

    def _score_candidates(
        self,
        sessions: ListeningSessions,
        observations: np.ndarray,
        rows: np.ndarray,
        reference: TrackPolicy,
        data: TrainingData,
        rng: np.random.Generator,
    ) -> PreferencePairs:
        config: DPOConfig = self.config
        k = config.candidates
        with torch.no_grad():
            logits = reference(
                torch.from_numpy(observations[rows]), torch.from_numpy(sessions.played[rows])
            )
            log_probs = F.log_softmax(logits, -1).numpy()
        gumbel = log_probs - np.log(
            -np.log(rng.random(log_probs.shape))
        )  # Gumbel top-k: k draws without replacement
        candidates = np.argpartition(-gumbel, k - 1, axis=1)[:, :k]  # (rows, k)
        forks = sessions.fork(np.repeat(rows, k))
        seeds = rng.integers(0, 2**63, len(rows))
        fork_rngs = [
            np.random.default_rng(int(s)) for s in np.repeat(seeds, k)
        ]  # common random numbers per state
        steps = min(config.horizon, data.episode_length - int(sessions.t[rows[0]]))
        returns = np.zeros(len(rows) * k)
        actions = candidates.reshape(-1)
        for h in range(steps):
            rewards, _ = forks.step(actions, fork_rngs)
            returns += config.discount**h * rewards
            if h + 1 < steps:
                uniforms = np.array([r.random() for r in fork_rngs])
                actions = self._sample(reference, forks.observations(), forks.played, uniforms)
        novelty_weight = config.weights(self.mode)[1]
        returns = returns.reshape(len(rows), k) + novelty_weight * self._novelty(
            sessions, rows, candidates
        )
        order = np.argsort(-returns, axis=1)
        best, worst = (
            order[:, : k // 2],
            order[:, ::-1][:, : k // 2],
        )  # i-th best against i-th worst
        gap = np.take_along_axis(returns, best, 1) - np.take_along_axis(returns, worst, 1)
        keep = gap > config.margin
        state = np.repeat(np.arange(len(rows)), k // 2).reshape(len(rows), k // 2)
        return PreferencePairs(
            observations=observations[rows][state[keep]],
            played=sessions.played[rows][state[keep]],
            chosen=np.take_along_axis(candidates, best, 1)[keep],
            rejected=np.take_along_axis(candidates, worst, 1)[keep],
            gap=gap[keep],
        )

    @staticmethod
    def _novelty(
        sessions: ListeningSessions, rows: np.ndarray, candidates: np.ndarray
    ) -> np.ndarray:
        """Mean cosine distance of each candidate to the session's played tracks.

        0 before the first.

        # (rows, k)
        """
        unit = sessions.catalog.unit_embeddings
        played = sessions.played[rows]  # (rows, T), -1 beyond t
        known = played >= 0
        similarity = unit[candidates] @ unit[np.maximum(played, 0)].transpose(
            0, 2, 1
        )  # (rows, k, T)
        count = known.sum(1)[:, None]
        distance = ((1 - similarity) * known[:, None]).sum(-1)
        return np.where(count > 0, distance / np.maximum(count, 1), 0.0)

    @staticmethod
    def _sample(
        policy: TrackPolicy, observations: np.ndarray, played: np.ndarray, uniforms: np.ndarray
    ) -> np.ndarray:
        """One track per row from `policy`, given each session's played tracks.

        Drawn with `uniforms` (n,).
        """
        return sample_categorical(policy.probabilities(observations, played), uniforms)

    def _update(
        self,
        pairs: PreferencePairs,
        reference: TrackPolicy,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
    ) -> dict[str, float]:
        config: DPOConfig = self.config
        policy = self._network()
        if not len(pairs.chosen):
            return {}
        obs, played = torch.from_numpy(pairs.observations), torch.from_numpy(pairs.played)
        chosen, rejected = torch.from_numpy(pairs.chosen), torch.from_numpy(pairs.rejected)
        with torch.no_grad():
            reference_logits = reference(obs, played)
        kl_weight = config.weights(self.mode)[0]
        totals: dict[str, float] = {}
        batches = 0
        for _ in range(config.epochs_per_round):
            order = torch.from_numpy(rng.permutation(len(chosen)))
            for first in range(0, len(order), config.pairs_per_update):
                batch = order[first : first + config.pairs_per_update]
                loss, stats = dpo_loss(
                    policy(obs[batch], played[batch]),
                    reference_logits[batch],
                    chosen[batch],
                    rejected[batch],
                    config.beta,
                    kl_weight,
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                batches += 1
        return {key: value / batches for key, value in totals.items()}


class SharpDPOAgent(DPOAgent):
    """`dpo_sharp`: the DPO family's utility end (`SharpDPOConfig`)."""

    name: ClassVar[str] = "dpo_sharp"
    config_type: ClassVar[type] = SharpDPOConfig


class BroadDPOAgent(DPOAgent):
    """`dpo_broad`: the DPO family's diversity end (`BroadDPOConfig`)."""

    name: ClassVar[str] = "dpo_broad"
    config_type: ClassVar[type] = BroadDPOConfig
