"""random, logged, popular, greedy, bc: fit on the quick setting, act, evaluate, save and load."""

from __future__ import annotations

import numpy as np
import pytest

import agents
from agents.evaluation import off_policy, rollout
from agents.greedy import GreedyAgent, GreedyConfig
from amrs_gym import defaults
from amrs_gym.reward import DEFAULT_PESSIMISM
from amrs_gym.simulator import LoggedSteps, SessionConfig

SIMPLE = ["random", "logged", "popular", "greedy", "bc"]


def calm(episode_length: int) -> SessionConfig:
    return SessionConfig("calm", episode_length=episode_length)


@pytest.fixture(scope="module")
def fitted(zoo):
    return zoo


@pytest.mark.parametrize("name", SIMPLE)
def test_agents_act_in_both_evaluators_and_round_trip_through_a_file(
    name, fitted, calm_data, tmp_path
) -> None:
    agent = fitted[name]
    for evaluator in ("world_model", "reference"):
        result = rollout(agent, calm(5), evaluator, n_episodes=6, seed=1)
        assert result.episodes.tracks.shape == (6, 5)
        assert np.isfinite(
            [result.metrics[k] for k in ("utility_mean", "coverage", "ild", "entropy")]
        ).all()
    path = tmp_path / f"{name}.npz"
    agent.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "header" in archive.files
    loaded = type(agent).load(path)
    first = rollout(agent, calm(4), n_episodes=4, seed=2).episodes.tracks
    again = rollout(loaded, calm(4), n_episodes=4, seed=2).episodes.tracks
    assert (first == again).all()


def test_loading_another_agents_file_is_refused(fitted, tmp_path) -> None:
    fitted["bc"].save(tmp_path / "bc.npz")
    with pytest.raises(ValueError, match="holds a 'bc' agent, not 'dpo'"):
        agents.agent_class("dpo").load(tmp_path / "bc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an amrs-gym agent file"):
        agents.agent_class("bc").load(tmp_path / "junk.npz")


def test_session_aware_agents_explain_what_they_need(fitted) -> None:
    for name in ("logged", "greedy"):
        with pytest.raises(RuntimeError, match=r"bind it first, agents.bind\(agent, env\)"):
            fitted[name].predict(np.zeros((2, 95), np.float32))


def test_bc_imitates_the_logging_policy_better_than_chance(fitted, calm_data) -> None:
    steps = calm_data.replay
    probabilities = fitted["bc"].action_probabilities(
        steps.observations[:2000], steps.played_before(20)[:2000]
    )
    log_likelihood = np.log(probabilities[np.arange(2000), steps.actions[:2000]]).mean()
    assert log_likelihood > -np.log(calm_data.catalog.n_tracks) + 0.3


def test_greedy_collapses_and_beats_random_in_the_world_model(fitted) -> None:
    greedy = rollout(fitted["greedy"], calm(10), n_episodes=20, seed=0).metrics
    random = rollout(fitted["random"], calm(10), n_episodes=20, seed=0).metrics
    assert greedy["utility_mean"] > random["utility_mean"]
    assert greedy["top10_share"] > 2 * random["top10_share"]
    assert greedy["effective_tracks"] < random["effective_tracks"] / 2


def test_the_same_seed_gives_every_agent_the_same_starting_histories(fitted) -> None:
    a = rollout(fitted["random"], calm(2), n_episodes=5, seed=4).episodes
    b = rollout(fitted["bc"], calm(2), n_episodes=5, seed=4).episodes
    assert np.allclose(a.valence[:, 0], b.valence[:, 0]) and np.allclose(
        a.arousal[:, 0], b.arousal[:, 0]
    )


def test_off_policy_estimates_of_the_logging_policy_match_its_logged_value() -> None:
    class Logging:
        """Plays with exactly the logged propensities."""

        def action_probabilities(self, observation, state=None):
            return np.tile(steps.propensities[:, None], (1, 3))

    steps = LoggedSteps(
        observations=np.zeros((4, 95), np.float32),
        next_observations=np.zeros((4, 95), np.float32),
        actions=np.zeros(4, np.int64),
        propensities=np.array([0.5, 0.25, 0.5, 0.25]),
        rewards=np.array([1.0, 2.0, 3.0, 4.0]),
        timeouts=np.zeros(4, bool),
        session_id=np.zeros(4, np.int64),
        step=np.arange(4),
    )
    estimate = off_policy(Logging(), steps)
    assert estimate["ips_utility"] == pytest.approx(2.5) and estimate[
        "snips_utility"
    ] == pytest.approx(2.5)
    assert np.isnan(off_policy(object(), steps)["ips_utility"])


def test_greedy_on_the_truth_plays_the_reference_worlds_one_step_best_track() -> None:
    config = SessionConfig("calm", history_length=8, episode_length=5)
    sessions = config.create(4, config.reference_outcomes())
    sessions.reset(np.arange(4), [np.random.default_rng(i) for i in range(4)], cold=False)
    truth = agents.bind(
        GreedyAgent("calm", GreedyConfig(scorer="reference", chunk=3)), sessions.view()
    )
    model = agents.bind(GreedyAgent("calm"), sessions.view())
    picks, _ = truth.predict(sessions.observations())
    model_picks, _ = model.predict(sessions.observations())
    # Monte Carlo in the reference world itself, independent of the expectation greedy maximises:
    # the truth's pick beats random tracks and the world model's pick on the mean realised utility
    world, state, utility = defaults.reference_world(), sessions.outcomes.truth, sessions.utility
    rng = np.random.default_rng(0)
    draws = 3000
    for row in range(4):
        candidates = np.r_[
            picks[row], model_picks[row], rng.integers(0, sessions.catalog.n_tracks, 6)
        ]
        copies = state.take(np.repeat(row, draws * len(candidates)))
        before = (copies.valence.copy(), copies.arousal.copy())
        outcome = world.step(copies, np.repeat(candidates, draws), rng)
        realised = utility(outcome_inputs(outcome, before))
        means = realised.reshape(len(candidates), draws).mean(axis=1)
        assert means[0] >= means[1:].max() - 0.01, (row, means)


def outcome_inputs(outcome, before):
    from amrs_gym.reward import UtilityInputs

    return UtilityInputs(
        engagement=outcome.expected_engagement,
        like=outcome.like_probability,
        valence_before=before[0],
        arousal_before=before[1],
        valence_after=outcome.valence,
        arousal_after=outcome.arousal,
        repeats=np.zeros(len(outcome.valence)),
    )


def test_greedy_on_the_truth_needs_the_reference_world() -> None:
    with pytest.raises(ValueError, match="unknown scorer"):
        GreedyConfig(scorer="oracle")
    with pytest.raises(RuntimeError, match="latent state"):
        rollout(GreedyAgent("calm", GreedyConfig(scorer="reference")), calm(1), n_episodes=2)
    with pytest.raises(ValueError, match="only be given to the reference evaluator"):
        rollout(GreedyAgent("calm"), calm(1), n_episodes=2, world=object())  # type: ignore[arg-type]


@pytest.mark.parametrize("shortlist", [0, 40])
def test_pessimistic_greedy_plays_the_best_track_less_its_uncertainty(shortlist: int) -> None:
    """Exhaustive (shortlist 0), or the best of the first member's `shortlist` best tracks."""
    agent = agents.make("greedy", "calm", pessimism=DEFAULT_PESSIMISM, shortlist=shortlist)
    assert agents.needs_ensemble(agent)
    picked: list[tuple[np.ndarray, np.ndarray]] = []

    def check(sessions, actions) -> None:
        every = np.broadcast_to(
            np.arange(sessions.catalog.n_tracks), (sessions.n, sessions.catalog.n_tracks)
        )
        score = sessions.predicted_utility(every, pessimism=0.0)
        score = score - DEFAULT_PESSIMISM * sessions.utility_uncertainty(every)
        if shortlist:
            screen = sessions.predicted_utility(every, pessimism=0.0, member=0)
            outside = screen < np.sort(screen, axis=1)[:, -shortlist, None]
            assert (outside.sum(axis=1) == every.shape[1] - shortlist).all()  # no ties at the cut
            score[outside] = -np.inf
        picked.append((actions, score.argmax(axis=1)))

    # the truth's sessions are never penalised: its lambda is its own; the ensemble is switched on
    rollout(agent, calm(3), "reference", n_episodes=3, seed=0, watch=check)
    assert len(picked) == 3
    for actions, best in picked:
        assert (actions == best).all()
    with pytest.raises(ValueError, match="pessimism must be a finite number"):
        GreedyConfig(pessimism=-1.0)


@pytest.mark.parametrize("world", ["pessimistic", "member"])
def test_plain_greedy_searches_the_world_model_in_every_simulator(world: str) -> None:
    """In the pessimistic ensemble and in a member's world: the world model's argmax, as in
    the truth (one policy wherever it is scored), though the outcomes come from elsewhere."""
    from amrs_gym.simulator import SessionConfig

    options = {"pessimism": DEFAULT_PESSIMISM} if world == "pessimistic" else {"member": 3}
    sessions = SessionConfig("calm", episode_length=3, **options)
    picked: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def check(sessions, actions) -> None:
        every = np.broadcast_to(
            np.arange(sessions.catalog.n_tracks), (sessions.n, sessions.catalog.n_tracks)
        )
        own = sessions.predicted_utility(every, pessimism=0.0, member=0)
        answering = sessions.predicted_utility(every, pessimism=0.0)  # the mixture, or member 3
        picked.append((actions, own.argmax(axis=1), answering.argmax(axis=1)))

    rollout(agents.make("greedy", "calm"), sessions, "world_model", 3, seed=0, watch=check)
    assert len(picked) == 3
    assert all((actions == best).all() for actions, best, _ in picked)
    assert any((best != other).any() for _, best, other in picked)  # another search differs
