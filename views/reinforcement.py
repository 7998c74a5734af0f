"""Reinforcement learning: Q-learning and SARSA learning a table of action values live on gymnasium's grid worlds,
beside value iteration's exact answer. The section is a fragment with its own live run."""

import streamlit as st

from core.charts.reinforcement import q_grid
from core.charts.training import metric_curves
from core.lessons import lesson
from core.lessons.reinforcement import tabular
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section

LESSON = lesson("reinforcement")
lesson_header(
    LESSON,
    "No labels here: an agent acts in a world, gets rewards, and must find out which actions pay off in the long "
    "run. Q-learning keeps a table: for every cell and every action, how much reward it expects from there on. "
    "Watch the table fill in, episode by episode, on gymnasium's grid worlds, beside the exact answer that value "
    "iteration computes from the world's rules. Coming next on this page: a deep Q-network playing CartPole.",
)


def notice_lines(view, w: tabular.World, gamma: float) -> list[str]:
    shot = view.snapshot
    _, best = tabular.optimal(w.name, gamma)
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
    w = tabular.world(shot.world)
    gamma = float(view.hyperparams.get("gamma", 1.0))
    columns = st.columns(len(shot.q))
    for index, (name, q) in enumerate(shot.q.items()):
        with columns[index]:
            show_run_figure(
                view,
                f"reinforcement:grid:{index}",
                lambda name=name, q=q: q_grid(
                    w.shape, w.cells, q, w.moves, shot.paths.get(name, ()), f"{name} after {shot.episode} episodes"
                ),
                snapshot_only=True,
            )
    keys = {tabular.row_key("mean return", name): name for name in shot.q}

    def returns():
        fig = metric_curves(
            view.history,
            list(keys),
            f"Return per episode (mean of the last {tabular.WINDOW})",
            labels=keys,
            x_title="episode",
        )
        return fig.update_yaxes(range=tabular.return_axis(view.history, list(shot.q)))

    show_run_figure(view, "reinforcement:returns", returns)
    what_to_notice(notice_lines(view, w, gamma), waiting="The first episodes are under way.")


def exact_answer(config) -> None:
    w = tabular.world(config["world"])
    q, best = tabular.optimal(w.name, float(config["gamma"]))
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
        "the value of the next cell (Q-learning: of its best action; SARSA: of the action it will take)."
    )
    config = run_section(
        LESSON.slug,
        tabular.BOX,
        tabular.tabular_task,
        draw_tabular,
        waiting="The tables appear after the first episodes.",
    )
    exact_answer(config)


tabular_section()
