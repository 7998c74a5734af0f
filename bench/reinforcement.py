"""Benchmarks of the reinforcement-learning lesson (part of `make bench`; `python -m bench.run reinforcement`).

Environment steps per second of the tabular learners (gymnasium's worlds read as tables, stepped in NumPy); the
live run at the page's defaults (CliffWalking, both algorithms, 500 episodes) as a job at full speed; and on the
slippery FrozenLake, the episodes until Q-learning's greedy policy reaches the optimal policy's exact success
probability (checked every 500 episodes, up to 20,000), with the seconds it took. The deep Q-network on CartPole
at the page's defaults (60,000 steps, seed 0), with and without its twin that has no target network: seconds from
Train to solved (the last 10 episodes averaging 475), environment steps per second, and the trained network playing
gymnasium's own episodes.
"""

from __future__ import annotations

import time

import numpy as np

from core.engine.jobs import JobRegistry
from core.lessons.reinforcement import dqn, tabular
from core.shared.copies import row_key


def steps_per_second(world_name: str, algorithm: str, episodes: int) -> dict:
    w = tabular.world(world_name)
    q, rng = np.zeros((w.states, 4)), np.random.default_rng(0)
    started, steps = time.perf_counter(), 0
    for _ in range(episodes):
        steps += tabular.run_episode(algorithm, w, q, 0.1, 0.99, 0.1, rng).steps
    seconds = time.perf_counter() - started
    return {"episodes": episodes, "steps": steps, "steps_per_s": round(steps / seconds)}


def lake_to_optimal() -> dict:
    w = tabular.world(tabular.SLIPPERY_LAKE)
    _, best = tabular.optimal(w.name, 0.99)
    q, rng = np.zeros((w.states, 4)), np.random.default_rng(0)
    started = time.perf_counter()
    for block in range(1, 41):
        for _ in range(500):
            tabular.run_episode(tabular.Q_LEARNING, w, q, 0.1, 0.99, 0.1, rng)
        success = tabular.success_probability(w, tabular.greedy_policy(q))
        if success >= best - 1e-6:
            return {"episodes": 500 * block, "seconds": round(time.perf_counter() - started, 2), "success": success}
    return {"episodes": None, "seconds": round(time.perf_counter() - started, 2), "success": success, "optimal": best}


def dqn_run(variants: tuple[str, ...]) -> dict:
    config = {control.key: control.default for control in dqn.CONTROLS} | {"speed": "full speed", "variants": variants}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(dqn.dqn_task(config), "bench")
    job.wait(900)
    view, seconds = job.view(), time.perf_counter() - started
    history, steps = view.history, int(config["steps"])
    first, last = history[0]["time_s"], history[-1]["time_s"]
    result = {
        "seconds": round(seconds, 1),
        "steps_per_s_per_network": round((steps - dqn.BLOCK) / (last - first)),
    }
    for name in variants:
        notice = dqn.variant_notice(history, name)
        solved_row = next((row for row in history if row.get(row_key("mean return", name), 0) >= dqn.SOLVED), None)
        played = [dqn.play_episode(view.snapshot.weights[name], seed).steps for seed in range(5)]
        result[name] = {
            "solved_at_step": notice.solved_at,
            "seconds_to_solved": round(solved_row["time_s"], 1) if solved_row else None,
            "final_mean_return": round(notice.mean_return, 1),
            "mean_max_q": round(notice.q, 1),
            "greedy_steps_in_gymnasium_seeds_0_to_4": played,
        }
    return result


def run(browser=None) -> dict:
    config = {control.key: control.default for control in tabular.CONTROLS} | {"speed": "full speed"}
    started = time.perf_counter()
    job = JobRegistry(max_running=1).submit(tabular.tabular_task(config), "bench")
    job.wait(300)
    history = job.view().history
    return {
        "steps_per_second": {
            f"{world} · {algorithm}": steps_per_second(world, algorithm, 2000)
            for world in (tabular.CLIFF, tabular.SLIPPERY_LAKE)
            for algorithm in tabular.ALGORITHMS
        },
        "live_run_defaults": {
            "episodes": len(history),
            "seconds": round(time.perf_counter() - started, 2),
            "mean_return_last_100": {
                name: round(history[-1][row_key("mean return", name)], 2) for name in tabular.ALGORITHMS
            },
        },
        "slippery_lake_q_learning_to_the_optimal_policy": lake_to_optimal(),
        "dqn_cartpole_defaults": dqn_run(dqn.VARIANTS),
        "dqn_cartpole_with_target_only": dqn_run((dqn.WITH_TARGET,)),
    }
