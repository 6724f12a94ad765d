"""random, logged, popular, greedy, bc: fit on the quick setting, act, evaluate, save and load."""

from __future__ import annotations

import numpy as np
import pytest

import agents
from agents.evaluation import off_policy, rollout
from agents.greedy import GreedyAgent, GreedyConfig
from agents.replay import LoggedSteps
from amrs_gym.envs.reference import default_reference_world
from amrs_gym.envs.sessions import build_sessions
from amrs_gym.reward import default_utility

SIMPLE = ["random", "logged", "popular", "greedy", "bc"]


@pytest.fixture(scope="module")
def fitted(calm_data):
    return {name: agents.make(name, mode="calm").fit(calm_data) for name in SIMPLE}


@pytest.mark.parametrize("name", SIMPLE)
def test_agents_act_in_both_evaluators_and_round_trip_through_a_file(name, fitted, calm_data, tmp_path) -> None:
    agent = fitted[name]
    for evaluator in ("world_model", "reference"):
        result = rollout(agent, "calm", evaluator, n_episodes=6, seed=1, episode_length=5)
        assert result.episodes.tracks.shape == (6, 5)
        assert np.isfinite([result.metrics[k] for k in ("utility_mean", "coverage", "ild", "entropy")]).all()
    path = tmp_path / f"{name}.npz"
    agent.save(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "header" in archive.files
    loaded = type(agent).load(path)
    first = rollout(agent, "calm", n_episodes=4, seed=2, episode_length=4).episodes.tracks
    again = rollout(loaded, "calm", n_episodes=4, seed=2, episode_length=4).episodes.tracks
    assert (first == again).all()


def test_loading_another_agents_file_is_refused(fitted, tmp_path) -> None:
    fitted["bc"].save(tmp_path / "bc.npz")
    with pytest.raises(ValueError, match="holds a 'bc' agent, not 'dpo'"):
        agents.agent_class("dpo").load(tmp_path / "bc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an amrs-gym agent file"):
        agents.agent_class("bc").load(tmp_path / "junk.npz")


def test_session_aware_agents_explain_what_they_need(fitted) -> None:
    with pytest.raises(ValueError, match="needs the env's sessions"):
        fitted["logged"].predict(np.zeros((2, 79), np.float32))


def test_bc_imitates_the_logging_policy_better_than_chance(fitted, calm_data) -> None:
    steps = calm_data.replay
    probabilities = fitted["bc"].action_probabilities(steps.observations[:2000], played=steps.played_before(20)[:2000])
    log_likelihood = np.log(probabilities[np.arange(2000), steps.actions[:2000]]).mean()
    assert log_likelihood > -np.log(calm_data.catalog.n_tracks) + 0.3


def test_greedy_collapses_and_beats_random_in_the_world_model(fitted) -> None:
    greedy = rollout(fitted["greedy"], "calm", n_episodes=20, seed=0, episode_length=10).metrics
    random = rollout(fitted["random"], "calm", n_episodes=20, seed=0, episode_length=10).metrics
    assert greedy["utility_mean"] > random["utility_mean"]
    assert greedy["top10_share"] > 2 * random["top10_share"]
    assert greedy["effective_tracks"] < random["effective_tracks"] / 2


def test_the_same_seed_gives_every_agent_the_same_starting_histories(fitted) -> None:
    a = rollout(fitted["random"], "calm", n_episodes=5, seed=4, episode_length=2).episodes
    b = rollout(fitted["bc"], "calm", n_episodes=5, seed=4, episode_length=2).episodes
    assert np.allclose(a.valence[:, 0], b.valence[:, 0]) and np.allclose(a.arousal[:, 0], b.arousal[:, 0])


def test_off_policy_estimates_of_the_logging_policy_match_its_logged_value() -> None:
    class Logging:
        """Plays with exactly the logged propensities."""

        def action_probabilities(self, observation):
            return np.tile(steps.propensities[:, None], (1, 3))

    steps = LoggedSteps(
        observations=np.zeros((4, 79), np.float32), actions=np.zeros(4, np.int64),
        propensities=np.array([0.5, 0.25, 0.5, 0.25]), rewards=np.array([1.0, 2.0, 3.0, 4.0]),
        timeouts=np.zeros(4, bool), session_id=np.zeros(4, np.int64), step=np.arange(4),
    )  # fmt: skip
    estimate = off_policy(Logging(), steps)
    assert estimate["ips_utility"] == pytest.approx(2.5) and estimate["snips_utility"] == pytest.approx(2.5)
    assert np.isnan(off_policy(object(), steps)["ips_utility"])


def test_greedy_on_the_truth_plays_the_reference_worlds_one_step_best_track() -> None:
    sessions = build_sessions(4, "calm", "mixed", "history", 8, 5, default_utility("calm"), None,
                              world=default_reference_world())
    sessions.reset(np.arange(4), [np.random.default_rng(i) for i in range(4)], cold=False)
    truth = GreedyAgent("calm", GreedyConfig(scorer="reference", chunk=3))
    actions, _ = truth.predict(sessions.observations(), sessions=sessions)
    catalog = np.broadcast_to(np.arange(sessions.catalog.n_tracks), (4, sessions.catalog.n_tracks))
    scores = sessions.reference_utility(catalog)
    assert np.array_equal(actions, scores.argmax(1))
    # the truth's best track is worth more, by the truth, than the world model's greedy pick
    model_pick, _ = GreedyAgent("calm").predict(sessions.observations(), sessions=sessions)
    assert np.all(scores[np.arange(4), actions] >= scores[np.arange(4), model_pick])


def test_greedy_on_the_truth_needs_the_reference_world() -> None:
    with pytest.raises(ValueError, match="unknown scorer"):
        GreedyConfig(scorer="oracle")
    with pytest.raises(RuntimeError, match="latent state"):
        rollout(GreedyAgent("calm", GreedyConfig(scorer="reference")), "calm", n_episodes=2, episode_length=1)
    with pytest.raises(ValueError, match="only be given to the reference evaluator"):
        rollout(GreedyAgent("calm"), "calm", n_episodes=2, world=object())  # type: ignore[arg-type]
