"""Reinforcement learning: the updates against their formulas, value iteration against known answers and a
simulation, Q-learning and SARSA on CliffWalking as the textbook has them, and the page as a student meets it."""

import pathlib
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.lessons.reinforcement import dqn, tabular
from tests.helpers import chart_text, shown, train_runs

HOME = pathlib.Path(__file__).resolve().parents[1] / "Home.py"


def test_each_algorithms_target_is_its_formula():
    q = np.random.default_rng(0).normal(size=(16, 4))
    assert tabular.td_target(tabular.Q_LEARNING, q, 0.5, 7, 2, False, 0.9) == pytest.approx(0.5 + 0.9 * q[7].max())
    assert tabular.td_target(tabular.SARSA, q, 0.5, 7, 2, False, 0.9) == pytest.approx(0.5 + 0.9 * q[7, 2])
    assert tabular.td_target(tabular.Q_LEARNING, q, 1.0, 7, 2, True, 0.9) == 1.0  # the episode ended: no future


def test_one_episode_applies_the_update_after_every_step():
    """Replayed by hand with the same random stream: each visited (s, a) moves α of the way to its target."""
    w = tabular.world(tabular.LAKE)
    q = np.random.default_rng(1).uniform(0, 0.1, size=(w.states, 4))
    expected = q.copy()
    episode = tabular.run_episode(tabular.Q_LEARNING, w, q, 0.3, 0.9, 0.5, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    state = w.start
    action = tabular.epsilon_greedy(expected[state], 0.5, rng)
    for _ in range(episode.steps):
        next_state, reward, done = w.step(state, action, rng)
        next_action = tabular.epsilon_greedy(expected[next_state], 0.5, rng)
        future = 0.0 if done else expected[next_state].max()
        expected[state, action] += 0.3 * (reward + 0.9 * future - expected[state, action])
        state, action = next_state, next_action
    assert np.allclose(q, expected)


def test_on_the_deterministic_lake_q_learning_finds_value_iterations_policy():
    w = tabular.world(tabular.LAKE)
    optimal = tabular.value_iteration(w, 0.9)
    q, rng = np.zeros((w.states, 4)), np.random.default_rng(0)
    for _ in range(3000):
        tabular.run_episode(tabular.Q_LEARNING, w, q, 1.0, 0.9, 0.3, rng)
    unique = [s for s in range(w.states) if np.sum(np.isclose(optimal[s], optimal[s].max())) == 1]
    assert len(unique) >= 8
    assert (tabular.greedy_policy(q)[unique] == tabular.greedy_policy(optimal)[unique]).all()
    assert tabular.success_probability(w, tabular.greedy_policy(q)) == 1.0


def test_value_iteration_knows_the_cliffs_shortest_path_and_the_slippery_lakes_odds():
    cliff = tabular.world(tabular.CLIFF)
    assert tabular.value_iteration(cliff, 1.0)[cliff.start].max() == pytest.approx(-13.0)
    lake = tabular.world(tabular.SLIPPERY_LAKE)
    policy = tabular.greedy_policy(tabular.value_iteration(lake, 0.99))
    exact = tabular.success_probability(lake, policy)
    assert exact == pytest.approx(0.740, abs=0.001)
    rng = np.random.default_rng(0)  # the same probability by simulation: an independent check of both
    wins = 0
    for _ in range(20000):
        state = lake.start
        for _ in range(lake.max_steps):
            state, _, done = lake.step(state, int(policy[state]), rng)
            if done:
                wins += lake.cells[state] == "G"
                break
    assert wins / 20000 == pytest.approx(exact, abs=0.012)


def test_sarsa_walks_away_from_the_cliff_and_q_learning_along_it():
    """Sutton & Barto's example 6.6 (ε = 0.1, α = 0.5, 500 episodes, seed 0), measured: Q-learning's greedy path
    is the 13-step one along the cliff, SARSA's 17 steps through the top row; exploring, SARSA's mean return over
    the last 100 episodes is about −26, Q-learning's about −51 (its random steps at the edge fall in)."""
    w = tabular.world(tabular.CLIFF)
    results = {}
    for name in tabular.ALGORITHMS:
        q, rng = np.zeros((w.states, 4)), np.random.default_rng(0)
        returns = [tabular.run_episode(name, w, q, 0.5, 1.0, 0.1, rng).total for _ in range(500)]
        results[name] = (tabular.greedy_path(w, q), np.mean(returns[-100:]))
    (q_path, q_return), (s_path, s_return) = results[tabular.Q_LEARNING], results[tabular.SARSA]
    assert len(q_path) - 1 == 13 and {state // 12 for state in q_path} == {2, 3}
    assert len(s_path) - 1 > 13 and 0 in {state // 12 for state in s_path}
    assert s_return > q_return + 10


def test_a_discount_of_one_where_steps_are_free_gets_a_warning():
    assert tabular.discount_warning(tabular.world(tabular.LAKE), 1.0)
    assert tabular.discount_warning(tabular.world(tabular.LAKE), 0.99) is None
    assert tabular.discount_warning(tabular.world(tabular.CLIFF), 1.0) is None  # every step costs 1 there


def test_the_page_trains_both_tables_and_compares_them_with_the_exact_answer():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["tabular.speed"] = "full speed"
    at = at.switch_page("views/reinforcement.py").run()
    assert not at.exception
    train_runs(at, [tabular.RUN], 200)
    text = shown(" ".join(m.value for m in at.markdown))
    assert "Q-learning's greedy path takes 13 steps, along the cliff's edge; SARSA's takes 17" in text
    assert "(the best possible: 100.0%)" in text
    titles = chart_text(at)
    assert "Q-learning after 500 episodes" in titles and "SARSA after 500 episodes" in titles
    assert "Q* by value iteration, CliffWalking" in titles


def test_a_lake_with_gamma_one_says_why_it_fails():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["tabular.world"] = tabular.LAKE
    at = at.switch_page("views/reinforcement.py").run()
    assert not at.exception
    assert "With γ = 1 in FrozenLake 4×4" in at.warning[0].value


def test_the_jax_cartpole_is_gymnasiums_step_for_step():
    """The physics the network learns in, against gymnasium's own CartPole-v1 on the same states and actions, until
    the pole falls (the step that ends it included)."""
    import gymnasium
    import jax.numpy as jnp

    env = gymnasium.make("CartPole-v1")
    rng = np.random.default_rng(0)
    for episode in range(5):
        state, _ = env.reset(seed=episode)
        for _ in range(500):
            action = int(rng.integers(2))
            expected, _, terminated, truncated, _ = env.step(action)
            for xp in (np, jnp):
                moved, fell = dqn.cartpole_step(xp.asarray(state, dtype=xp.float32), xp.asarray(action), xp)
                assert np.allclose(np.asarray(moved), expected, atol=1e-5)
                assert bool(fell) == terminated
            state = expected
            if terminated or truncated:
                break
        assert terminated  # random pushes drop the pole long before 500 steps
    env.close()


def test_the_dqn_loss_is_its_formula_on_the_networks_own_values():
    """The jitted loss (Keras' network, the target network's values, Huber) against the same computed in NumPy
    from the weights by hand."""
    import jax

    from core.engine.backend import keras_in_use

    rng = np.random.default_rng(0)
    states, next_states = rng.normal(size=(32, 4)), rng.normal(size=(32, 4))
    actions, terminated = rng.integers(2, size=32), (rng.random(32) < 0.3).astype(float)
    with keras_in_use():
        trainer = dqn.DqnTrainer(16, 200, 1000, 1, 0, 4)
        online = trainer.weights(0)
        target = [w + rng.normal(scale=0.1, size=w.shape) for w in online]
        loss, q_mean = trainer.loss(
            [jax.numpy.asarray(w) for w in online],
            [jax.numpy.asarray(w) for w in target],
            states,
            actions,
            np.ones(32),
            next_states,
            terminated,
            0.9,
        )
        keras_q = np.asarray(trainer.q([jax.numpy.asarray(w) for w in online], states))
    mine = dqn.q_values(online, states)
    assert np.allclose(mine, keras_q, atol=1e-5)  # the NumPy forward pass the page plays with is Keras' own
    y = 1.0 + 0.9 * (1 - terminated) * dqn.q_values(target, next_states).max(axis=1)
    error = y - mine[np.arange(32), actions]
    expected = np.mean(np.where(np.abs(error) <= 1, 0.5 * error**2, np.abs(error) - 0.5))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(q_mean) == pytest.approx(mine.max(axis=1).mean(), rel=1e-5)
    assert dqn.epsilon_at(0, 2000, 0.05) == 1.0 and dqn.epsilon_at(1000, 2000, 0.05) == pytest.approx(0.525)
    assert dqn.epsilon_at(5000, 2000, 0.05) == pytest.approx(0.05)
    assert dqn.most_a_state_is_worth(0.99) == pytest.approx(sum(0.99**k for k in range(500)))


@pytest.fixture(scope="module")
def default_dqn_run():
    """The page's default run (both networks, 60,000 steps, seed 0), at full speed."""
    from core.engine.jobs import JobRegistry

    config = {control.key: control.default for control in dqn.CONTROLS} | {"speed": "full speed"}
    job = JobRegistry(max_running=1).submit(dqn.dqn_task(config), "test")
    job.wait(900)
    return job.view()


def test_the_default_dqn_solves_cartpole_and_plays_it_in_gymnasium(default_dqn_run):
    """Measured on seed 0: the 10-episode mean first passes 475 at step 52,300; the final network keeps the pole
    up all 500 steps of gymnasium's own episodes."""
    view = default_dqn_run
    assert len(view.history) == 60_000 // dqn.BLOCK
    notice = dqn.variant_notice(view.history, dqn.WITH_TARGET)
    assert notice.solved_at is not None and notice.solved_at <= 60_000
    assert notice.q < dqn.most_a_state_is_worth(0.99) * 1.05
    for seed in range(3):
        episode = dqn.play_episode(view.snapshot.weights[dqn.WITH_TARGET], seed)
        assert episode.steps == dqn.MAX_STEPS and not episode.fell


def test_without_a_target_network_the_values_run_away(default_dqn_run):
    """The same network on the same first states, its own target: its Q-values grow far past what any state is
    worth and the pole falls within a few dozen steps."""
    notice = dqn.variant_notice(default_dqn_run.history, dqn.WITHOUT_TARGET)
    assert notice.q > 100 * dqn.most_a_state_is_worth(0.99)
    assert notice.solved_at is None and notice.mean_return < 50


def test_the_page_trains_a_dqn_and_lets_it_play():
    at = AppTest.from_file(str(HOME), default_timeout=180)
    at.query_params["dqn.speed"] = "full speed"
    at.query_params["dqn.steps"] = "3000"
    at = at.switch_page("views/reinforcement.py").run()
    assert not at.exception
    train_runs(at, [dqn.RUN], 300)
    text = shown(" ".join(m.value for m in at.markdown))
    for name in dqn.VARIANTS:
        assert re.search(rf"\*\*{name}\*\*: [\d,]+ episodes; the last 10 lasted \d+ steps on average", text), name
    assert "a perfect episode from its first state is worth 1 + γ + … + γ⁴⁹⁹ = 99.3 at γ = 0.99" in text
    assert "after 3,000 steps of training, acting greedily" in text
    titles = chart_text(at)
    assert "with a target network, step 3,000" in titles and "Its Q-values in this state" in titles
    assert "The pole's angle and the cart's place, step by step" in titles
    at.selectbox(key="reinforcement:play_network").set_value(dqn.WITHOUT_TARGET).run()
    assert not at.exception
    assert "The network **without a target network** after 3,000 steps" in shown(" ".join(m.value for m in at.markdown))


def test_a_students_grid_is_checked_with_messages_that_say_what_to_fix():
    assert tabular.checked_grid("sff/fwg ") == "SFF/FWG"
    for grid, reason in (
        ("SFF/FWW/WWG", "no goal G can be reached from the start S"),
        ("SFH/FHG", "no goal G can be reached"),  # the holes end the episode before the goal
        ("SFF/FG", "every row needs the same length; these have 3, 2"),
        ("SFF/FXG", "'X' is not a cell; use S start"),
        ("FFF/FFG", "exactly one start S, not 0"),
        ("SFS/FFG", "exactly one start S, not 2"),
        ("SFG", "2 to 12 rows"),
        ("/".join(["S" + "F" * 12 + "G"] * 2), "2 to 12 cells, not 14"),
    ):
        with pytest.raises(ValueError, match=reason):
            tabular.checked_grid(grid)


def test_a_students_grid_moves_as_drawn_and_q_learning_finds_its_best_path():
    """The default grid: walls keep the agent where it is, a hole ends the episode with −1, the goal with +1;
    value iteration's policy reaches the goal for certain, and so does Q-learning's after training."""
    w = tabular.world(tabular.OWN, tabular.DEFAULT_GRID)
    rows, columns = w.shape
    assert (rows, columns) == (4, 6) and w.cells[w.start] == "S"
    right, down = 1, 2
    below_start = columns  # (1, 0): floor; (1, 1) is a wall
    assert w.step(below_start, right, np.random.default_rng(0)) == (below_start, 0.0, False)
    assert w.step(0, down, np.random.default_rng(0)) == (below_start, 0.0, False)
    hole = w.cells.index("H")
    left_of_hole = hole - 1
    assert w.cells[left_of_hole] == "W"  # the hole at (1, 4) is reached from above: (0, 4)
    assert w.step(hole - columns, down, np.random.default_rng(0)) == (hole, -1.0, True)
    optimal, best = tabular.optimal(tabular.OWN, 0.9, tabular.DEFAULT_GRID)
    assert best == 1.0
    q, rng = np.zeros((w.states, 4)), np.random.default_rng(0)
    for _ in range(2000):
        tabular.run_episode(tabular.Q_LEARNING, w, q, 0.5, 0.9, 0.2, rng)
    path = tabular.greedy_path(w, q)
    assert w.cells[path[-1]] == "G" and len(path) - 1 == len(tabular.greedy_path(w, optimal)) - 1 == 8


def test_the_page_trains_on_a_students_grid_and_refuses_one_without_a_way_to_the_goal():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["tabular.world"] = tabular.OWN
    at.query_params["tabular.gamma"] = "0.9"
    at.query_params["tabular.speed"] = "full speed"
    at = at.switch_page("views/reinforcement.py").run()
    assert not at.exception
    train_runs(at, [tabular.RUN], 200)
    assert "Q* by value iteration, Your own grid" in chart_text(at)
    assert "(the best possible: 100.0%)" in shown(" ".join(m.value for m in at.markdown))
    at.text_area(key=next(t.key for t in at.text_area)).set_value("SFW\nFWG").run()
    assert not at.exception
    assert any("no goal G can be reached from the start S" in e.value for e in at.error)
    assert "Q* by value iteration, Your own grid" in chart_text(at)  # the last good grid stays


def test_a_link_with_epsilon_outside_zero_to_one_falls_back_and_says_why():
    at = AppTest.from_file(str(HOME), default_timeout=120)
    at.query_params["tabular.epsilon"] = "1.5"
    at = at.switch_page("views/reinforcement.py").run()
    assert not at.exception
    assert any("Exploration ε: '1.5' is not one of 0.0, 0.01" in shown(w.value) for w in at.warning)
