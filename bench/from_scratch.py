"""Benchmarks of the lesson 'A network from scratch' (part of `make bench`; `python -m bench.run from_scratch`).

What a student waits for: the step-by-step walk of the default graph (parse, sort, one pass each way, the check
against jax.grad, cold and warm), training the default graph on the diabetes data (seconds, held-out R² against
least squares), logistic regression at every learning rate (seconds for all six fits, each one's held-out
accuracy and the training cost at the end), and the bike-rental network at its defaults (NumPy seconds and held-out
R² against least squares; the Keras twin's seconds on the shared loop, cold, and its final cost beside NumPy's).
"""

from __future__ import annotations

import time

from core.lessons.from_scratch import framework, logistic, regression


def _seconds(work) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def run(browser=None) -> dict:
    def walk():
        graph, stages = framework.walk_graph(framework.DEFAULT_GRAPH, seed=0)
        return framework.jax_check(graph), len(stages)

    walk_cold, (check, stages) = _seconds(walk)
    walk_warm, _ = _seconds(walk)
    config = {control.key: control.default for control in framework.CONTROLS}
    arguments = (float(config["learning_rate"]), int(config["epochs"]), int(config["batch_size"]), int(config["seed"]))
    train_s, result = _seconds(lambda: framework.train(framework.DEFAULT_GRAPH, *arguments))
    iterations = int(next(c.default for c in logistic.CONTROLS if c.key == "iterations"))
    fits_s, fits = _seconds(lambda: [logistic.fit(rate, iterations, 0) for rate in logistic.RATES])
    rental_config = {control.key: control.default for control in regression.CONTROLS}
    rental_arguments = (
        float(rental_config["learning_rate"]),
        int(rental_config["hidden"]),
        int(rental_config["iterations"]),
        int(rental_config["seed"]),
    )
    rental_s, rental = _seconds(lambda: regression.fit(*rental_arguments))
    twin_s, twin = _seconds(lambda: regression.keras_fit(*rental_arguments))
    return {
        "walk_default_graph_with_jax_check_cold_s": round(walk_cold, 3),
        "walk_default_graph_with_jax_check_warm_s": round(walk_warm, 3),
        "walk_steps": stages,
        "largest_gradient_difference_from_jax": max(check.values()),
        "train_default_graph": {
            "settings": config,
            "seconds": round(train_s, 2),
            "held_out_r2": round(result.r2, 4),
            "least_squares_r2": round(framework.linear_regression_r2(int(config["seed"])), 4),
        },
        "logistic_regression_every_rate": {
            "iterations": iterations,
            "seconds_for_all": round(fits_s, 2),
            "by_rate": {
                f"{fit.learning_rate:g}": {
                    "held_out_accuracy": round(fit.test_accuracy, 4),
                    "final_cost": round(float(fit.costs[-1]), 5),
                    "steps_that_raised_the_cost": fit.rises,
                }
                for fit in fits
            },
        },
        "bike_rentals": {
            "settings": rental_config,
            "numpy_seconds": round(rental_s, 2),
            "held_out_r2": round(rental.r2(regression.rentals()), 4),
            "least_squares_r2": round(regression.least_squares_r2(), 4),
            "keras_twin_seconds_cold": round(twin_s, 2),
            "final_training_cost": {
                "numpy": round(float(rental.train_cost[-1]), 6),
                "keras": round(float(twin[-1]), 6),
            },
        },
    }
