"""Optimisation: Keras' optimisers racing down loss surfaces beside the closed forms and on a real network;
overfitting and its remedies; batch normalisation; hyperparameter search. Each section is a fragment: a change of
setting reruns only it."""

import math

import numpy as np
import streamlit as st

from core.charts.layers import layer_histograms
from core.charts.optimisation import (
    batch_losses_chart,
    gap_curves,
    parallel_coordinates,
    race_animation,
    rate_sweep_chart,
    schedule_chart,
    train_validation_curves,
    trials_by_rate,
)
from core.charts.training import decision_surface, metric_curves
from core.charts.vision import gallery
from core.lessons import lesson
from core.lessons.optimisation import augmentation, batchnorm, network, regularisation, search, surfaces
from core.ui.controls import lesson_controls
from core.ui.figures import show_figure, show_run_figure
from core.ui.layout import lesson_header, what_to_notice
from core.ui.live import run_section

LESSON = lesson("optimisation")
RUN_STARTED = "The run has just started."
lesson_header(
    LESSON,
    "Training a network is walking downhill on its loss. Which way is down is the gradient; **how** to walk is "
    "the optimiser's choice, and it decides whether training takes a hundred steps or ten thousand, or never "
    "arrives. Then what goes wrong once it does arrive: a network that learns its training set by heart; and "
    "batch normalisation, which lets a deep network train at rates that would wreck it; and how to choose the "
    "settings themselves, by searching.",
)


def steps_text(steps: int | None) -> str:
    return "—" if steps is None else f"{steps:,}"


def results_table(result: surfaces.Race, config) -> list[dict]:
    rows = []
    for path in result.paths:
        adaptive = path.optimiser in surfaces.ADAPTIVE
        rows.append(
            {
                "optimiser": path.optimiser,
                "step size": f"η = {config['eta']:g}" if adaptive else f"α = {config['alpha']:g}",
                f"steps until within {surfaces.TARGET_GAP:g}": steps_text(path.steps_to_target),
                "loss − minimum at the end": "diverged" if path.diverged_at is not None else f"{path.gaps[-1]:.3g}",
            }
        )
    return rows


def notice_lines(result: surfaces.Race, config) -> list[str]:
    seen = surfaces.notice(result)
    steps = int(config["steps"])
    lines = []
    if seen.fastest is not None:
        others = ", ".join(f"{name} {count:,}" for name, count in seen.reached.items() if name != seen.fastest)
        lines.append(
            f"**{seen.fastest}** settles within {surfaces.TARGET_GAP:g} of the minimum first, from step "
            f"{seen.reached[seen.fastest]:,} on" + (f" (then {others})." if others else ".")
        )
    else:
        lines.append(f"No optimiser settles within {surfaces.TARGET_GAP:g} of the minimum in {steps:,} steps.")
    for name, gap in seen.unsettled.items():
        lines.append(f"**{name}** has not settled after {steps:,} steps: it ends {gap:.3g} above the minimum.")
    for name, step in seen.diverged.items():
        size = "η" if name in surfaces.ADAPTIVE else "α"
        lines.append(f"**{name}** diverged at step {step:,}: its step size {size} is too large for this surface.")
    for path in result.paths:
        closed = surfaces.closed_form_gaps(path.optimiser, config)
        if closed is not None and path.diverged_at is None:
            lines.append(
                f"Keras' {path.optimiser.lower()} follows its closed form on the bowl to within "
                f"{surfaces.disagreement(path, closed):.1e} (relative) at every step."
            )
    return lines


@st.fragment
def race_section():
    st.header("Optimisers on a surface")
    st.markdown(
        "Here the network has just two weights, x and y, so its loss is a landscape you can see. Every path is "
        "taken by **Keras' own optimisers** (`SGD`, with and without momentum, `RMSprop`, `Adam`, `Adagrad`), "
        "the code that trains the networks in the other lessons, from the same start (×). Press **Play**, or "
        "drag the slider. Gradient descent steps α × the gradient; momentum also keeps β of its last step; "
        "RMSprop, Adam and AdaGrad divide the gradient by its recent size, so their step is about η wherever "
        "they are."
    )
    config = lesson_controls(LESSON.slug, surfaces.BOX)
    spec = surfaces.SURFACES[config["surface"]]
    with st.spinner("Keras' optimisers are walking the surface…"):
        result = surfaces.race(config)
    st.caption(f"**{spec.name}**: {spec.about}")
    show_figure(
        race_animation(
            result.grid_x,
            result.grid_y,
            result.grid_gap,
            result.named_points,
            surfaces.OPTIMISERS,
            "Each optimiser's path",
        ),
        key="optimisation:race",
    )
    show_figure(
        gap_curves(
            result.named_gaps, surfaces.OPTIMISERS, surfaces.TARGET_GAP, "How far above the minimum, step by step"
        ),
        key="optimisation:gaps",
    )
    st.dataframe(results_table(result, config), hide_index=True)
    what_to_notice(notice_lines(result, config))
    if config["surface"] == surfaces.BOWL:
        bowl_section(float(config["condition"]))


def bowl_section(condition: float):
    theory = surfaces.bowl_theory(condition)
    st.subheader(f"Why momentum really works: the bowl with κ = {condition:g}")
    st.markdown(
        "On a bowl the best settings are known in closed form (Goh, *Why Momentum Really Works*, 2017). Gradient "
        f"descent's best step is α = 2/(1/κ + 1) = **{theory.gd_alpha:.3f}**; its error then shrinks by "
        f"(κ − 1)/(κ + 1) = **{theory.gd_rate:.3f}** a step. Momentum's best is α = "
        f"**{theory.momentum_alpha:.3f}** with β = **{theory.momentum_beta:.3f}**, and its error shrinks by "
        f"(√κ − 1)/(√κ + 1) = **{theory.momentum_rate:.3f}** a step."
    )
    rows = [
        ("Gradient descent", theory.gd_steps, theory.gd_steps_predicted),
        ("Momentum", theory.momentum_steps, theory.momentum_steps_predicted),
    ]
    st.dataframe(
        [
            {
                "at its best settings": name,
                f"steps until within {surfaces.TARGET_GAP:g}, Keras": steps_text(measured),
                "the closed form": steps_text(predicted),
            }
            for name, measured, predicted in rows
        ],
        hide_index=True,
    )
    if theory.speed_up is not None and theory.rate_speed_up is not None:
        gd_now, momentum_now = surfaces.best_rates(condition)
        gd_then, momentum_then = surfaces.best_rates(10 * condition)
        st.markdown(
            f"- Momentum needs **{theory.speed_up:.1f}×** fewer steps here. In the long run the rates promise "
            f"log ρ_momentum / log ρ_GD = **{theory.rate_speed_up:.1f}×**, close to √κ = **{condition**0.5:.1f}**.\n"
            f"- On a bowl ten times more stretched (κ = {10 * condition:g}), gradient descent would need "
            f"**{math.log(gd_now) / math.log(gd_then):.1f}×** more steps, momentum only "
            f"**{math.log(momentum_now) / math.log(momentum_then):.1f}×** more."
        )
    else:
        st.markdown("- With κ = 1 the bowl is round: one step of gradient descent at α = 1 lands on the minimum.")


def network_notice(view) -> list[str]:
    shot = view.snapshot
    seen = network.race_notice(view.history, shot.optimisers)
    lines = []
    if seen.to_target:
        order = sorted(seen.to_target, key=seen.to_target.get)
        lines.append(
            f"First to {network.TARGET_ACCURACY:.0%} of the held-out digits: **{order[0]}**, at epoch "
            f"{seen.to_target[order[0]]}"
            + "".join(f"; {name} at epoch {seen.to_target[name]}" for name in order[1:])
            + "."
        )
    missing = [name for name in shot.optimisers if name in seen.best and name not in seen.to_target]
    for name in missing:
        lines.append(
            f"**{name}** has not reached {network.TARGET_ACCURACY:.0%} by epoch {view.epoch} (best so far "
            f"{seen.best[name]:.1%})."
        )
    guessing = [name for name, loss in seen.last_loss.items() if abs(loss - math.log(10)) < 0.01]
    if guessing:
        lines.append(
            f"{', '.join(guessing)}: the loss sits at ln 10 = {math.log(10):.3f}, the loss of guessing among ten "
            "digits: at this rate the network has learned nothing (try a smaller one)."
        )
    if seen.noise and shot.batch_losses:
        batches = len(next(iter(shot.batch_losses.values())))
        lines.append(
            f"With {batches:,} batches an epoch, the loss jumps from one batch to the next by about "
            + ", ".join(f"±{value:.3f} ({name})" for name, value in seen.noise.items())
            + ": each step follows its own batch's gradient, not the whole set's. Try batch size 1, then the "
            "whole set."
        )
    elif shot.batch_losses:
        lines.append("With the whole training set as one batch, every step sees the same data: no batch noise.")
    for name, epoch in shot.diverged.items():
        lines.append(f"**{name}** diverged at epoch {epoch}: its loss stopped being a finite number.")
    return lines


def draw_network(view):
    keys = {network.loss_key(name): name for name in surfaces.OPTIMISERS}
    accuracy = {network.accuracy_key(name): name for name in surfaces.OPTIMISERS}
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "optimisation:loss",
            lambda view: metric_curves(view.history, list(keys), "Training loss", labels=keys, log_y=True),
        )
    with right:
        show_run_figure(
            view,
            "optimisation:accuracy",
            lambda view: metric_curves(
                view.history, list(accuracy), "Accuracy on the held-out digits", labels=accuracy
            ),
        )
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "optimisation:batches",
            lambda view: batch_losses_chart(
                list(view.snapshot.batch_losses.items()),
                surfaces.OPTIMISERS,
                f"The loss on each batch of epoch {view.snapshot.epoch}",
            ),
            snapshot_only=True,
        )
    with right:
        show_run_figure(
            view,
            "optimisation:schedule",
            lambda view: schedule_chart(
                *network.schedule_curve(view.snapshot.schedule, view.epochs),
                view.snapshot.epoch,
                f"Learning-rate schedule: {view.snapshot.schedule}",
            ),
            snapshot_only=True,
        )
    what_to_notice(network_notice(view), waiting=RUN_STARTED)


@st.fragment
def network_section():
    st.header("Optimisers on a real network")
    st.markdown(
        "The same race on a real network: a Keras MLP (64 pixels → hidden ReLU units → 10 digits) learning "
        "scikit-learn's 1,797 handwritten digits, one copy per optimiser, all from the same first weights and on "
        "the same shuffled mini-batches. The **batch size** sets how many digits each step averages: 1 is "
        "stochastic gradient descent (a noisy step per digit), all 1,437 is batch gradient descent (one careful "
        "step an epoch). The **schedule** changes the rate over the run, inside Keras' own step; the rates stay "
        "live (:material/bolt:)."
    )
    run_section(
        LESSON.slug, network.BOX, network.race_task, draw_network, waiting="The curves appear after the first epoch."
    )


def remedy_notice(view) -> list[str]:
    shot = view.snapshot
    seen = regularisation.remedy_notice(view.history, shot.remedies)
    lines = []
    for remedy, (train, held_out) in seen.final.items():
        at = f"at the epoch it keeps ({seen.best[remedy][0]})" if remedy == regularisation.EARLY else "now"
        lines.append(
            f"**{remedy}**, {at}: training loss {train:.3f}, held-out {held_out:.3f}, a gap of "
            f"{held_out - train:.3f}; its best held-out loss was {seen.best[remedy][1]:.3f}, at epoch "
            f"{seen.best[remedy][0]}."
        )
    if seen.lowest is not None:
        lines.append(f"Lowest held-out loss now: **{seen.lowest}**.")
    if shot.stopped_at is not None:
        best = shot.best_epochs[regularisation.EARLY]
        lines.append(
            f"Early stopping ended its copy at epoch {shot.stopped_at}, {shot.stopped_at - best} epochs without a "
            f"better held-out loss, and shows the weights of epoch {best}."
        )
    return lines


def draw_remedies(view):
    show_run_figure(view, "optimisation:overfit", _overfit_curves)
    columns = st.columns(2)
    for index, remedy in enumerate(view.snapshot.remedies):
        with columns[index % 2]:
            show_run_figure(
                view,
                f"optimisation:boundary:{index}",
                lambda view, remedy=remedy: _remedy_boundary(view.snapshot, remedy),
                snapshot_only=True,
            )
    what_to_notice(remedy_notice(view), waiting=RUN_STARTED)


def _overfit_curves(view):
    shot = view.snapshot
    series = [
        (remedy, regularisation.key("loss", remedy), regularisation.key("val_loss", remedy)) for remedy in shot.remedies
    ]
    marks = {regularisation.EARLY: shot.best_epochs[regularisation.EARLY]} if shot.stopped_at is not None else {}
    return train_validation_curves(
        view.history, series, regularisation.REMEDIES, "Training (solid) and held-out (dotted) loss", marks
    )


def _remedy_boundary(shot, remedy: str):
    if remedy == regularisation.EARLY:
        title = f"{remedy}: the weights of epoch {shot.best_epochs[remedy]}"
    else:
        title = f"{remedy}: after epoch {shot.epoch}"
    data = regularisation.moons(*shot.data)
    return decision_surface(shot.axis, shot.surfaces[remedy], data.x_train, data.y_train, f"{title} (training points)")


@st.fragment
def overfitting_section():
    st.header("Overfitting, and what stops it")
    st.markdown(
        "A network with thousands of weights and a few dozen noisy training points can learn the points by heart: "
        "its training loss falls towards 0 while its loss on points it never saw (held out, from the same "
        "moons) turns and rises. The copies below start from the same weights and meet the same batches. **L2** "
        "adds λ·Σw² to the loss, so large weights cost; **dropout** silences a random share of the hidden units at "
        "every step, so no unit can rely on another; **early stopping** watches the held-out loss and keeps the "
        "weights of its best epoch, stopping once it has not improved for *patience* epochs."
    )
    run_section(
        LESSON.slug,
        regularisation.BOX,
        regularisation.remedies_task,
        draw_remedies,
        waiting="The curves and boundaries appear after the first epochs.",
    )


def augmentation_notice(view) -> list[str]:
    seen = augmentation.augmentation_notice(view.history)
    lines = [
        f"**{name}**: training loss {train:.3f}, held-out loss {held_out:.3f} (a gap of {held_out - train:.3f}), "
        f"held-out accuracy {accuracy:.1%}; its best held-out accuracy {seen.best_accuracy[name][0]:.1%}, at epoch "
        f"{seen.best_accuracy[name][1]}."
        for name, (train, held_out, accuracy) in seen.final.items()
    ]
    if len(seen.final) == 2:
        (_, plain_loss, _), (_, augmented_loss, _) = seen.final[augmentation.PLAIN], seen.final[augmentation.AUGMENTED]
        if augmented_loss < plain_loss:
            lines.append(
                f"Augmented, the held-out loss is {plain_loss - augmented_loss:.3f} lower: the network could not learn "
                "its training pictures by heart, because it never saw the same picture twice."
            )
        else:
            lines.append(
                "So far the augmented network's held-out loss is no lower: it is still learning its harder task "
                "(its training loss is higher too). Give it more epochs."
            )
    return lines


def draw_augmentation(view):
    series = [
        (name, augmentation.row_key("loss", name), augmentation.row_key("val_loss", name))
        for name in augmentation.NETWORKS
    ]
    show_run_figure(
        view,
        "optimisation:augment-loss",
        lambda view: train_validation_curves(
            view.history, series, augmentation.NETWORKS, "Training (solid) and held-out (dotted) loss"
        ),
    )
    accuracy = {augmentation.row_key("val_accuracy", name): name for name in augmentation.NETWORKS}
    show_run_figure(
        view,
        "optimisation:augment-accuracy",
        lambda view: metric_curves(
            view.history, list(accuracy), "Accuracy on the 1,000 held-out digits", labels=accuracy
        ),
    )
    show_run_figure(view, "optimisation:augment-examples", _augmented_examples, snapshot_only=True)
    what_to_notice(augmentation_notice(view), waiting=RUN_STARTED)


@st.fragment
def augmentation_section():
    st.header("Data augmentation")
    st.markdown(
        "For pictures there is one more remedy: more data, made from the data you have. A digit shifted by two "
        "pixels, turned a little or zoomed is still the same digit. Below, a small convolutional network learns "
        "from a few hundred of the MNIST sample's digits twice, from the same first weights on the same batches: "
        "on the pictures as they are, and through Keras' own `RandomTranslation`, `RandomRotation` and "
        "`RandomZoom` layers, which change every picture afresh at every step (and do nothing when the network "
        "predicts). The held-out digits are 1,000 others."
    )
    run_section(
        LESSON.slug,
        augmentation.BOX,
        augmentation.augmentation_task,
        draw_augmentation,
        waiting="The curves appear after the first epochs (the augmented network takes a few seconds to compile).",
    )


def rates_text(rates) -> str:
    return ", ".join(f"{rate:g}" for rate in rates) or "none of them"


def batchnorm_notice(view) -> list[str]:
    shot = view.snapshot
    seen = batchnorm.batchnorm_notice(view.history, shot)
    lines = [
        f"**{name}**: training loss {loss:.3f}, held-out accuracy {accuracy:.1%}."
        for name, (loss, accuracy) in seen.final.items()
    ]
    for name in seen.learned_nothing:
        lines.append(
            f"**{name}** has learned nothing at this rate: {seen.final[name][1]:.1%} of the held-out digits is what a "
            "guess scores (about 10 %)."
        )
    for name, epoch in shot.diverged.items():
        lines.append(f"**{name}**'s loss stopped being a finite number at epoch {epoch}: it trains no more.")
    if batchnorm.PLAIN in seen.spread and batchnorm.NORMALISED in seen.spread:
        (plain_first, plain_last), (norm_first, norm_last) = (
            seen.spread[batchnorm.PLAIN],
            seen.spread[batchnorm.NORMALISED],
        )
        lines.append(
            f"What the activations receive spreads by {plain_first:.3g} (standard deviation) in layer 1 and "
            f"{plain_last:.3g} in the last layer of the plain network; by {norm_first:.3g} and {norm_last:.3g} with "
            "batch norm, where every layer's inputs are rescaled to a mean of β and a spread of γ (learned, starting "
            "at 0 and 1)."
        )
    if seen.first_epoch is not None:
        moving, own = seen.first_epoch
        held = shot.momentum**batchnorm.STEPS_PER_EPOCH
        lines.append(
            f"After epoch 1 the normalised network scored {moving:.1%} on the held-out digits as it predicts (with "
            f"its moving averages) but {own:.1%} with the held-out digits' own statistics, as in training: after "
            f"{batchnorm.STEPS_PER_EPOCH} steps its moving averages still held {shot.momentum:g}^"
            f"{batchnorm.STEPS_PER_EPOCH} = {held:.0%} of their starting values (mean 0, variance 1)."
        )
    return lines


def _augmented_examples(view):
    shot = view.snapshot
    captions = ["as it is" if index % augmentation.VERSIONS == 0 else "" for index in range(len(shot.examples))]
    return gallery(
        shot.examples,
        captions,
        f"Three training digits as the augmented network meets them ({', '.join(shot.transforms)})",
        columns=augmentation.VERSIONS,
    )


def draw_batchnorm(view):
    losses = {batchnorm.row_key("loss", name): name for name in batchnorm.NETWORKS}
    accuracy = {batchnorm.row_key("val_accuracy", name): name for name in batchnorm.NETWORKS}
    left, right = st.columns(2)
    with left:
        show_run_figure(
            view,
            "optimisation:bn-loss",
            lambda view: metric_curves(view.history, list(losses), "Training loss", labels=losses, log_y=True),
        )
    with right:
        show_run_figure(
            view,
            "optimisation:bn-accuracy",
            lambda view: metric_curves(
                view.history, list(accuracy), "Accuracy on the held-out digits", labels=accuracy
            ),
        )
    show_run_figure(view, "optimisation:bn-spread", _layer_inputs, snapshot_only=True)
    modes = {
        batchnorm.row_key("val_accuracy", batchnorm.NORMALISED): "predicting: moving averages",
        batchnorm.row_key("val_accuracy_batch", batchnorm.NORMALISED): "training: the batch's own statistics",
    }
    show_run_figure(
        view,
        "optimisation:bn-modes",
        lambda view: metric_curves(
            view.history, list(modes), "The normalised network on the held-out digits, two ways", labels=modes
        ),
    )
    what_to_notice(batchnorm_notice(view), waiting=RUN_STARTED)


def _layer_inputs(view):
    shot = view.snapshot
    names = list(shot.spreads)
    return layer_histograms(
        np.stack([shot.spreads[name].edges for name in names]),
        np.stack([shot.spreads[name].shares for name in names]),
        names,
        f"What each layer's {shot.activation} receives, after epoch {shot.epoch} ({batchnorm.PROBE_DIGITS} "
        "training digits)",
        "input to the activation",
    )


def sweep_section(config):
    st.subheader("The usable range of learning rates")
    st.markdown(
        f"Both networks trained for {batchnorm.SWEEP_EPOCHS} epochs at each of {len(batchnorm.SWEEP_RATES)} learning "
        f"rates, from the same first weights. A rate is usable if the network reaches "
        f"{batchnorm.USABLE_ACCURACY:.0%} of the held-out digits."
    )
    with st.spinner(f"Training both networks at {len(batchnorm.SWEEP_RATES)} learning rates…"):
        sweep = batchnorm.rate_sweep(
            config["activation"], int(config["depth"]), int(config["width"]), int(config["seed"])
        )
    show_figure(
        rate_sweep_chart(
            sweep.rates,
            sweep.accuracy,
            batchnorm.USABLE_ACCURACY,
            f"Held-out accuracy after {batchnorm.SWEEP_EPOCHS} epochs, by learning rate",
        ),
        key="optimisation:sweep",
    )
    lines = []
    for name in batchnorm.NETWORKS:
        usable, diverged = sweep.usable(name), sweep.diverged(name)
        lines.append(
            f"**{name}** is usable at {rates_text(usable)}"
            + (f"; its loss stopped being finite at {rates_text(diverged)}" if diverged else "")
            + "."
        )
    plain, normalised = sweep.usable(batchnorm.PLAIN), sweep.usable(batchnorm.NORMALISED)
    wider = sorted(set(normalised) - set(plain))
    if wider:
        lines.append(f"Only with batch norm does it train at {rates_text(wider)}.")
    what_to_notice(lines)


@st.fragment
def batchnorm_section():
    st.header("Batch normalisation")
    st.markdown(
        "A deep network's layers feed each other: when one layer's weights change, the next receives inputs of a "
        "new size, and a large learning rate can push them where the activations saturate (sigmoid, tanh) or die "
        "(ReLU). **Batch normalisation** (Ioffe & Szegedy, 2015) rescales each unit's input, over the batch, to mean "
        "0 and variance 1, then to a learned mean β and spread γ. Below, the same deep network trains twice on the "
        "digits, from the same first weights and on the same batches: as it is, and with Keras' "
        "`BatchNormalization` before every activation. When it predicts, a normalised network cannot use a batch's "
        "statistics (it may get one example), so it uses moving averages kept during training."
    )
    config = run_section(
        LESSON.slug,
        batchnorm.BOX,
        batchnorm.batchnorm_task,
        draw_batchnorm,
        waiting="The curves and the layers' histograms appear after the first epoch.",
    )
    sweep_section(config)


def settings_text(trial) -> str:
    return (
        f"learning rate {trial[search.LEARNING_RATE]:.2g}, batch {trial[search.BATCH_SIZE]:.0f}, dropout "
        f"{trial[search.DROPOUT]:.2f}, {trial[search.WIDTH]:.0f} hidden units"
    )


def search_notice(view, seen: search.SearchNotice) -> list[str]:
    lines = [
        f"Best **{strategy}** trial so far: **{trial[search.ACCURACY]:.1%}** of the held-out digits "
        f"({settings_text(trial)})."
        for strategy, trial in seen.best.items()
    ]
    if len(seen.distinct) == 2:
        grid, random = seen.distinct[search.GRID], seen.distinct[search.RANDOM]
        lines.append(
            f"In the same number of trials the grid has tried **{grid[search.LEARNING_RATE]}** learning rates, random "
            f"search **{random[search.LEARNING_RATE]}** (and {grid[search.DROPOUT]} against "
            f"{random[search.DROPOUT]} dropout rates)."
        )
    if len(view.history) >= search.MIN_TRIALS_FOR_CORRELATION:
        ranked = sorted(seen.rank_correlation.items(), key=lambda item: -abs(item[1]))
        (top, rho), others = ranked[0], ranked[1:]
        lines.append(
            f"Over all {len(view.history)} trials, held-out accuracy follows the **{top}** most closely (rank "
            f"correlation ρ = {rho:+.2f}; " + ", ".join(f"{name} {value:+.2f}" for name, value in others) + ")."
        )
    for strategy, count in seen.diverged.items():
        if count:
            lines.append(f"{count} {strategy} trial(s) diverged: their loss stopped being a finite number.")
    return lines


def search_table(trials, best) -> list[dict]:
    """Every trial, best first; each strategy's best (`best`, from the notice) starred."""
    rows = [
        {
            "": "★" if row[search.ACCURACY] == best[search.strategy_of(row)][search.ACCURACY] else "",
            "strategy": search.strategy_of(row),
            **{name: row[name] for name in search.HYPERPARAMETERS},
            search.ACCURACY: 100 * row[search.ACCURACY],
            search.LOSS: row.get(search.LOSS),
            search.SECONDS: row[search.SECONDS],
        }
        for row in trials
    ]
    return sorted(rows, key=lambda row: -row[search.ACCURACY])


SEARCH_COLUMNS = {
    search.LEARNING_RATE: st.column_config.NumberColumn(format="%.2g"),
    search.BATCH_SIZE: st.column_config.NumberColumn(format="%d"),
    search.DROPOUT: st.column_config.NumberColumn(format="%.2f"),
    search.WIDTH: st.column_config.NumberColumn(format="%d"),
    search.ACCURACY: st.column_config.NumberColumn(format="%.1f%%"),
    search.LOSS: st.column_config.NumberColumn(format="%.3f"),
    search.SECONDS: st.column_config.NumberColumn(format="%.2f"),
}


def draw_search(view):
    if not view.history:
        st.caption("The first trial is training.")
        return
    show_run_figure(
        view,
        "optimisation:search-rate",
        lambda view: trials_by_rate(
            view.history,
            search.strategy_of,
            view.snapshot,
            search.LEARNING_RATE,
            search.ACCURACY,
            "Each trial's held-out accuracy against its learning rate",
        ),
    )
    show_run_figure(
        view,
        "optimisation:search-hparams",
        lambda view: parallel_coordinates(
            view.history,
            [
                (search.strategy_key(search.GRID), "strategy", "linear"),
                (search.LEARNING_RATE, search.LEARNING_RATE, "log10"),
                (search.BATCH_SIZE, search.BATCH_SIZE, "log2"),
                (search.DROPOUT, search.DROPOUT, "linear"),
                (search.WIDTH, search.WIDTH, "log2"),
            ],
            search.ACCURACY,
            {search.strategy_key(search.GRID): {0.0: search.RANDOM, 1.0: search.GRID}},
            "Every trial through its settings to its score (darker: better)",
        ),
    )
    seen = search.search_notice(view.history)
    st.dataframe(search_table(view.history, seen.best), hide_index=True, column_config=SEARCH_COLUMNS)
    what_to_notice(search_notice(view, seen), waiting=RUN_STARTED)


@st.fragment
def search_section():
    st.header("Hyperparameter search")
    st.markdown(
        "Learning rate, batch size, dropout, width: which settings? Try many, briefly, and keep the best. A **grid** "
        f"tries every combination of a few values of each ({search.LEVELS} of each of 4 here: "
        f"{search.TRIALS} trials). **Random search** draws {search.TRIALS} settings at random, the learning rate "
        "and the sizes on a log scale (as likely between 0.001 and 0.01 as between 0.01 and 0.1). Bergstra & "
        "Bengio (2012) noticed that usually one or two settings matter most, and that a grid wastes its trials on "
        "repeats of those: it tries only 2 learning rates, however many trials it runs. Each trial below is a "
        "small network on the digits, trained by Adam; the trials appear as they finish. Click a column's head "
        "to sort the table."
    )
    run_section(
        LESSON.slug,
        search.BOX,
        search.search_task,
        draw_search,
        waiting="The first trials appear after a few seconds (each builds and compiles its own network).",
    )


race_section()
network_section()
overfitting_section()
augmentation_section()
batchnorm_section()
search_section()
