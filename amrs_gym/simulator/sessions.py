"""`ListeningSessions`: n concurrent listening sessions of one mode, stepped as one batch.

A step reads: the world model predicts the listener's response to each played track, the
outcome source draws the outcome (`amrs_gym.simulator.outcomes`), the mode's utility scores
it, and the world model observes it. The single env is this core with n = 1, the vector env
steps all n at once, evaluation, log replay and DPO drive it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amrs_gym.modes import mode_index
from amrs_gym.reward import UtilityInputs
from amrs_gym.simulator.observation import build_observations, observation_space
from amrs_gym.simulator.outcomes import (
    OutcomeSource,
    ReferenceOutcomes,
    StepOutcome,
    WorldModelOutcomes,
)
from amrs_gym.simulator.starts import StartSession, start_batch
from amrs_gym.world_model.member_world import MemberWorld
from amrs_gym.world_model.protocol import (
    EnsembleModel,
    ListenerModel,
    ModelState,
    StepPrediction,
    disagreement,
    member_std,
    reads_propensity,
)

if TYPE_CHECKING:
    from gymnasium import spaces

    from amrs_gym.simulator.config import SessionConfig
    from amrs_gym.simulator.view import SessionView

INFO_KEYS = (
    "track_id",
    "engagement",
    "skipped",
    "skip_probability",
    "expected_engagement",
    "like_probability",
    "valence",
    "arousal",
    "valence_predicted",
    "arousal_predicted",
    "valence_sampled",
    "arousal_sampled",
    "utility_components",
)
"""What every listening env reports per step (see `AffectiveListeningEnv`'s Info section)."""


SCORED_AT_ONCE = 10_000
"""Candidates (rows x k) `predicted_utility` scores in one batch. Larger batches spill the world
model's temporaries out of the CPU's cache: 256 sessions x 1,200 tracks took 7-8 s at once, 1.1 s
in blocks of 8 sessions, with the same results."""


ENCODED_BATCHES = 4
"""Encoded start batches a config keeps (`ListeningSessions._encode`): the ensemble's batch of
the ~280 held-out starts is about 46 MB."""


class ListeningSessions:
    """n sessions of one `SessionConfig`, with outcomes from `outcomes`."""

    def __init__(self, config: SessionConfig, n: int, outcomes: OutcomeSource):
        """Allocate n sessions; `reset` starts them."""
        setup = config.setup
        self.config, self.n, self.outcomes = config, n, outcomes
        self.mode, self.utility, self.model = setup.mode, setup.utility, setup.model
        self.catalog, self.starts = setup.catalog, setup.starts
        self.history_length, self.episode_length = config.history_length, config.episode_length
        self.pessimism = config.pessimism if isinstance(outcomes, WorldModelOutcomes) else 0.0
        """The penalty weight on utility uncertainty (world-model outcomes only: the truth's
        rewards are never penalised)."""
        self._mode = mode_index(self.mode)
        self._target = np.array([self.utility.target_valence, self.utility.target_arousal])
        self.state: ModelState | None = None
        self._encoded: dict[int, tuple[ModelState, int]] = {}
        """Encoded starting sessions: index into `starts` -> (compact batch of states, its row)."""
        self._look_ahead_only = False  # a fork with only its filled context (`fork`)
        self.t = np.zeros(n, dtype=np.int64)
        self.affect = np.zeros((n, 2))
        """The world model's current valence/arousal estimate."""
        self.cohort = np.zeros(n, dtype=np.int64)
        self.listener = np.zeros(n, dtype=np.int64)
        self.last = np.zeros((n, 3))
        """Last step's engagement, skipped and predicted like probability."""
        self.played = np.full((n, self.episode_length), -1, dtype=np.int64)
        self.context = np.zeros((n, self.model.context_size), dtype=np.float32)
        self.profile = np.zeros((n, self.catalog.embedding_dim), dtype=np.float32)
        """The listener's profile from their logged history (zeros in a cold start)."""

    # ----- reset -------------------------------------------------------------------------------

    def reset(
        self,
        rows: np.ndarray,
        rngs: Sequence[np.random.Generator],
        cold: bool,
        start_indices: Sequence[int] | None = None,
    ) -> None:
        """Start new episodes in `rows` (each with its own generator) from logged histories or cold.

        `start_indices` picks the starting sessions (indices into `self.starts`) instead of
        drawing them.
        """
        rows = np.asarray(rows, dtype=np.int64)
        full = len(rows) == self.n
        if self.state is None and not full:
            raise RuntimeError("reset every session before resetting a subset")
        if start_indices is not None:
            indices = [int(i) for i in start_indices]
        else:
            indices = [int(rngs[i].integers(0, len(self.starts))) for i in rows]
        picks = [self.starts[i] for i in indices]
        reports = np.stack([s.start_report for s in picks])
        drawn = self.outcomes.reset(rows, picks, cold, rngs[int(rows[0])])
        if drawn is not None:  # a cold session's first report comes from the source
            reports = drawn
        if cold:
            state = self.model.start(
                start_batch(picks, self._mode, self.history_length, True, reports)
            )
        else:
            state = self._start_cached(indices, picks, in_place=full)
        if full:
            self.state = state
        else:
            self.model.assign(self.state, rows, state)
        self.t[rows] = 0
        self.affect[rows] = reports  # the current affect estimate is the session's starting report
        self.cohort[rows] = [s.cohort for s in picks]
        self.listener[rows] = [s.listener for s in picks]
        self.last[rows] = 0.0
        self.played[rows] = -1
        self.context[rows] = self.model.context(state)
        self.profile[rows] = 0.0 if cold else np.stack([s.profile for s in picks])

    def _start_cached(
        self, indices: list[int], picks: list[StartSession], in_place: bool = False
    ) -> ModelState:
        """Encoded histories, each computed once per starting session and then reused.

        A logged history always encodes to the same state, and encoding is most of a reset's cost.
        Sessions encoded together are kept as one compact batch and copied out of it together.
        With `in_place`, every session is being reset and the current state is overwritten.
        Cache slots past a session's own tokens are never attended to, so what they hold is moot.
        """
        model = self.model
        missing = sorted({i for i in indices if i not in self._encoded})
        if missing:
            batch = self._encode(missing)
            for row, index in enumerate(missing):
                self._encoded[index] = (batch, row)
        template = self.state
        if template is None:
            template = model.start(
                start_batch(picks[:1], self._mode, 0, True, picks[0].start_report[None])
            )
        elif in_place:
            template = None
        out = (
            self.state
            if template is None
            else model.select(template, np.zeros(len(indices), dtype=np.int64))
        )
        groups: dict[int, tuple[ModelState, list[int], list[int]]] = {}
        for row, index in enumerate(indices):
            batch, batch_row = self._encoded[index]
            _, rows, batch_rows = groups.setdefault(id(batch), (batch, [], []))
            rows.append(row)
            batch_rows.append(batch_row)
        for batch, rows, batch_rows in groups.values():
            model.assign(out, np.array(rows), model.select(batch, np.array(batch_rows)))
        return out

    def _encode(self, indices: list[int]) -> ModelState:
        """The starting sessions `indices` encoded as one compact batch.

        Kept in the config's setup for the next sessions that encode the same batch (a rollout
        with the same seeds and episodes: every policy an evaluation compares), the last
        `ENCODED_BATCHES` of them. Only the same batch is reused, because a start encoded alone
        or with others differs in the sixth digit: results stay the same bit for bit.
        """
        shared = self.config.setup.encoded
        key = tuple(indices)
        if key not in shared:
            picks = [self.starts[i] for i in indices]
            reports = np.stack([s.start_report for s in picks])
            fresh = self.model.start(
                start_batch(picks, self._mode, self.history_length, False, reports)
            )
            if len(shared) >= ENCODED_BATCHES:
                del shared[next(iter(shared))]
            shared[key] = self.model.select(fresh, np.arange(len(indices)), compact=True)
        return shared[key]

    # ----- step --------------------------------------------------------------------------------

    def step(
        self,
        actions: np.ndarray,
        rngs: Sequence[np.random.Generator],
        live: np.ndarray | None = None,
        advance: bool = True,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Play one track in every session; returns utilities (n,) and per-session info arrays.

        Session i draws its randomness from `rngs[i]` only, and only while `live[i]` (a session
        about to be reset is stepped without consuming its generator). With `advance` False the
        rewards and info are the same, but the sessions stay where they were (only `rngs` move
        on): a look-ahead that skips encoding the tracks into the context, e.g. a fork's last
        step. World-model sessions only (a reference world's draw moves its latent state).
        """
        if not advance and isinstance(self.outcomes, ReferenceOutcomes):
            raise ValueError("advance=False needs world-model sessions: the reference world moves")
        if advance and self._look_ahead_only:
            raise ValueError(
                "these sessions were forked look_ahead_only: step them with advance=False"
            )
        state = self._state()
        actions = np.asarray(actions, dtype=np.int64)
        live = np.ones(self.n, dtype=bool) if live is None else live
        prediction = self._model_predict(self.model, state, actions[:, None])
        outcome = self.outcomes.draw(self, actions, prediction, rngs, live)
        repeats = (self.played == actions[:, None]).sum(axis=1)
        components = self.utility.components(outcome.utility_inputs(repeats))
        rewards = self.utility.total(components)
        uncertainty = None
        if prediction.members is not None:
            uncertainty = self._uncertainty(
                prediction, actions[:, None], np.arange(self.n), repeats[:, None]
            )
            uncertainty = {key: value[:, 0] for key, value in uncertainty.items()}
        if advance:
            self._advance(state, actions, outcome, live, prediction)
        valence, arousal = prediction.valence_mean[:, 0], prediction.arousal_mean[:, 0]
        info = {
            "track_id": actions,
            "engagement": outcome.engagement,
            "skipped": outcome.skipped,
            "skip_probability": outcome.skip_probability,
            "expected_engagement": outcome.expected_engagement,
            "like_probability": outcome.like_probability,
            "valence": outcome.valence_after,
            "arousal": outcome.arousal_after,
            "valence_predicted": valence,
            "arousal_predicted": arousal,
            "valence_sampled": outcome.valence_sampled,
            "arousal_sampled": outcome.arousal_sampled,
            "utility_components": components,
        }
        if uncertainty is not None:
            info["uncertainty"] = uncertainty
            info["utility"] = rewards
            info["pessimism_penalty"] = self.pessimism * uncertainty["utility"]
            rewards = rewards - info["pessimism_penalty"]
        return rewards, info

    def _advance(
        self,
        state: ModelState,
        actions: np.ndarray,
        outcome: StepOutcome,
        live: np.ndarray,
        prediction: StepPrediction,
    ) -> None:
        """Move every session past the track it just played (`step`'s second half)."""
        if live.any():  # sessions that are not live keep their state: skip a step none takes
            self.model.observe(state, actions, outcome, active=None if live.all() else live)
        self.played[np.arange(self.n), np.minimum(self.t, self.episode_length - 1)] = actions
        self.t += 1
        self.affect = np.stack([prediction.valence_mean[:, 0], prediction.arousal_mean[:, 0]], 1)
        like = prediction.like_probability[:, 0]
        self.last = np.stack([outcome.engagement, outcome.skipped.astype(np.float64), like], 1)
        self.context = self.model.context(state)

    def _uncertainty(
        self,
        prediction: StepPrediction,
        candidates: np.ndarray,
        rows: np.ndarray,
        repeats: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The members' disagreement on candidates (rows, k), one-step utility included.

        `prediction` is an ensemble's (the mixture, with the members' own in `members`). Each
        member's expected utility is computed from its own means (affect before: the sessions'
        current estimate); "utility" is their standard deviation. `repeats` (rows, k) are the
        candidates' earlier plays if already counted.
        """
        members = prediction.members
        if members is None:
            raise RuntimeError("only ensemble sessions (ensemble=True) have a member disagreement")
        engagement = members.expected_engagement()
        spread = disagreement(members, engagement, mixed=prediction)
        before = self.affect[rows]
        terms = self._candidate_terms(
            rows,
            candidates,
            engagement,
            members.like_probability,
            before[:, :1],
            before[:, 1:],
            members.valence_mean,
            members.arousal_mean,
            repeats,
        )  # (K, rows, k) each
        return {**spread, "utility": member_std(self.utility.total(terms))}

    def _state(self) -> ModelState:
        if self.state is None:
            raise RuntimeError("reset the sessions before stepping them")
        return self.state

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        """`actions` as (n,) int64 track ids, or a clear error naming what is wrong with them."""
        actions = np.asarray(actions)
        if actions.shape != (self.n,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"invalid actions: expected {self.n} integer track ids, got {actions!r}"
            )
        if actions.min() < 0 or actions.max() >= self.catalog.n_tracks:
            outside = (actions < 0) | (actions >= self.catalog.n_tracks)
            first = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"invalid actions: track ids must lie in [0, {self.catalog.n_tracks}), got "
                f"{int(actions[first])} for session {first}"
            )
        return actions.astype(np.int64, copy=False)

    # ----- what agents and evaluators read -----------------------------------------------------

    def observation_space(self) -> spaces.Box:
        """The space `observations` lie in (its size depends on the model and the catalog)."""
        return observation_space(self.model.context_size, self.catalog.embedding_dim)

    def observations(self) -> np.ndarray:
        """Current observation of every session.

        # (n, obs_dim)
        """
        return build_observations(
            self._mode,
            self.cohort,
            self.t / self.episode_length,
            self.affect,
            self._target,
            self.last,
            self.context,
            self.profile,
        )

    def evaluator_affect(self) -> np.ndarray:
        """Each session's current affect as the outcome source has it.

        # (n, 2)
        """
        return self.outcomes.affect(self)

    def view(self) -> SessionView:
        """A read-only view for agents that need more than the observation."""
        from amrs_gym.simulator.view import SessionView

        return SessionView(self)

    def predicted_utility(
        self,
        candidates: np.ndarray,
        rows: np.ndarray | None = None,
        pessimism: float | None = None,
        member: int | None = None,
    ) -> np.ndarray:
        """The world model's expected one-step utility of each candidate track as the next one.

        Minus `pessimism` (default: the sessions' own) times its uncertainty: the reward an agent
        is trained on in pessimistic sessions. A pessimism above 0 needs ensemble sessions.
        `member` (with no pessimism): that ensemble member's utility alone, a K-th of the cost
        (member 0 of one world model is the model; of a member's world, `SessionConfig.member`,
        the world model, not the member that answers).

        For sessions `rows` (default all).

        # candidates (rows, k) -> (rows, k)
        """
        pessimism = self.pessimism if pessimism is None else pessimism
        if member is not None and pessimism:
            raise ValueError(
                f"pessimism {pessimism} needs every member; a single member's utility has none"
            )
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        candidates = np.asarray(candidates)
        block = max(1, SCORED_AT_ONCE // max(candidates.shape[1], 1))
        if len(rows) > block:  # blocks of rows whose temporaries stay in the CPU's cache
            parts = [
                self.predicted_utility(
                    candidates[i : i + block], rows[i : i + block], pessimism, member
                )
                for i in range(0, len(rows), block)
            ]
            return np.concatenate(parts)
        rows, prediction = self._predict_rows(candidates, rows, member)
        if pessimism and prediction.members is None:
            raise ValueError(
                f"pessimism {pessimism} needs the ensemble's disagreement: these sessions run "
                "one world model (SessionConfig(ensemble=True), or a pessimistic env)"
            )
        expected = self._expected(prediction, rows)
        utility = self.utility.total(self._candidate_terms(rows, candidates, *expected))
        if pessimism:
            spread = self._uncertainty(prediction, candidates, rows)
            utility = utility - pessimism * spread["utility"]
        return utility

    def _predict_rows(
        self, candidates: np.ndarray, rows: np.ndarray | None, member: int | None = None
    ) -> tuple[np.ndarray, StepPrediction]:
        """The model's (or one `member`'s) prediction of candidates (rows, k) for sessions `rows`.

        `rows` default to all.
        """
        model, state = self.model, self._state()
        if member == 0 and isinstance(model, MemberWorld):  # the world model, not the member
            model, state = model.world_model(state)
        elif member is not None and isinstance(model, EnsembleModel) and model.members > 1:
            model, state = model.member(member), state.member(member)
        elif member not in (None, 0):
            raise ValueError(f"member {member} of a world model with one member (only 0)")
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        part = state if len(rows) == self.n else model.select(state, rows)
        return rows, self._model_predict(model, part, candidates, rows)

    def _model_predict(
        self,
        model: ListenerModel,
        state: ModelState,
        candidates: np.ndarray,
        rows: np.ndarray | None = None,
    ) -> StepPrediction:
        """`model`'s prediction of candidates (rows, k) in `state` (sessions `rows`, default all).

        With the production policy's propensity of each candidate if the model reads it.
        """
        if not reads_propensity(model):
            return model.predict(state, candidates)
        return model.predict(state, candidates, self.production_propensity(candidates, rows))

    def production_propensity(
        self, candidates: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The production policy's probability of playing each candidate next, as the logs'.

        From what it reads in sessions `rows` (default all): the listener, the tracks played,
        whether the last was skipped. The config's `production` scorer, else the bundle's
        production policy (`NoTruthError` without a reference world).

        # candidates (rows, k) -> (rows, k)
        """
        index = slice(None) if rows is None else np.asarray(rows)  # every row: views, no copies
        n = self.n if rows is None else len(rows)
        probabilities = np.asarray(
            self.config.production_scorer(
                listener=self.listener[index],
                mode=np.full(n, self._mode),
                history=self.played[index],
                position=np.minimum(self.t[index], self.episode_length),
                last_skipped=self.last[index, 1] > 0.5,
            ),
            dtype=np.float64,
        )
        if probabilities.shape != (n, self.catalog.n_tracks):
            raise ValueError(
                f"the production scorer returned shape {probabilities.shape}, expected "
                f"{(n, self.catalog.n_tracks)} (sessions, tracks)"
            )
        chosen: np.ndarray = np.take_along_axis(probabilities, np.asarray(candidates), axis=1)
        return chosen

    def utility_uncertainty(
        self, candidates: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The ensemble members' standard deviation of each candidate's one-step utility.

        What the pessimistic reward subtracts (times lambda). Ensemble sessions only.

        # candidates (rows, k) -> (rows, k)
        """
        rows, prediction = self._predict_rows(candidates, rows)
        return self._uncertainty(prediction, candidates, rows)["utility"]

    def reference_utility(
        self, candidates: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """The reference world's own expected one-step utility of each candidate.

        From the listener's latent state: what no observer can know. Reference-world sessions only.

        # (rows, k)
        """
        return self.utility.total(self.utility_terms(candidates, rows, truth=True))

    def utility_terms(
        self, candidates: np.ndarray, rows: np.ndarray | None = None, truth: bool = False
    ) -> dict[str, np.ndarray]:
        """Each weighted term of every candidate's one-step utility (`Utility.components`).

        As the world model expects it (`predicted_utility` without pessimism, term by term), or
        with `truth` as the reference world does (`reference_utility`, reference-world sessions
        only): which part of an estimate is wrong. For sessions `rows` (default all).

        # candidates (rows, k) -> each term (rows, k)
        """
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        candidates = np.asarray(candidates, dtype=np.int64)
        if truth:
            expected = self._truth().expected_outcome(rows, candidates)
        else:
            expected = self._expected(self._predict_rows(candidates, rows)[1], rows)
        return self._candidate_terms(rows, candidates, *expected)

    def _truth(self) -> ReferenceOutcomes:
        """The reference world behind these sessions, or a clear error."""
        if not isinstance(self.outcomes, ReferenceOutcomes):
            raise RuntimeError(
                "only reference-world sessions have a latent state to score candidates with"
            )
        return self.outcomes

    def _expected(self, prediction: StepPrediction, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """What the utility reads from a prediction for sessions `rows` (`_candidate_terms`' order).

        Engagement, like, the affect before (the sessions' current estimate) and after.
        """
        before = self.affect[rows]
        return (
            prediction.expected_engagement(),
            prediction.like_probability,
            before[:, :1],
            before[:, 1:],
            prediction.valence_mean,
            prediction.arousal_mean,
        )

    def _candidate_terms(
        self,
        rows: np.ndarray,
        candidates: np.ndarray,
        engagement: np.ndarray,
        like: np.ndarray,
        valence_before: np.ndarray,
        arousal_before: np.ndarray,
        valence_after: np.ndarray,
        arousal_after: np.ndarray,
        repeats: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The mode's utility terms of candidates (rows, k) from expected outcomes.

        The outcomes are (rows, k), the affect before (rows, 1); each candidate's earlier plays in
        the episode count (`repeats` (rows, k), if already counted).
        """
        if repeats is None:
            repeats = (self.played[rows, None, :] == candidates[:, :, None]).sum(-1)
        repeats = np.broadcast_to(repeats, np.shape(engagement))  # members' outcomes: (K, rows, k)
        return self.utility.components(
            UtilityInputs(
                engagement=engagement,
                like=like,
                valence_before=valence_before,
                arousal_before=arousal_before,
                valence_after=valence_after,
                arousal_after=arousal_after,
                repeats=repeats,
            )
        )

    def fork(self, rows: np.ndarray, look_ahead_only: bool = False) -> ListeningSessions:
        """Independent copies of sessions `rows` (repeats allowed).

        They roll out alternatives from the same point. World-model sessions only (the reference
        world's latent state is not forked). `look_ahead_only` copies only the context the
        sessions have (a fraction of the model's cache): the copies can be scored and looked
        ahead (`step(..., advance=False)`) but not stepped on.
        """
        rows = np.asarray(rows, dtype=np.int64)
        copy = ListeningSessions(self.config, len(rows), self.outcomes.fork(rows))
        copy.state = self.model.select(self._state(), rows, compact=look_ahead_only)
        copy._look_ahead_only = look_ahead_only
        for name in ("t", "affect", "cohort", "listener", "last", "played", "context", "profile"):
            setattr(copy, name, getattr(self, name)[rows].copy())
        return copy
