"""Reinforcement learning: Q-learning and SARSA learning a table of action values live on gymnasium's grid worlds,
beside value iteration's exact answer. The section is a fragment with its own live run."""

import streamlit as st

from core.charts.reinforcement import action_values, cartpole, cartpole_episode, episode_trace, q_grid
from core.charts.training import metric_curves
from core.lessons import lesson
from core.lessons.reinforcement import dqn, tabular
from core.shared.copies import row_key
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section, trained_snapshot

LESSON = lesson("reinforcement")
lesson_header(
    LESSON,
    "No labels here: an agent acts in a world, gets rewards, and must find out which actions pay off in the long "
    "run. Q-learning keeps a table: for every cell and every action, how much reward it expects from there on. "
    "Watch the table fill in, episode by episode, on gymnasium's grid worlds, beside the exact answer that value "
    "iteration computes from the world's rules. Then a table will not do: CartPole's states are four real numbers, "
    "and a deep Q-network learns to balance the pole from its own experience.",
)


def notice_lines(view, w: tabular.World, gamma: float) -> list[str]:
    shot = view.snapshot
    _, best = tabular.optimal(w.name, gamma, shot.grid)
    lines = []
    seen = {name: tabular.algorithm_notice(view.history, w, q, name) for name, q in shot.q.items()}
    for name, notice in seen.items():
        first = (
            f"first reached the goal in episode {notice.first_goal}"
            if notice.first_goal
            else "has not reached the goal yet"
        )
        lines.append(
            f"**{name}** {first}; its mean return over the last {tabular.WINDOW} episodes (exploring) is "
            f"{notice.mean_return:.2f}. Following its table greedily it reaches the goal with probability "
            f"**{notice.greedy_success:.1%}** (the best possible: {best:.1%})."
        )
    warning = tabular.discount_warning(w, gamma)
    if warning:
        lines.append(warning)
    paths = {name: notice for name, notice in seen.items() if notice.greedy_steps is not None}
    if w.name == tabular.CLIFF and len(paths) == 2:
        q_path, s_path = paths[tabular.Q_LEARNING], paths[tabular.SARSA]
        if q_path.greedy_steps < s_path.greedy_steps:
            lines.append(
                f"Q-learning's greedy path takes {q_path.greedy_steps} steps, along the cliff's edge; SARSA's takes "
                f"{s_path.greedy_steps}, rows away from it. Q-learning learns the values of the best actions; SARSA "
                "those of the actions it takes, random ones included, and one random step at the edge costs −100. "
                "That is also why SARSA's return while exploring is higher."
            )
    return lines


def draw_tabular(view):
    shot = view.snapshot
    w = tabular.world(shot.world, shot.grid)
    gamma = float(view.hyperparams.get("gamma", 1.0))
    columns = st.columns(len(shot.q))
    for index, name in enumerate(shot.q):
        with columns[index]:
            show_run_figure(
                view,
                f"reinforcement:grid:{index}",
                lambda view, name=name: _q_grid(view.snapshot, name),
                snapshot_only=True,
            )
    show_run_figure(view, "reinforcement:returns", _tabular_returns)
    what_to_notice(notice_lines(view, w, gamma), waiting="The first episodes are under way.")


def _q_grid(shot, name: str):
    w = tabular.world(shot.world, shot.grid)
    return q_grid(
        w.shape, w.cells, shot.q[name], w.moves, shot.paths.get(name, ()), f"{name} after {shot.episode} episodes"
    )


def _tabular_returns(view):
    return _curves_by_agent(
        view,
        "mean return",
        view.snapshot.q,
        f"Return per episode (mean of the last {tabular.WINDOW})",
        x_title="episode",
        y_range=tabular.return_axis(view.history, list(view.snapshot.q)),
    )


def _curves_by_agent(view, metric: str, agents, title: str, **options):
    """Each agent's `metric` over the run, named by the agent."""
    keys = {row_key(metric, name): name for name in agents}
    return metric_curves(view.history, list(keys), title, labels=keys, **options)


def exact_answer(config) -> None:
    w = tabular.world(config["world"], config["grid"])
    q, best = tabular.optimal(w.name, float(config["gamma"]), config["grid"])
    st.subheader("The exact answer: value iteration")
    st.markdown(
        "Knowing the world's rules (every action's outcomes and their chances), the best values can be computed "
        "instead of learned: repeat Q(s, a) ← Σ p(s′, r | s, a) [r + γ max Q(s′, ·)] until nothing changes. The "
        f"arrows are the best policy for γ = {config['gamma']:g}; it reaches the goal with probability "
        f"**{best:.1%}**."
    )
    warning = tabular.discount_warning(w, float(config["gamma"]))
    if warning:
        st.warning(warning, icon=":material/warning:")
    show_figure(q_grid(w.shape, w.cells, q, w.moves, (), f"Q* by value iteration, {w.name}"), key="reinforcement:exact")


@st.fragment
def tabular_section():
    st.header("A table of values, learned")
    st.markdown(
        "**CliffWalking**: walk from S to G; every step costs 1, stepping into the cliff costs 100 and sends you "
        "back to S. **FrozenLake**: reach G without falling into a hole (reward 1 at G); on slippery ice a move "
        "goes sideways two times in three. Each step the agent takes the action its table rates best, or with "
        "probability ε a random one, then moves Q(s, a) a step α towards what it just saw: the reward plus γ times "
        "the value of the next cell (Q-learning: of its best action; SARSA: of the action it will take). Or draw "
        "**your own grid**, one row per line: "
        + ", ".join(f"{letter} {meaning}" for letter, meaning in tabular.OWN_LETTERS.items())
        + "."
    )
    config = run_section(
        LESSON.slug,
        tabular.BOX,
        tabular.tabular_task,
        draw_tabular,
        waiting="The tables appear after the first episodes.",
    )
    exact_answer(config)


def dqn_notice_lines(view) -> list[str]:
    gamma = float(view.hyperparams.get("gamma", 0.99))
    ceiling = dqn.most_a_state_is_worth(gamma)
    lines = []
    for name in view.snapshot.variants:
        notice = dqn.variant_notice(view.history, name)
        if notice.mean_return is None:
            lines.append(f"**{name}**: no episode has ended yet.")
            continue
        solved = (
            f"first averaged {dqn.SOLVED:g} or more at step **{notice.solved_at:,}** (gymnasium's bar for solving "
            "CartPole)"
            if notice.solved_at
            else f"has not yet averaged {dqn.SOLVED:g} (gymnasium's bar for solving CartPole)"
        )
        lines.append(
            f"**{name}**: {notice.episodes:,} episodes; the last {dqn.RECENT} lasted {notice.mean_return:.0f} steps "
            f"on average (best {notice.best_mean:.0f}, exploring included); it {solved}."
        )
        if notice.q is not None:
            verdict = (
                "far above anything a state can be worth: each update moves the very targets it learns towards, and "
                "the values chase themselves upwards. That is what a slowly following target network stops."
                if notice.q > 2 * ceiling
                else "within what a state can be worth."
            )
            lines.append(
                f"Its Q-values on the latest batches average **{notice.q:,.1f}**; a perfect episode from its first "
                f"state is worth 1 + γ + … + γ⁴⁹⁹ = {ceiling:.1f} at γ = {gamma:g}: {verdict}"
            )
    return lines


def draw_dqn(view):
    shot = view.snapshot
    columns = st.columns(len(shot.variants))
    for index, name in enumerate(shot.variants):
        with columns[index]:
            show_run_figure(
                view,
                f"reinforcement:cart:{index}",
                lambda view, name=name: cartpole(
                    view.snapshot.carts[name], dqn.physics()["x_limit"], f"{name}, step {view.snapshot.steps:,}"
                ),
                snapshot_only=True,
            )
            show_run_figure(
                view,
                f"reinforcement:q:{index}",
                lambda view, name=name: action_values(
                    dqn.q_values(view.snapshot.weights[name], view.snapshot.carts[name][None])[0],
                    dqn.ACTIONS,
                    "Its Q-values in this state",
                ),
                snapshot_only=True,
            )
    show_run_figure(view, "reinforcement:dqn_returns", _dqn_returns)
    show_run_figure(view, "reinforcement:dqn_q", _dqn_values)
    what_to_notice(dqn_notice_lines(view), waiting="The first episodes are under way.")


def _dqn_returns(view):
    return _curves_by_agent(
        view,
        "mean return",
        view.snapshot.variants,
        f"Steps the pole stayed up (mean of the last {dqn.RECENT} episodes)",
        x_title="environment step",
        x_per_epoch=dqn.BLOCK,
        reference=(dqn.SOLVED, f"solved ({dqn.SOLVED:g})"),
    )


def _dqn_values(view):
    ceiling = dqn.most_a_state_is_worth(float(view.hyperparams.get("gamma", 0.99)))
    return _curves_by_agent(
        view,
        "q",
        view.snapshot.variants,
        "The network's value of a state (mean max Q on the learning batches)",
        log_y=True,
        x_title="environment step",
        x_per_epoch=dqn.BLOCK,
        reference=(ceiling, "the most a state is worth"),
    )


@st.fragment
def dqn_section():
    st.header("A deep Q-network: CartPole")
    st.markdown(
        "A cart on a track, a pole hinged on it: each step the agent pushes the cart left or right, earns 1 for "
        f"every step the pole stays within {dqn.tipping_angle():.0f}° of upright and the cart on the track, and an "
        f"episode ends when it falls or after {dqn.MAX_STEPS} steps. Its state is four real numbers (position, "
        "velocity, angle, angular velocity), so there is no table to fill: a Keras network maps a state to a "
        "Q-value per action instead. Two tricks of DeepMind's DQN make that learn: a **replay buffer** (the network "
        "learns from a random batch of past steps, not from the last few, which are nearly alike) and a **target "
        "network** (a slow copy of itself to compute the targets r + γ max Q(s′, ·) from, so that the targets do "
        "not move with every update). Train one without the target network beside it to see why."
    )
    run_section(
        LESSON.slug, dqn.BOX, dqn.dqn_task, draw_dqn, waiting="The carts appear after the first steps are compiled."
    )


@st.cache_data(max_entries=16, show_spinner=False)
def played(job_id: str, steps: int, name: str, seed: int, _weights) -> dqn.PlayedEpisode:
    """One greedy episode per run, moment, network and seed: a click elsewhere on the page does not play it again."""
    return dqn.play_episode(_weights, seed)


@st.fragment
def play_section():
    st.subheader("The network plays")
    job, shot = trained_snapshot(dqn.RUN)
    if shot is None:
        st.caption("Train a network above: it can then play an episode, with no exploration, in gymnasium's CartPole.")
        return
    left, right = st.columns(2)
    name = left.selectbox("Network", shot.variants, key="reinforcement:play_network")
    seed = right.number_input("Episode seed (the cart's first state)", 0, 9999, 0, key="reinforcement:play_seed")
    st.button("Play again with the network as it is now", icon=":material/replay:", key="reinforcement:play_again")
    episode = played(job.id, shot.steps, name, int(seed), shot.weights[name])
    st.markdown(
        f"The network **{name}** after {shot.steps:,} steps of training, acting greedily in "
        f'`gymnasium.make("CartPole-v1")` (its own physics, not the copy it learned in): {episode.ending}.'
    )
    x_limit = dqn.physics()["x_limit"]
    show_figure(
        cartpole_episode(episode.states, x_limit, f"{name}: {episode.steps} steps (press Play)"),
        key="reinforcement:play",
    )
    show_figure(
        episode_trace(
            episode.states, x_limit, dqn.physics()["theta_limit"], "The pole's angle and the cart's place, step by step"
        ),
        key="reinforcement:play_trace",
    )


tabular_section()
dqn_section()
play_section()
