"""`dpo`: behaviour cloning, then iterative Direct Preference Optimization on world-model rollouts.

1. Fit the reference policy the config names (`reference`, BC by default) on the logs; freeze a
   copy.
2. Each round, start sessions from training listeners' logged histories, in the world model or,
   with `pessimism` > 0, in the pessimistic ensemble (reward = utility - lambda * the members'
   disagreement, so that preferences do not follow the world model's errors), and play them with
   the current policy (later rounds see the states the fine-tuned policy visits). At a random
   subset of steps, draw `candidates` distinct tracks from a mixture of the reference and the
   current policy (`policy_share`), fork the session once per candidate, play the candidate and
   then `horizon - 1` steps of the reference policy, and score the candidate by the discounted
   sum of the rewards, plus a novelty bonus (`novelty_weight` times its mean cosine distance to
   the tracks already played). Forks of one state share their random numbers, so returns differ
   by the candidate, not by luck.
3. Rank each state's candidates by their scores. With `loss="pairs"`, pair the best with the
   worst, the second with the second-worst, ... (pairs closer than `margin` are dropped) and
   minimise

       -log sigmoid(beta * [(log pi(w|s) - log ref(w|s)) - (log pi(l|s) - log ref(l|s))])
       + kl_weight * KL(ref(.|s) || pi(.|s));

   with `loss="plackett_luce"`, the whole ranking's Plackett-Luce likelihood under the same
   implicit reward (S-DPO's multi-negative loss; `plackett_luce_loss`). The preference term's
   anchor to the reference is only along the sampled tracks, so the explicit, mass-covering KL
   term over the whole catalog keeps the policy's breadth.

One policy per mode: each mode has its own utility and its own BC reference. Every default was
chosen on training listeners in the world model (`python -m benchmarks.dpo_sweep`; the history is
in benchmarks/NOTES.md): one-step scoring, 16 candidates, the per-mode `MODE_WEIGHTS`, the loss,
the pessimism and the candidates' source.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from agents.base import BaseAgent, PolicyAgent, preset
from agents.data import TrainingData
from agents.policy import TrackPolicy
from amrs_gym.reward import DEFAULT_PESSIMISM
from amrs_gym.sampling import sample_categorical, tempered
from amrs_gym.simulator import ListeningSessions

MODE_WEIGHTS: dict[str, tuple[float, float]] = {
    "energize": (1.0, 1.5),
    "focus": (0.5, 1.0),
    "calm": (1.0, 1.0),
    "sleep": (1.0, 2.0),
}
"""Per mode, the (KL weight, novelty weight) chosen by `python -m benchmarks.dpo_sweep` in the
shipped (propensity) world model: validation on training listeners in the pessimistic ensemble,
1000 episodes (coverage depends on the episode count, so it is measured at the bar's), KL
{0.5, 1, 2} x novelty {1, 1.5, 2} for the default method (Plackett-Luce, pessimism 1, policy
share 0.5); kept: the best validation utility keeping 90% of BC's coverage and of its ILD
(benchmarks/NOTES.md). The rule picked the popularity model's weights again in energize, focus
and calm; in sleep (1, 2) replaced (1, 1.5), which kept 89.9% of BC's ILD. Sleep's validation:
0.971 against BC's 0.878, keeping 94.9% / 93.8% of BC's coverage / ILD."""


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
    scoring: str = field(default="sampled", metadata={"choices": ("sampled", "expected")})
    """A step's utility in a candidate's score: `sampled`, the reward of one drawn outcome
    (common random numbers across a state's candidates); `expected`, the model's expected
    one-step utility of the track played (no outcome noise; the pessimistic one in a pessimistic
    ensemble)."""
    candidates: int = field(default=16, metadata={"min": 2})
    """Distinct tracks sampled from the reference at each branching state (at least two to rank,
    at most the catalog's size)."""
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
    pessimism: float = field(default=DEFAULT_PESSIMISM, metadata={"min": 0.0})
    """Lambda of the pessimistic ensemble whose sessions are played and score the candidates
    (reward = utility - lambda * the members' disagreement on it), so that DPO does not learn
    the world model's errors; 0: the single world model."""
    policy_share: float = field(default=0.5, metadata={"min": 0.0, "max": 1.0})
    """Weight of the current policy in the mixture candidates are drawn from (the rest: the
    reference): later rounds then also rank what the fine-tuned policy would play."""
    loss: str = field(default="plackett_luce", metadata={"choices": ("pairs", "plackett_luce")})
    """`pairs`: the i-th best against the i-th worst candidate (DPO); `plackett_luce`: the
    likelihood of each state's whole ranking (S-DPO's multi-negative loss)."""
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
    return plackett_luce_loss(
        logits, reference_logits, torch.stack([chosen, rejected], 1), beta, kl_weight
    )


def plackett_luce_loss(
    logits: torch.Tensor,
    reference_logits: torch.Tensor,
    ranked: torch.Tensor,
    beta: float,
    kl_weight: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Minus the Plackett-Luce log-likelihood of rankings under DPO's implicit reward, plus KL.

    Each candidate's implicit reward is beta * (log pi - log ref); the loss is the mean over
    ranks of -log softmax(rewards of the candidates not yet placed)[the one placed] (S-DPO). With
    two candidates it is DPO's pair loss; `kl_weight` * KL(reference || policy) over the whole
    catalog is added.

    Args:
        logits: the policy's logits at each state.  # (batch, n_tracks)
        reference_logits: the frozen reference's logits there.  # (batch, n_tracks)
        ranked: each state's candidates, best first.  # (batch, k)
        beta: the DPO temperature.
        kl_weight: the weight of KL(reference || policy).
    """
    log_probs = F.log_softmax(logits, dim=-1)
    reference = F.log_softmax(reference_logits, dim=-1)
    ratio = log_probs.gather(1, ranked) - reference.gather(1, ranked)  # (batch, k)
    rewards = beta * ratio
    later = torch.logcumsumexp(rewards.flip(1), dim=1).flip(1)  # log sum over ranks >= i
    preference = -(rewards - later)[:, :-1].mean()
    kl = (
        (reference.exp() * (reference - log_probs)).sum(-1).mean()
    )  # KL(reference || policy): mass-covering
    stats = {
        "preference_loss": preference.item(),
        "kl": kl.item(),
        "accuracy": (ratio[:, :-1] > ratio[:, 1:]).float().mean().item(),
    }
    return preference + kl_weight * kl, stats


@dataclass
class Rankings:
    """States with candidate tracks ranked by their scored return, best first."""

    observations: np.ndarray  # (states, obs_dim)
    played: np.ndarray  # (states, episode_length) the session's tracks so far, -1 padded
    ranked: np.ndarray  # (states, k)
    returns: np.ndarray  # (states, k) descending

    def pairs(self, margin: float) -> PreferencePairs:
        """The i-th best against the i-th worst candidate.

        Only pairs whose returns differ by more than `margin`.
        """
        half = self.ranked.shape[1] // 2
        gap = self.returns[:, :half] - self.returns[:, ::-1][:, :half]
        keep = gap > margin
        state = np.repeat(np.arange(len(self.ranked)), half).reshape(-1, half)[keep]
        return PreferencePairs(
            observations=self.observations[state],
            played=self.played[state],
            chosen=self.ranked[:, :half][keep],
            rejected=self.ranked[:, ::-1][:, :half][keep],
            gap=gap[keep],
        )

    def spread(self, margin: float) -> Rankings:
        """The states whose best and worst candidate differ by more than `margin`."""
        keep = self.returns[:, 0] - self.returns[:, -1] > margin
        return Rankings(
            self.observations[keep], self.played[keep], self.ranked[keep], self.returns[keep]
        )


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

    def __init__(self, mode: str, config: Any = None):
        """A new DPO agent; its `reference` must name a registered policy agent (BC's kind)."""
        super().__init__(mode, config)
        import agents

        reference = self.config.reference
        kind = agents.agent_class(reference) if reference in agents.available() else None
        if kind is None or not issubclass(kind, PolicyAgent):
            raise ValueError(
                f"reference {reference!r}: DPO starts from a registered policy agent (a softmax "
                "over the catalog that BC fits, e.g. 'bc')"
            )

    def resolved_settings(self) -> dict[str, Any]:
        """The KL and novelty weights training uses (the mode's `MODE_WEIGHTS` where None)."""
        return {"weights": list(self.config.weights(self.mode))}

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
        if config.candidates > data.n_tracks:
            raise ValueError(
                f"candidates {config.candidates}: at most the catalog's {data.n_tracks} tracks"
            )
        torch.set_num_threads(1)
        reference = self._fitted_reference(data)
        frozen = copy.deepcopy(reference.policy).eval().requires_grad_(False)
        self.policy = copy.deepcopy(reference.policy).train()
        optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.learning_rate)
        rng = np.random.default_rng(config.seed)
        rounds = config.quick_rounds if data.quick else config.rounds
        self.history: list[dict[str, float]] = []
        bar = tqdm(range(rounds), desc=f"dpo {data.mode}", leave=False)
        for round_index in bar:
            rankings = self.collect_rankings(data, frozen, rng, round_index)
            stats = self._update(rankings, frozen, optimizer, rng)
            stats["states"] = float(len(rankings.ranked))
            spread = rankings.returns[:, 0] - rankings.returns[:, -1]
            stats["mean_spread"] = float(spread.mean()) if len(spread) else 0.0
            self.history.append(stats)
            bar.set_postfix(
                states=len(rankings.ranked),
                kl=f"{stats.get('kl', 0):.3f}",
                acc=f"{stats.get('accuracy', 0):.2f}",
            )
        self.policy.eval()
        return self

    def _fitted_reference(self, data: TrainingData) -> PolicyAgent:
        """The reference `use_reference` gave, else `reference_agent()` fitted on `data` now."""
        reference: PolicyAgent | None = getattr(self, "_reference", None)
        if reference is None:
            reference = self.reference_agent().fit(data)
            self.use_reference(reference)
        return reference

    # ----- preferences from world-model rollouts ------------------------------------------------

    def collect_pairs(
        self,
        data: TrainingData,
        reference: TrackPolicy,
        rng: np.random.Generator,
        round_index: int = 0,
    ) -> PreferencePairs:
        """One round's preference pairs (`collect_rankings`, then `Rankings.pairs`)."""
        config: DPOConfig = self.config
        return self.collect_rankings(data, reference, rng, round_index).pairs(config.margin)

    def collect_rankings(
        self,
        data: TrainingData,
        reference: TrackPolicy,
        rng: np.random.Generator,
        round_index: int = 0,
    ) -> Rankings:
        """One round of on-policy sessions in the world model (or the pessimistic ensemble).

        It branches at random steps into scored, ranked candidates.
        """
        config: DPOConfig = self.config
        n = config.sessions_per_round if not data.quick else max(8, config.sessions_per_round // 8)
        sessions = data.sessions(n, pessimism=config.pessimism)
        rngs = [np.random.default_rng([config.seed, round_index, i]) for i in range(n)]
        sessions.reset(np.arange(n), rngs, cold=False)
        found: list[Rankings] = []
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
        if not found:
            k = config.candidates
            return Rankings(
                np.zeros((0, data.obs_dim), np.float32),
                np.zeros((0, data.episode_length), np.int64),
                np.zeros((0, k), np.int64),
                np.zeros((0, k)),
            )
        return Rankings(
            *(np.concatenate([getattr(r, f) for r in found]) for f in Rankings.__dataclass_fields__)
        )

    def _score_candidates(
        self,
        sessions: ListeningSessions,
        observations: np.ndarray,
        rows: np.ndarray,
        reference: TrackPolicy,
        data: TrainingData,
        rng: np.random.Generator,
    ) -> Rankings:
        config: DPOConfig = self.config
        k = config.candidates
        obs, played = torch.from_numpy(observations[rows]), torch.from_numpy(sessions.played[rows])
        with torch.no_grad():
            proposal = F.softmax(reference(obs, played), -1)
            if config.policy_share:
                current = F.softmax(self._network()(obs, played), -1)
                proposal = (1 - config.policy_share) * proposal + config.policy_share * current
            log_probs = proposal.clamp(min=1e-30).log().numpy()
        gumbel = log_probs - np.log(
            -np.log(rng.random(log_probs.shape))
        )  # Gumbel top-k: k draws without replacement
        candidates = np.argpartition(-gumbel, k - 1, axis=1)[:, :k]  # (rows, k)
        steps = min(config.horizon, data.episode_length - int(sessions.t[rows[0]]))
        forks = sessions.fork(np.repeat(rows, k), look_ahead_only=steps == 1)
        seeds = rng.integers(0, 2**63, len(rows))
        fork_rngs = [
            np.random.default_rng(int(s)) for s in np.repeat(seeds, k)
        ]  # common random numbers per state
        returns = np.zeros(len(rows) * k)
        actions = candidates.reshape(-1)
        expected = config.scoring == "expected"
        for h in range(steps):
            if expected:
                returns += config.discount**h * forks.predicted_utility(actions[:, None])[:, 0]
                if h + 1 == steps:
                    break
            rewards, _ = forks.step(actions, fork_rngs, advance=h + 1 < steps)
            if not expected:
                returns += config.discount**h * rewards
            if h + 1 < steps:
                uniforms = np.array([r.random() for r in fork_rngs])
                actions = self._sample(reference, forks.observations(), forks.played, uniforms)
        novelty_weight = config.weights(self.mode)[1]
        returns = returns.reshape(len(rows), k) + novelty_weight * self._novelty(
            sessions, rows, candidates
        )
        order = np.argsort(-returns, axis=1)
        return Rankings(
            observations=observations[rows],
            played=sessions.played[rows],
            ranked=np.take_along_axis(candidates, order, 1),
            returns=np.take_along_axis(returns, order, 1),
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
        rankings: Rankings,
        reference: TrackPolicy,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
    ) -> dict[str, float]:
        """`epochs_per_round` passes over the round's pairs (or rankings, `loss`)."""
        config: DPOConfig = self.config
        policy = self._network()
        if config.loss == "pairs":
            pairs = rankings.pairs(config.margin)
            observations, played = pairs.observations, pairs.played
            ranked = np.stack([pairs.chosen, pairs.rejected], 1)
            batch_size = config.pairs_per_update
        else:
            kept = rankings.spread(config.margin)
            observations, played, ranked = kept.observations, kept.played, kept.ranked
            batch_size = max(1, 2 * config.pairs_per_update // config.candidates)  # same states
        if not len(ranked):
            return {}
        obs, played_t = torch.from_numpy(observations), torch.from_numpy(played)
        ranked_t = torch.from_numpy(ranked)
        with torch.no_grad():
            reference_logits = reference(obs, played_t)
        kl_weight = config.weights(self.mode)[0]
        totals: dict[str, float] = {}
        batches = 0
        for _ in range(config.epochs_per_round):
            order = torch.from_numpy(rng.permutation(len(ranked)))
            for first in range(0, len(order), batch_size):
                batch = order[first : first + batch_size]
                loss, stats = plackett_luce_loss(
                    policy(obs[batch], played_t[batch]),
                    reference_logits[batch],
                    ranked_t[batch],
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


SharpDPOAgent = preset(
    DPOAgent,
    "dpo_sharp",
    "The DPO family's utility end: a quarter of the KL and novelty weights.",
    diversity=0.25,
)
BroadDPOAgent = preset(
    DPOAgent,
    "dpo_broad",
    "The DPO family's diversity end: four times the KL and novelty weights.",
    diversity=4.0,
)


@dataclass(frozen=True)
class ColdDPOConfig(DPOConfig):
    """`dpo_sharp`'s settings, and the temperature its fine-tuned policy is served at."""

    diversity: float = 0.25
    temperature: float = field(default=0.25, metadata={"min": 0.01, "max": 1.0})
    """Serving temperature: the policy's distribution raised to 1 / temperature, renormalised.
    0.25 was chosen on training listeners in the pessimistic ensemble (benchmarks/NOTES.md):
    the warmest of {0.5, 0.25, 0.1} whose validation utility, averaged over the modes, is within
    0.01 of the best (0.1 adds 0.004 and halves the coverage)."""


class ColdDPOAgent(DPOAgent):
    """The DPO family's far utility end: `dpo_sharp`'s fine-tuned policy, served cold.

    Fine-tuning is `dpo_sharp`'s (its fitted policy is reused, not trained again); acting draws
    from that policy at `temperature`, so the family reaches the low-entropy regime a
    deterministic heuristic plays in, and the two compare on the same footing.
    """

    name: ClassVar[str] = "dpo_cold"
    config_type: ClassVar[type] = ColdDPOConfig

    def reference_agent(self) -> BaseAgent:
        """An unfitted `dpo_sharp` with this config's DPO settings (the policy served cold)."""
        import agents

        shared = {f: getattr(self.config, f) for f in DPOConfig.__dataclass_fields__}
        return agents.make("dpo_sharp", mode=self.mode, **shared)

    def use_reference(self, reference: BaseAgent) -> Self:
        """Serve this fitted `dpo_sharp` (e.g. one shared with a cache) instead of fitting one."""
        if not isinstance(reference, SharpDPOAgent) or reference.mode != self.mode:
            raise ValueError(
                f"the reference must be a fitted dpo_sharp agent of mode {self.mode!r}"
            )
        self._reference = reference
        return self

    def fit(self, data: TrainingData) -> Self:
        """Take the fitted `dpo_sharp` policy (fitting one unless `use_reference` gave it)."""
        self._adopt(data)
        self.policy = copy.deepcopy(self._fitted_reference(data).policy).eval()
        return self

    def action_probabilities(self, observation: np.ndarray, state: Any = None) -> np.ndarray:
        """The fine-tuned policy's distribution, tempered (see `PolicyAgent`)."""
        config: ColdDPOConfig = self.config
        return tempered(super().action_probabilities(observation, state), config.temperature)
