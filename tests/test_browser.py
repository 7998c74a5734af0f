"""The app as a student meets it: real headless chromium against a real server. Screenshots of every
page land in tests/artifacts/ (git-ignored) to be looked at."""

import json
import re
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from core.engine.backend import jax_device
from core.engine.text import WORD_JOINER
from core.lessons import LESSONS
from core.lessons.word2vec import corpus, explore
from tests.appserver import LIVE_TITLE, free_port, live_title, redraw_rate, start_app, watch_frames
from tests.conftest import ARTIFACTS
from tests.helpers import maps_library, wait_until

pytestmark = pytest.mark.browser

PAGES = [("", "Explorable Deep Learning")] + [(lesson.slug, lesson.title) for lesson in LESSONS]


def open_page(browser, url, height=1000):
    """Streamlit scrolls inside its own container: a long page needs a tall window to be screenshot whole."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("h1", timeout=30_000)
    return page


def wait_until_idle(page, timeout: int = 30_000):
    """The script run has finished (Streamlit's running indicator is gone) and skeletons are drawn."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]') && "
        "!document.querySelector('[data-testid=stSkeleton]')",
        timeout=timeout,
    )


def press_train(page, run: str, runs_linked: int):
    """Press Train in the section whose run is `run` and wait until the URL links `runs_linked` runs.
    A click that lands while the page is being redrawn after another run ended can be lost: press again."""
    button = page.locator(f".st-key-{run.replace('/', '-')}-train button[data-testid^=stBaseButton]").first
    for _ in range(3):
        wait_until_idle(page, 90_000)  # a long page's first run (the vision lesson reads a photo at ten scales) is slow
        button.click(timeout=90_000)  # a page that has just finished a run redraws first: slow on a busy server
        try:
            page.wait_for_function(
                "n => (new URL(location.href).searchParams.get('job') || '').split(',').filter(Boolean).length >= n",
                arg=runs_linked,
                timeout=15_000,
            )
            return
        except Exception:
            continue
    raise AssertionError(f"Train in {run} did not start a run")


def wait_for_charts(page, keys, timeout=30_000):
    """Every chart keyed `keys` (a chart's Streamlit key, ':' written '-') is drawn with a height, by plotly.js
    or, while its run trains, on its canvas."""
    page.wait_for_function(
        "keys => keys.every(key => [...document.querySelectorAll('.st-key-' + key + "
        "' :is(.js-plotly-plot, canvas.edl-live-canvas)')].some(chart => chart.getBoundingClientRect().height > 0))",
        arg=list(keys),
        timeout=timeout,
    )


TREE_ERRORS = ("ElementNode", "delta path", "TransientNode")
"""Streamlit's front end failing to place a delta in its element tree: the page goes white."""


def assert_no_error_shown(page):
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.inner_text("body")
    broken = [error for error in getattr(page, "errors", []) if any(word in error for word in TREE_ERRORS)]
    assert not broken, f"the page's element tree broke (a white page): {broken}"


@pytest.mark.parametrize("path, title", PAGES, ids=[p or "home" for p, _ in PAGES])
def test_every_page_opens_and_reads(browser, app_url, path, title):
    """Also offline: no request leaves the machine (the favicon is bundled), and students see no Deploy
    button or developer menu."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(app_url) else None)
    page.goto(f"{app_url}/{path}")
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    page.get_by_text("JAX computes on: CPU").or_(
        page.get_by_text(re.compile(r"JAX computes on: .*GPU"))
    ).first.wait_for(timeout=30_000)
    assert_no_error_shown(page)
    assert not outside, outside
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.screenshot(path=ARTIFACTS / f"page-{path or 'home'}.png", full_page=True)
    page.close()


def chart_title(pattern: str) -> re.Pattern:
    """A chart title's pattern as the page's text has it: Plotly draws each line of a wrapped title as its
    own element, so the text runs on from one line to the next without a space."""
    return re.compile(pattern.replace(" ", r"\s*"))


def surface_epoch(page) -> int:
    return int(re.search(r"epoch\s*(\d+)", live_title(page, "surface")).group(1))


def train_watch_and_pause(page, screenshots: str):
    """Press Train: the surface redraws, moving forward; pause: the picture shows the epoch the counter says."""
    page.get_by_role("button", name="Train").click()
    page.wait_for_function(f"() => /epoch\\s*\\d+/.test(({LIVE_TITLE})('surface'))", timeout=60_000)
    seen = [surface_epoch(page)]
    deadline = time.monotonic() + 30
    while len(set(seen)) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        seen.append(surface_epoch(page))
    assert len(set(seen)) >= 3 and seen == sorted(seen), seen  # the chart redrew at least twice, moving forward
    assert "job=" in page.url  # a reload or a shared link re-attaches
    page.screenshot(path=ARTIFACTS / f"{screenshots}-training.png", full_page=True)

    page.get_by_role("button", name="Pause").click()
    paused = page.get_by_text(re.compile(r"Paused at epoch \d+")).first
    paused.wait_for(timeout=15_000)
    time.sleep(2.0)  # "Paused" shows once the run is held, with its last picture: plotly.js has drawn it since
    held = surface_epoch(page)
    assert f"Paused at epoch {held} " in paused.inner_text()  # the picture shows the epoch the counter says
    time.sleep(2.0)
    assert surface_epoch(page) == held
    assert page.get_by_role("button", name="Resume").is_visible()
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / f"{screenshots}-paused.png", full_page=True)
    return paused


def test_a_live_run_updates_and_pauses(browser, app_url):
    page = open_page(browser, f"{app_url}/engine_room?epochs=3000&seed=11")
    train_watch_and_pause(page, "run")
    other = open_page(browser, page.url)  # another student's browser on the same link joins the same run
    other.get_by_text(re.compile(r"Paused at epoch \d+")).first.wait_for(timeout=30_000)
    other.get_by_text(re.compile(r"2 sessions are watching")).first.wait_for(timeout=30_000)
    assert other.get_by_role("button", name="Stop").is_disabled()  # the starter controls the run
    assert other.get_by_role("button", name="Train my own copy").is_visible()
    page.reload()  # a reload is the same browser: it keeps the controls
    page.wait_for_selector("h1", timeout=30_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped by a click on Stop.").first.wait_for(timeout=30_000)
    other.get_by_text("Stopped by a click on Stop.").first.wait_for(timeout=30_000)
    other.close()
    page.close()


def test_live_charts_update_in_place_without_blanking_or_fading_the_page(browser, app_url):
    """The live panel reruns three times a second on the page in control, and its charts play back the run's states
    in between: they redraw more often than the panel. Streamlit dims what a rerun has not redrawn yet (the whole
    page would flicker while students read it), and `st.plotly_chart` remounts a chart whose figure changed (a blank
    frame): the live charts update one element in place instead, drawn on a canvas while the run trains and by
    plotly.js, with its PNG button, once it stops."""
    page = open_page(browser, f"{app_url}/engine_room?check.epochs=3000&check.batch_size=8&check.seed=12")
    press_train(page, "engine_room", 1)
    wait_for_charts(page, ["surface", "loss"], timeout=60_000)
    page.evaluate("() => { window.__surface = document.querySelector('.st-key-surface .edl-live'); }")
    redraws = redraw_rate(page, ".st-key-surface .edl-live-drawn", 3.0)
    curve_redraws = redraw_rate(page, ".st-key-loss .edl-live-drawn", 2.0)
    panel_redraws = redraw_rate(page, "[data-testid=stProgress]", 2.0)
    frames = watch_frames(page, ".st-key-surface .edl-live", 4.0)
    same_element = page.evaluate("() => window.__surface === document.querySelector('.st-key-surface .edl-live')")
    drawn = page.locator(".st-key-surface .edl-live-drawn").text_content()
    title = live_title(page, "surface")
    page.screenshot(path=ARTIFACTS / "engine-room-canvas-training.png", full_page=True)
    page.get_by_role("button", name="Stop").click()
    assert frames["samples"] >= 20 and frames["faded"] == 0 and frames["blank"] == 0, frames
    assert redraws >= 2.0 and same_element, (redraws, same_element)  # a smoke check: the pace lives in the bench
    assert min(redraws, curve_redraws) > panel_redraws, (redraws, curve_redraws, panel_redraws)  # played back
    assert drawn.endswith(":canvas") and re.fullmatch(
        r"What the network predicts after epoch \d+ \(test points\)", title
    )
    page.get_by_text("Stopped by a click on Stop.").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('.st-key-surface .edl-live-drawn').textContent.endsWith(':plotly')"
    )
    page.hover(".st-key-surface .js-plotly-plot")
    with page.expect_download() as saved:  # the chart's camera button still saves a PNG
        page.locator(".st-key-surface .modebar-btn[data-title^='Download plot']").click()
    assert saved.value.suggested_filename.endswith(".png")
    page.close()


def test_a_live_chart_out_of_sight_is_not_redrawn_until_it_comes_back(browser, app_url):
    """A student reading further down the page does not pay for charts they cannot see; scrolled back, the
    chart shows the newest picture at once."""
    page = open_page(browser, f"{app_url}/engine_room?check.epochs=5000&check.batch_size=8&check.seed=13", height=420)
    press_train(page, "engine_room", 1)
    wait_for_charts(page, ["surface"], timeout=60_000)
    page.evaluate("() => { const main = document.querySelector('[data-testid=stMain]'); main.scrollTop = 1e6; }")
    page.wait_for_function("() => document.querySelector('.st-key-surface').getBoundingClientRect().bottom < 0")
    time.sleep(0.5)
    hidden = surface_epoch(page)
    time.sleep(1.5)  # about fifteen redraws of the panel
    assert surface_epoch(page) == hidden
    page.evaluate("() => document.querySelector('.st-key-surface').scrollIntoView()")
    page.wait_for_function(
        f"""epoch => {{ const found = ({LIVE_TITLE})('surface').match(/epoch\\s*(\\d+)/);
        return found && Number(found[1]) > epoch; }}""",
        arg=hidden,
        timeout=10_000,
    )
    page.get_by_role("button", name="Stop").click()
    page.close()


def test_projector_mode_enlarges_the_page(browser, app_url):
    page = open_page(browser, f"{app_url}/engine_room?projector=1")
    page.get_by_text("Settings").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMain] p')]"
        ".some(p => p.innerText.startsWith('Before class') && parseFloat(getComputedStyle(p).fontSize) >= 24)",
        timeout=15_000,
    )
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "projector-engine_room.png", full_page=True)
    page.close()


CHART_FONT_SIZES = """() => [...document.querySelectorAll('.js-plotly-plot svg text')]
    .filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0)
    .map(t => parseFloat(getComputedStyle(t).fontSize))"""


SMALL_CHART_LABELS = """() => [...document.querySelectorAll('.js-plotly-plot svg text')]
    .filter(t => t.textContent.trim() && t.getBoundingClientRect().width > 0)
    .filter(t => parseFloat(getComputedStyle(t).fontSize) < 16)
    .map(t => t.textContent + ' in ' + t.closest('[class*=st-key-]').className.match(/st-key-\\S+/)[0])"""


def test_projector_mode_enlarges_every_chart_label(browser, app_url):
    """Streamlit's chart theme used to override the fonts: 55 of 66 labels stayed under 16 px."""
    sizes = {}
    for query in ("", "?projector=1"):
        page = open_page(browser, f"{app_url}/perceptron{query}", height=4000)
        wait_for_charts(page, ["perceptron", "preview", "graph", "check"])
        wait_until_idle(page)
        sizes[query] = page.evaluate(CHART_FONT_SIZES)
        if query:
            page.screenshot(path=ARTIFACTS / "projector-perceptron.png", full_page=True)
        page.close()
    assert len(sizes["?projector=1"]) >= 50
    assert min(sizes["?projector=1"]) >= 16, sorted(sizes["?projector=1"])[:10]
    assert sum(sizes["?projector=1"]) > 1.4 * sum(sizes[""])


def test_projector_mode_enlarges_the_optimisation_pages_charts(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?projector=1", height=4000)
    wait_for_charts(page, ["optimisation-race", "optimisation-gaps", "optimisation-sweep"], timeout=90_000)
    wait_until_idle(page)
    sizes = page.evaluate(CHART_FONT_SIZES)
    small = page.evaluate(SMALL_CHART_LABELS)
    assert len(sizes) >= 50
    assert min(sizes) >= 16, small
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "projector-optimisation.png", full_page=True)
    page.close()


def test_a_server_training_in_worker_processes_runs_a_lesson_as_with_threads(browser):
    """`EDL_TRAIN_IN_PROCESSES=1`: the run trains in a worker; the page draws, pauses and stops it the same."""
    port = free_port()
    process = start_app(port, env={"EDL_TRAIN_IN_PROCESSES": "1"})
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/engine_room?epochs=3000&seed=14")
        train_watch_and_pause(page, "worker-run")
        assert psutil.Process(process.pid).children(recursive=True)  # the server's worker
        page.get_by_role("button", name="Resume").click()
        page.get_by_text(re.compile(r"Training: epoch \d+ of 3000")).first.wait_for(timeout=15_000)
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("Stopped by a click on Stop.").first.wait_for(timeout=30_000)
        page.get_by_text(f"JAX computes on: {jax_device()}").first.wait_for(timeout=15_000)  # the worker said
        page.get_by_text("runs train in worker processes, out of the pages’ way").first.wait_for(timeout=15_000)
        assert not maps_library(process.pid, "jaxlib")  # the server never loaded JAX (120 MB), not even to warm up
        assert_no_error_shown(page)
        page.close()
    finally:
        process.terminate()
        process.wait(20)


def test_a_fresh_server_warms_up_before_anyone_opens_it_and_shows_the_whole_app_at_a_lesson_link(browser):
    """At its start, before any page is opened, the server imports what pages need (app.py's warm-up: JAX among
    them where runs train in its threads), so a class arriving together does not wait for it. The first visitor
    after a restart may arrive by a teacher's link, not by Home."""
    port = free_port()
    process = start_app(port)
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/perceptron?projector=1")  # charts while it warms up
        page.get_by_text("Projector mode").first.wait_for(timeout=30_000)
        page.get_by_text("Foundations").first.wait_for(timeout=30_000)  # the grouped navigation
        page.get_by_text("Playground settings").first.wait_for(timeout=30_000)
        assert_no_error_shown(page)
        page.close()
        assert wait_until(lambda: maps_library(process.pid, "jaxlib"), timeout=60, interval=0.2), (
            "the server did not import JAX at its start"
        )
    finally:
        process.terminate()
        process.wait(20)


def test_backprop_walkthrough_and_a_planted_bug_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/perceptron?stage=9&bug=dW2+doubled")
    page.get_by_text("Step 9 of 9 · Update").first.wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"The gradients fail \(bug: dW2 doubled\)")).first.wait_for(timeout=30_000)
    page.locator(".katex").first.wait_for(timeout=15_000)  # the equations are typeset
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "perceptron-backprop-bug.png", full_page=True)
    page.close()


def test_the_perceptron_animation_plays(browser, app_url):
    page = open_page(browser, f"{app_url}/perceptron")
    current = page.locator("g.slider-group > text.slider-label").first
    current.wait_for(timeout=30_000)
    assert current.text_content() == "update 0"
    page.get_by_text("▶ Play").first.click()
    page.wait_for_function(
        "() => document.querySelector('g.slider-group > text.slider-label').textContent !== 'update 0'", timeout=15_000
    )
    page.get_by_text(chart_title(r"The neuron's line, update by update: update [1-9]\d*, epoch \d+")).first.wait_for()
    overflow = page.evaluate("""() => { const svg = document.querySelector('.st-key-perceptron svg.main-svg');
        const right = svg.getBoundingClientRect().right;
        return [...svg.parentElement.querySelectorAll('g.slider-group text')]
            .filter(t => t.getBoundingClientRect().right > right + 1).map(t => t.textContent); }""")
    assert not overflow, overflow  # no slider label is cut off at the chart's edge
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.close()


def test_the_from_scratch_page_steps_through_its_graph_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/from_scratch", 4400)
    wait_for_charts(page, ["from_scratch-graph-figure", "from_scratch-costs"], timeout=60_000)
    page.get_by_text(chart_title(r"Sorting, step 1 of 18: x")).first.wait_for(timeout=15_000)
    slider = page.locator(".st-key-from_scratch-stage [aria-valuetext]").first
    slider.focus()
    for _ in range(13):
        page.keyboard.press("ArrowRight")
    page.get_by_text(chart_title(r"Backward, step 14 of 18: prediction")).first.wait_for(timeout=15_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "from-scratch.png", full_page=True)
    wait_for_charts(page, ["from_scratch-faces", "from_scratch-logistic-costs", "from_scratch-weights"])
    page.locator(".st-key-from_scratch-faces").scroll_into_view_if_needed()
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "from-scratch-logistic.png")
    wait_for_charts(page, ["from_scratch-rental-costs", "from_scratch-rentals"], timeout=60_000)
    page.get_by_text(re.compile(r"after 3,000 iterations its training cost is")).first.wait_for(timeout=60_000)
    page.locator(".st-key-from_scratch-rental-costs").scroll_into_view_if_needed()
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "from-scratch-regression.png")
    page.close()


def test_the_tabular_agents_learn_the_cliff_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/reinforcement?tabular.speed=steady", 3000)
    press_train(page, "reinforcement/tabular", 1)
    wait_for_charts(page, ["reinforcement-grid-0", "reinforcement-grid-1", "reinforcement-returns"], timeout=60_000)
    page.get_by_text(re.compile(r"Finished 500 episodes")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Q-learning's greedy path takes 13 steps")).first.wait_for(timeout=30_000)
    for seeded in ("(exploring) is -50.60", "(exploring) is -25.83"):  # the run is seeded: these numbers, every time
        page.get_by_text(seeded).first.wait_for(timeout=30_000)
    wait_for_charts(page, ["reinforcement-exact"])
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "reinforcement-tabular.png", full_page=True)
    page.close()


def test_a_students_own_grid_is_learned_and_a_blocked_one_explained_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/reinforcement?tabular.world=Your+own+grid&tabular.gamma=0.9", 2000)
    press_train(page, "reinforcement/tabular", 1)
    page.get_by_text(re.compile(r"Finished 500 episodes")).first.wait_for(timeout=120_000)
    wait_for_charts(page, ["reinforcement-grid-0", "reinforcement-exact"])
    grid = page.get_by_role("textbox", name="Your own grid")
    grid.fill("SFW\nWWG")
    grid.press("Control+Enter")
    page.get_by_text("no goal G can be reached from the start S").first.wait_for(timeout=30_000)
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "reinforcement-own-grid.png", full_page=True)
    page.close()


def test_the_dqn_learns_cartpole_and_plays_it_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/reinforcement?dqn.steps=20000&dqn.speed=steady", 3400)
    press_train(page, "reinforcement/dqn", 1)
    wait_for_charts(
        page,
        ["reinforcement-cart-0", "reinforcement-cart-1", "reinforcement-q-0", "reinforcement-dqn_returns"],
        timeout=60_000,
    )
    page.locator(".st-key-reinforcement-cart-0").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "reinforcement-dqn-live.png")
    page.get_by_text(re.compile(r"Finished 400 ")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"far above anything a state can be worth")).first.wait_for(timeout=30_000)
    wait_for_charts(page, ["reinforcement-play", "reinforcement-play_trace"], timeout=30_000)
    page.locator(".st-key-reinforcement-play").get_by_text("▶ Play").click()
    page.wait_for_timeout(1500)  # the episode plays back in the browser, a frame every 20 ms
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "reinforcement-dqn.png", full_page=True)
    page.locator(".st-key-reinforcement-play").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "reinforcement-dqn-play.png")
    page.close()


def test_the_optimisers_race_plays_over_the_surface(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?race.optimisers=Gradient+descent,Momentum,Nesterov,Adam", 2700)
    wait_for_charts(page, ["optimisation-race", "optimisation-gaps"])
    current = page.locator(".st-key-optimisation-race g.slider-group > text.slider-label").first
    assert current.text_content() == "step 0"
    page.locator(".st-key-optimisation-race").get_by_text("▶ Play").first.click()
    page.get_by_text(chart_title(r"Each optimiser's path: step [1-9]\d*")).first.wait_for(timeout=15_000)
    page.get_by_text("Why momentum really works").first.wait_for()
    time.sleep(2.0)  # a few frames on
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "optimisation-race.png", full_page=True)
    page.close()


def test_the_optimisers_train_a_real_network_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?network.epochs=30&network.schedule=cosine", 3600)
    press_train(page, "optimisation/network", 1)
    wait_for_charts(
        page,
        ["optimisation-loss", "optimisation-accuracy", "optimisation-batches", "optimisation-schedule"],
        timeout=90_000,
    )
    page.get_by_text(re.compile(r"Finished 30 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"First to 95% of the held-out digits")).first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "optimisation-network.png", full_page=True)
    notice = page.locator("[data-testid=stExpander]").last
    notice.scroll_into_view_if_needed()
    wait_until_idle(page)
    assert page.get_by_text("JAX computes on").count() == 1, page.get_by_text("JAX computes on").all_inner_texts()
    notice.screenshot(path=ARTIFACTS / "optimisation-network-notice.png")
    page.close()


def test_the_overfitting_section_trains_its_copies_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?overfit.epochs=300&overfit.speed=full+speed", 3600)
    press_train(page, "optimisation/regularisation", 1)
    page.get_by_text(re.compile(r"Finished 300 epochs")).first.wait_for(timeout=120_000)
    wait_for_charts(page, ["optimisation-overfit", *(f"optimisation-boundary-{i}" for i in range(4))])
    page.get_by_text(re.compile(r"Early stopping ended its copy at epoch \d+")).first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator("[data-testid=stExpander]").last.scroll_into_view_if_needed()
    wait_until_idle(page)
    page.get_by_text(chart_title(r"dropout: after epoch 300")).first.wait_for(timeout=15_000)  # the newest picture
    page.screenshot(path=ARTIFACTS / "optimisation-overfitting.png")
    page.close()


def test_the_augmentation_section_trains_both_networks_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?augment.epochs=30&augment.speed=full+speed", 3600)
    press_train(page, "optimisation/augmentation", 1)
    page.get_by_text(re.compile(r"Finished 30 epochs")).first.wait_for(timeout=120_000)
    wait_for_charts(
        page, ["optimisation-augment-loss", "optimisation-augment-accuracy", "optimisation-augment-examples"]
    )
    page.get_by_text(re.compile(r"\*?as they are\*?: training loss")).first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-optimisation-augment-loss").scroll_into_view_if_needed()
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "optimisation-augmentation.png")
    page.close()


def test_the_batchnorm_section_trains_both_networks_and_sweeps_the_rate_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?batchnorm.epochs=12&batchnorm.speed=steady", 3600)
    wait_for_charts(page, ["optimisation-sweep"], timeout=90_000)
    press_train(page, "optimisation/batchnorm", 1)
    page.get_by_text(re.compile(r"Finished 12 epochs")).first.wait_for(timeout=120_000)
    wait_for_charts(page, ["optimisation-bn-loss", "optimisation-bn-accuracy", "optimisation-bn-spread"])
    page.get_by_text(re.compile(r"After epoch 1 the normalised network scored")).first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-optimisation-bn-loss").scroll_into_view_if_needed()
    wait_until_idle(page)
    page.get_by_text(chart_title(r"What each layer's relu receives, after epoch 12")).first.wait_for(timeout=15_000)
    page.screenshot(path=ARTIFACTS / "optimisation-batchnorm.png")
    page.locator(".st-key-optimisation-sweep").scroll_into_view_if_needed()
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "optimisation-batchnorm-sweep.png")
    page.close()


def test_the_hyperparameter_search_shows_its_trials_as_they_finish_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/optimisation?search.trial_epochs=5", 3600)
    press_train(page, "optimisation/search", 1)
    wait_for_charts(page, ["optimisation-search-rate", "optimisation-search-hparams"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 32 trials")).first.wait_for(timeout=240_000)
    page.get_by_text(re.compile(r"In the same number of trials the grid has tried")).first.wait_for(timeout=30_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-optimisation-search-rate").scroll_into_view_if_needed()
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "optimisation-search.png")
    page.locator("[data-testid=stExpander]").last.scroll_into_view_if_needed()
    wait_until_idle(page)
    page.screenshot(path=ARTIFACTS / "optimisation-search-table.png")
    page.close()


def playground_state(page):
    """The output chart's title epoch and its background picture (the decision surface)."""
    title = page.get_by_text(re.compile(r"Output after epoch \d+")).first.text_content()
    picture = page.locator(".st-key-surface image").first.get_attribute("href")
    return int(re.search(r"epoch\s*(\d+)", title).group(1)), picture


def test_the_playground_decision_surface_changes_as_it_trains(browser, app_url):
    page = open_page(browser, f"{app_url}/perceptron?epochs=2000&data=three+arms&show_test=1", height=5600)
    page.get_by_role("heading", name="The playground").wait_for(timeout=30_000)
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Output after epoch \d+")).first.wait_for(timeout=60_000)
    seen = [playground_state(page)]
    deadline = time.monotonic() + 30
    while len({picture for _, picture in seen}) < 3 and time.monotonic() < deadline:
        time.sleep(0.4)
        seen.append(playground_state(page))
    epochs = [epoch for epoch, _ in seen]
    assert len({picture for _, picture in seen}) >= 3 and epochs == sorted(epochs), epochs
    assert page.locator(".st-key-network image").count() >= 2 + 16 * 3 + 3  # a picture per feature and neuron
    wait_for_charts(page, ["network", "surface", "loss"], timeout=10_000)  # between two redraws, not during one
    page.screenshot(path=ARTIFACTS / "playground-training.png", full_page=True)
    page.get_by_text(re.compile(r"Finished 2000 epochs")).wait_for(timeout=60_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "playground-finished.png", full_page=True)
    page.close()


def test_bad_uploads_get_a_message_and_a_good_one_trains(browser, app_url, tmp_path):
    page = open_page(browser, f"{app_url}/perceptron", height=5600)
    page.get_by_text("Your own data").click()
    chooser = page.locator(".st-key-perceptron-upload-file input[type=file]")
    bad = {
        "empty.csv": b"",
        "words.csv": b"x1,x2,label\n" + b"1,two,0\n" * 20,
        "one.csv": b"x1,x2,label\n" + b"1,2,0\n" * 20,
        "picture.png": bytes(range(256)) * 8,
    }
    messages = {
        "empty.csv": "The file is empty",
        "words.csv": "x2 is 'two', which is not a number",
        "one.csv": "a classifier needs at least 2 classes",
        "picture.png": "This is not a CSV text file",
    }
    for name, raw in bad.items():
        (tmp_path / name).write_bytes(raw)
        chooser.set_input_files(str(tmp_path / name))
        page.get_by_text(messages[name]).first.wait_for(timeout=30_000)
        assert_no_error_shown(page)
    good = tmp_path / "ring.csv"
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    rows = [f"{np.cos(a) * r:.4f},{np.sin(a) * r:.4f},{'in' if r < 2 else 'out'}" for a in angles for r in (1, 3)]
    good.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    chooser.set_input_files(str(good))
    page.get_by_text("Loaded 'ring.csv': 400 points (class in: 200, class out: 200)").wait_for(timeout=30_000)
    page.locator(".st-key-perceptron-playground-data").click()
    page.get_by_role("option", name="your CSV").click()
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Finished 1000 epochs")).wait_for(timeout=60_000)
    wait_until_idle(page)
    assert "class in" in page.locator(".st-key-surface").first.text_content()
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "playground-own-data.png", full_page=True)
    page.close()


def test_initialisation_races_the_course_schemes_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/initialisation?course_speed=full+speed&course_steps=6000", height=6000)
    page.get_by_role("heading", name="The classic experiment").wait_for(timeout=30_000)
    wait_until_idle(page)  # a click while the script still runs can be lost in the rerender
    page.get_by_role("button", name="Train").first.click()
    page.get_by_text(re.compile(r"Finished 6000 epochs")).wait_for(timeout=90_000)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.get_by_text(re.compile(r"zeros: each hidden layer \(10, 5 units\) holds a single distinct unit")).wait_for(
        timeout=10_000
    )
    charts = (
        "course-loss",
        "course-accuracy",
        "course-surfaces",
        "course-std",
        "course-norm",
        "course-activations",
        "course-gradients",
    )
    wait_for_charts(page, charts, timeout=20_000)
    assert page.locator(".st-key-course-surfaces .heatmaplayer image, .st-key-course-surfaces .hm image").count() >= 3
    page.screenshot(path=ARTIFACTS / "initialisation-course.png", full_page=True)
    page.close()


def test_vanishing_gradients_trains_both_sections_in_the_browser(browser, app_url):
    page = open_page(
        browser,
        f"{app_url}/vanishing_gradients?epochs=60&speed=full+speed&time_epochs=10&time_speed=full+speed",
        height=7000,
    )
    page.get_by_role("heading", name="Through depth").wait_for(timeout=30_000)
    press_train(page, "vanishing_gradients/depth", 1)
    page.get_by_text(re.compile(r"Finished 60 epochs")).wait_for(timeout=180_000)  # 37 s alone; more in the full suite
    press_train(page, "vanishing_gradients/time", 2)
    page.get_by_text(re.compile(r"Finished 10 epochs")).wait_for(timeout=180_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.get_by_text(re.compile(r"After epoch 60 layer 1 gets")).wait_for(timeout=10_000)
    page.get_by_text(re.compile(r"LSTM: at the start the marked input, 20 steps back")).wait_for(timeout=10_000)
    charts = (
        "depth-norm",
        "depth-history",
        "depth-loss",
        "depth-accuracy",
        "why-derivatives",
        "why-products",
        "time-gradients",
        "time-loss",
        "time-accuracy",
    )
    wait_for_charts(page, charts, timeout=20_000)
    page.screenshot(path=ARTIFACTS / "vanishing-gradients.png", full_page=True)
    page.close()


def test_cnn_lesson_trains_and_looks_inside_in_the_browser(browser, app_url, tmp_path):
    from PIL import Image, ImageDraw

    from tests.helpers import png_bytes

    page = open_page(
        browser, f"{app_url}/cnn_filters?dataset=digits+%288%C3%978%29&epochs=4&speed=full+speed", height=9000
    )
    page.get_by_role("heading", name="Convolution by hand").wait_for(timeout=30_000)
    wait_until_idle(page)
    page.wait_for_function("() => document.querySelector('.st-key-hand-output .js-plotly-plot')", timeout=20_000)
    page.screenshot(path=ARTIFACTS / "cnn-by-hand.png", full_page=True)
    page.get_by_role("button", name="Train", exact=True).click()  # not the help of "Training images"
    page.get_by_text(re.compile(r"Finished 4 epochs")).wait_for(timeout=120_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    page.get_by_text(re.compile(r"After epoch 4: \d+\.\d% of the held-out test images")).wait_for(timeout=10_000)
    page.get_by_text(re.compile(r"The network after epoch 4:")).wait_for(timeout=30_000)
    charts = (
        "train-loss",
        "train-accuracy",
        "train-filters0",
        "train-filters",
        "train-maps-conv1",
        "train-maps-pool2",
        "inspect-confusion",
        "inspect-per_class",
        "inspect-saliency",
    )
    wait_for_charts(page, charts, timeout=30_000)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "cnn-trained.png", full_page=True)

    chooser = page.locator(".st-key-cnn_filters-upload input[type=file]")
    bad = {
        "notes.png": b"these are my notes, not a picture\n" * 20,
        "empty.png": b"",
        "huge.png": png_bytes(20000, 20000),
    }
    messages = {
        "notes.png": "This file is not a picture that can be read",
        "empty.png": "The file is empty",
        "huge.png": "The picture is too large to open safely here",
    }
    for name, raw in bad.items():
        (tmp_path / name).write_bytes(raw)
        chooser.set_input_files(str(tmp_path / name))
        page.get_by_text(messages[name]).first.wait_for(timeout=30_000)
        assert_no_error_shown(page)
    drawing = Image.new("L", (200, 200), 255)  # a dark 7 on white paper, as a student would draw it
    ImageDraw.Draw(drawing).line([(50, 40), (150, 40), (90, 170)], fill=0, width=18)
    drawing.save(tmp_path / "seven.png")
    chooser.set_input_files(str(tmp_path / "seven.png"))
    page.get_by_text("Its background is light, so it was inverted").wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"The network says: \d \(\d+%\)")).first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('.st-key-inspect-upload_maps .js-plotly-plot')", timeout=30_000
    )
    page.mouse.move(5, 5)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "cnn-upload.png", full_page=True)
    page.close()


def test_lstm_lesson_trains_and_opens_the_gates_in_the_browser(browser, app_url):
    page = open_page(
        browser, f"{app_url}/lstm_gates?epochs=4&speed=full+speed&time_epochs=3&time_speed=full+speed", height=9000
    )
    page.get_by_role("heading", name="The cell, explained").wait_for(timeout=30_000)
    wait_until_idle(page)
    press_train(page, "lstm_gates/train", 1)
    page.get_by_text(re.compile(r"Finished 4 epochs")).wait_for(timeout=120_000)
    press_train(page, "lstm_gates/compare", 2)
    page.get_by_text(re.compile(r"Finished 3 epochs")).wait_for(timeout=120_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    box = page.locator(".st-key-lstm_gates-text-names input")
    box.fill(".anna.bob.")
    box.press("Enter")
    page.get_by_text(re.compile(r"Unit \d+ at step 9 \(reading '\.'\)")).wait_for(timeout=30_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    charts = (
        "train-loss",
        "train-accuracy",
        "inspect-cell",
        "inspect-heatmaps",
        "inspect-trace",
        "inspect-finder",
        "sample-distribution",
        "time-gradients",
        "time-accuracy",
    )
    wait_for_charts(page, charts, timeout=30_000)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "lstm-gates.png", full_page=True)
    page.close()


def test_attention_lesson_draws_its_maps_in_the_browser(browser, app_url):
    page = open_page(
        browser,
        f"{app_url}/attention?epochs=8&speed=full+speed&toy_epochs=10&toy_speed=full+speed&compare_epochs=3",
        height=9000,
    )
    page.get_by_role("heading", name="Reading dates with attention").wait_for(timeout=30_000)
    wait_until_idle(page)
    for index, (run, epochs) in enumerate(
        (("attention/dates", 8), ("attention/transformer", 10), ("attention/compare", 3)), start=1
    ):
        press_train(page, run, index)
        page.get_by_text(re.compile(rf"Finished {epochs} epochs")).wait_for(timeout=180_000)
        page.mouse.move(5, 5)
        wait_until_idle(page)
    box = page.locator(".st-key-attention-your_date input")
    box.fill("25th of june 2009")
    box.press("Enter")
    page.get_by_text(re.compile(r"The model \(after epoch 8\) reads “25th of june 2009” as")).wait_for(timeout=30_000)
    answer = re.search(r"reads “25th of june 2009” as (\d{4}-\d\d-\d\d)", page.inner_text("body")).group(1)
    page.get_by_text(f"Where it looked to write {answer}").wait_for(timeout=30_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    charts = (
        "dates-accuracy",
        "dates-loss",
        "dates-map",
        "dates-yours",
        "toy-accuracy",
        "toy-heads",
        "toy-steps",
        "compare-curves",
        "compare-lengths",
    )
    wait_for_charts(page, charts, timeout=30_000)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "attention.png", full_page=True)
    page.close()


def test_word_vectors_lesson_draws_every_picture_and_answers_odd_words(browser, app_url):
    page = open_page(browser, f"{app_url}/word_vectors", height=9000)
    page.get_by_role("heading", name="Remove it, step by step").wait_for(timeout=60_000)
    wait_until_idle(page)
    charts = (
        "words-neighbours",
        "words-analogy",
        "words-projection",
        "direction-variance",
        "direction-she",
        "direction-he",
        "bias-professions",
        "bias-typed",
        "bias-weat",
        "remove-neutralise",
        "remove-equalise",
        "remove-professions",
        "remove-specific",
    )
    wait_for_charts(page, charts, timeout=60_000)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "word-vectors.png", full_page=True)
    box = page.locator(".st-key-word_vectors-neighbours input")
    box.fill("Frogg")
    box.press("Enter")
    page.get_by_text(re.compile(r"GloVe has no vector for 'frogg'\. Did you mean 'frog'")).wait_for(timeout=30_000)
    words = page.locator(".st-key-word_vectors-projection_words textarea")
    words.fill(" ".join(["nurse", "!!!", "", "Doctor"] * 250) + " qqqzzz")
    words.press("Control+Enter")
    page.get_by_text("GloVe has no vector for 'qqqzzz'.").wait_for(timeout=30_000)
    page.get_by_text("3 words on two directions").wait_for(timeout=30_000)  # "!!!" is a GloVe word
    page.mouse.move(5, 5)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "word-vectors-odd-input.png", full_page=True)
    page.close()


def test_gan_lesson_trains_both_gans_and_walks_the_latent_space(browser, app_url):
    page = open_page(
        browser, f"{app_url}/gan?iterations=1500&speed=full+speed&image_epochs=5&image_speed=full+speed", height=7000
    )
    page.get_by_role("heading", name="A 2D GAN, opened up").wait_for(timeout=30_000)
    for index, (run, finished) in enumerate(
        (("gan/2d", r"Finished 1500 iterations"), ("gan/images", r"Finished 5 epochs")), start=1
    ):
        press_train(page, run, index)
        page.get_by_text(re.compile(finished)).wait_for(timeout=180_000)
        page.mouse.move(5, 5)
        wait_until_idle(page)
    wait_for_charts(
        page,
        (
            "duel-plane",
            "duel-losses",
            "duel-outputs",
            "duel-coverage",
            "images-samples",
            "images-real",
            "images-losses",
            "images-outputs",
            "walk-interpolation",
        ),
    )
    assert re.search(r"covers \d of 8 modes", page.inner_text("body"))
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "gan.png", full_page=True)
    page.close()


def test_gan_lesson_answers_bad_point_files_and_trains_on_a_good_one(browser, app_url, tmp_path):
    page = open_page(browser, f"{app_url}/gan?target=your+CSV&iterations=300&speed=full+speed", height=4000)
    chooser = page.locator(".st-key-gan-csv input[type=file]")
    chooser.wait_for(state="attached", timeout=30_000)
    bad = {
        "three.csv": (b"x,y,z\n" + b"1,2,3\n" * 60, "it needs exactly 2"),
        "words.csv": (b"x,y\n" + b"1,2\n" * 30 + b"1,two\n" + b"1,2\n" * 30, "Line 32: '1, two' is not two numbers"),
        "few.csv": (b"x,y\n1,2\n3,4\n", "a GAN needs at least 50"),
        "many.csv": (b"x,y\n" + b"1,2\n" * 6000, "the lesson takes at most 5,000"),
    }
    for name, (raw, message) in bad.items():
        (tmp_path / name).write_bytes(raw)
        chooser.set_input_files(str(tmp_path / name))
        page.get_by_text(message).first.wait_for(timeout=30_000)
        assert_no_error_shown(page)
    from core.lessons.gan.gan2d import example_csv

    (tmp_path / "heart.csv").write_bytes(example_csv())
    chooser.set_input_files(str(tmp_path / "heart.csv"))
    page.get_by_text("600 points from 'heart.csv', scaled into ±2.").wait_for(timeout=30_000)
    press_train(page, "gan/2d", 1)
    page.get_by_text(re.compile(r"Finished 300 iterations")).wait_for(timeout=120_000)
    page.mouse.move(5, 5)
    wait_until_idle(page)
    wait_for_charts(page, ("duel-plane", "duel-coverage"))
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "gan-your-points.png", full_page=True)
    page.close()


EVIL_LINK = "**[Log in again](http://evil.example/login)** ![t](http://evil.example/track.png) <img src=http://evil.example/x.png>"


def shown_text(locator) -> str:
    """The text as a reader sees it (without the invisible word joiners that keep bare links text)."""
    return locator.text_content().replace(WORD_JOINER, "")


def assert_nothing_from_evil(page):
    assert page.locator("a[href*='evil.example'], img[src*='evil.example'], image[href*='evil.example']").count() == 0


def test_a_crafted_link_value_is_shown_as_literal_text(browser, app_url):
    from urllib.parse import quote

    page = open_page(browser, f"{app_url}/perceptron?data={quote(EVIL_LINK)}", height=1600)
    warning = page.get_by_text("This link asked for something the lesson can't do").first
    warning.wait_for(timeout=30_000)
    assert "**[Log in again](http://evil.example/login)**" in shown_text(warning)
    assert_nothing_from_evil(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "hostile-link.png")
    page.close()


def test_hostile_csv_labels_and_file_names_show_literally_on_the_page_and_in_charts(browser, app_url, tmp_path):
    page = open_page(browser, f"{app_url}/perceptron", height=5600)
    page.get_by_text("Your own data").click()
    chooser = page.locator(".st-key-perceptron-upload-file input[type=file]")
    labels = ("<a href='http://evil.example/'>click</a>", "**bold** :red[x]")
    rows = [f'{i % 7 - 3},{i % 5 - 2},"{labels[i % 2]}"' for i in range(60)]
    hostile = tmp_path / "![t](http:evil.example).csv"
    hostile.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    chooser.set_input_files(str(hostile))
    loaded = page.get_by_text(re.compile(r"Loaded '!\[t\]")).first
    loaded.wait_for(timeout=30_000)
    assert "class **bold** :red[x]: 30" in shown_text(loaded)
    assert "class <a href='http://evil.example/'>click</a>: 30" in shown_text(loaded)
    page.locator(".st-key-perceptron-playground-data").click()
    page.get_by_role("option", name="your CSV").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Finished 1000 epochs")).wait_for(timeout=60_000)
    wait_until_idle(page)
    legend = page.locator(".st-key-surface .legendtext").all_text_contents()
    assert "class <a href='http://evil.example/'>click</a>" in legend and "class **bold** :red[x]" in legend
    assert_nothing_from_evil(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "hostile-labels.png", full_page=True)
    page.close()


def slider_value(page, key: str) -> str:
    return page.locator(f".st-key-{key} [aria-valuetext]").first.get_attribute("aria-valuetext")


def test_a_second_student_opening_a_shared_run_leaves_its_live_values_alone(browser, app_url):
    """A trains at learning rate 0.003; B opens A's link with the default controls (0.03). Before the fix B's
    page pushed 0.03 into A's run. Now B's page shows the run's 0.003, and A's run and page keep it."""
    a = open_page(browser, f"{app_url}/engine_room?learning_rate=0.003&epochs=3000&seed=4243", height=1400)
    press_train(a, "engine_room", 1)
    run_id = re.search(r"job=([0-9a-f]+)", a.url).group(1)
    b = open_page(browser, f"{app_url}/engine_room?job={run_id}", height=1400)
    b.wait_for_function(
        "() => new URL(location.href).searchParams.get('check.learning_rate') === '0.003'", timeout=30_000
    )
    wait_until_idle(b)
    assert slider_value(b, "engine_room-check-learning_rate") == "0.003"
    epochs = b.locator(".st-key-engine_room-check-epochs input").input_value()
    assert epochs == "3000"  # the run's settings, not B's defaults
    assert b.get_by_text("You changed settings that define the run").count() == 0
    time.sleep(2)  # both pages poll the run meanwhile
    a.reload()
    a.wait_for_selector("h1", timeout=30_000)
    wait_until_idle(a)
    assert slider_value(a, "engine_room-check-learning_rate") == "0.003" and "check.learning_rate=0.003" in a.url
    assert_no_error_shown(b)
    b.screenshot(path=ARTIFACTS / "shared-run-second-student.png")
    a.close()
    b.close()


def test_word2vec_learns_beside_gensim_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/word2vec?word2vec.epochs=8&word2vec.speed=full+speed", 3900)
    wait_for_charts(page, ["word2vec-negatives"])
    first = explore.read_sentence(explore.first_sentences()[0], corpus.lee_corpus())
    pairs = explore.centre_pairs(first, 0, 2)  # the first sentence's first word, window 2: what the page opens with
    page.get_by_text(f"{len(pairs)} pairs").first.wait_for(timeout=30_000)
    press_train(page, "word2vec", 1)
    wait_for_charts(
        page,
        ["word2vec-wordsim", "word2vec-analogy_top_10", "word2vec-map-0", "word2vec-map-1", "word2vec-weights"],
        timeout=90_000,
    )
    page.get_by_text(re.compile(r"Finished 8 ")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"GloVe, learned from 6 billion words, scores ρ = 0.45")).first.wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"of the 8 nearest words are the same")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)  # no tooltip left over the controls
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "word2vec.png", full_page=True)
    page.close()


def test_sentiment_readers_take_a_sentence_apart_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/word2vec?sentiment.epochs=2&sentiment.speed=full+speed", 4200)
    press_train(page, "word2vec/sentiment", 1)
    wait_for_charts(
        page,
        [
            "word2vec-sentiment_accuracy",
            "word2vec-sentiment_words-0",
            "word2vec-sentiment_words-1",
            "word2vec-sentiment_words-2",
        ],
        timeout=90_000,
    )
    page.get_by_text(re.compile(r"Finished 2 epochs")).first.wait_for(timeout=120_000)
    finding = page.get_by_text(re.compile(r"A bag of words cannot see order")).first
    try:
        finding.wait_for(timeout=90_000)  # computed once the run ends: slow on a busy server
    finally:
        assert_no_error_shown(page)  # a white page says why
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-word2vec-sentiment_accuracy").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "word2vec-sentiment.png", full_page=True)
    page.close()


def test_emojify_answers_a_sentence_and_bridges_unseen_words_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/word2vec?emojify.epochs=40&emojify.speed=full+speed", 5200)
    press_train(page, "word2vec/emojify", 1)
    wait_for_charts(
        page,
        [
            "word2vec-emojify_accuracy",
            "word2vec-emojify_answer-0",
            "word2vec-emojify_answer-1",
            "word2vec-emojify_confusion-0",
            "word2vec-emojify_confusion-1",
        ],
        timeout=90_000,
    )
    page.get_by_text(re.compile(r"Finished 40 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"never appears in training, but its GloVe vector is close to")).first.wait_for(
        timeout=30_000
    )
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "word2vec-emojify.png", full_page=True)
    page.close()


def test_the_translator_learns_french_and_decodes_by_beam_search_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/sequence_models?translation.epochs=6&translation.speed=full+speed", 4200)
    press_train(page, "sequence_models/translation", 1)
    wait_for_charts(page, ["translation-accuracy", "translation-loss", "translation-map"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 6 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"on sentences whose number it never saw")).first.wait_for(timeout=30_000)
    wait_for_charts(page, ["sequence_models-your_map"], timeout=60_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "sequence-models.png", full_page=True)
    page.close()


def test_the_text_generator_writes_better_epoch_by_epoch_in_the_browser(browser, app_url):
    page = open_page(
        browser, f"{app_url}/sequence_models?generation.epochs=4&generation.units=64&generation.speed=full+speed", 5200
    )
    press_train(page, "sequence_models/generation", 1)
    wait_for_charts(page, ["generation-perplexity"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 4 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Words spelled as in the text")).first.wait_for(timeout=30_000)
    wait_for_charts(page, ["sequence_models-choice"], timeout=60_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-generation-perplexity").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "sequence-models-generation.png", full_page=True)
    page.close()


def test_the_trigger_detector_hears_held_out_clips_and_an_uploaded_wav_in_the_browser(browser, app_url, tmp_path):
    from scipy.io import wavfile

    from core.lessons.sequence_models import trigger

    clip = trigger.make_clip(np.random.default_rng(11), trigger.word_bank())
    upload = tmp_path / "my clip.wav"
    wavfile.write(upload, 16000, (np.repeat(clip.audio, 2) * 20000).astype("int16"))
    page = open_page(browser, f"{app_url}/sequence_models?trigger.epochs=6&trigger.speed=full+speed", 6400)
    press_train(page, "sequence_models/trigger", 1)
    wait_for_charts(page, ["trigger-f1", "trigger-loss", "trigger-clip"], timeout=120_000)
    page.get_by_text(re.compile(r"Finished 6 epochs")).first.wait_for(timeout=120_000)
    wait_until_idle(page)  # the page redraws once the run ends: upload into the redrawn section
    uploader = page.locator(".st-key-sequence_models-uploaded input[type=file]")
    try:
        uploader.wait_for(state="attached", timeout=60_000)
    finally:
        assert_no_error_shown(page)  # a white page says why
    uploader.set_input_files(str(upload), timeout=90_000)
    wait_for_charts(page, ["trigger-yours"], timeout=60_000)
    page.get_by_text(re.compile(r"resampled to the detector's 8,000")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-trigger-clip").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "sequence-models-trigger.png", full_page=True)
    page.close()


def test_the_residual_network_trains_where_the_plain_one_does_not_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications?residual.epochs=8&residual.speed=full+speed", 2600)
    wait_for_charts(page, ["residual-blocks"], timeout=60_000)
    press_train(page, "vision_applications/residual", 1)
    wait_for_charts(
        page,
        [
            "residual-loss",
            "residual-accuracy",
            "residual-profile",
            "residual-history-plain",
            "residual-history-residual",
        ],
        timeout=90_000,
    )
    page.get_by_text(re.compile(r"Finished 8 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"reaches it through the skip connections")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "vision-applications-residual.png", full_page=True)
    page.close()


def test_transfer_learning_and_its_sweep_train_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications?transfer.epochs=10&transfer.speed=full+speed", 4200)
    press_train(page, "vision_applications/transfer", 1)
    wait_for_charts(page, ["transfer-examples", "transfer-accuracy", "transfer-loss"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 10 epochs")).first.wait_for(timeout=120_000)
    press_train(page, "vision_applications/transfer_sweep", 2)
    wait_for_charts(page, ["transfer-sweep"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 6 label counts")).first.wait_for(timeout=180_000)
    page.get_by_text(re.compile(r"Frozen pretrained features against learning from scratch")).first.wait_for(
        timeout=30_000
    )
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "vision-applications-transfer.png", full_page=True)
    page.close()


def test_nms_and_the_grid_detector_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications?detector.epochs=8&detector.speed=full+speed", 7000)
    wait_for_charts(page, ["detection-iou", "detection-nms"], timeout=60_000)
    press_train(page, "vision_applications/detector", 1)
    wait_for_charts(page, ["detector-scores", "detector-loss", "detector-before", "detector-after"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 8 epochs")).first.wait_for(timeout=180_000)
    page.get_by_text(re.compile(r"The anchors, from the training boxes")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "vision-applications-detection.png", full_page=True)
    page.close()


def test_mtcnn_face_proposals_on_the_astronaut_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications", 7600)
    wait_for_charts(page, ["faces-proposals", "faces-map"], timeout=120_000)
    page.get_by_text(re.compile(r"P-Net \(6,632 weights\) read the 512×512 picture")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-faces-proposals").screenshot(path=ARTIFACTS / "vision-applications-faces.png")
    page.screenshot(path=ARTIFACTS / "vision-applications.png", full_page=True)
    page.close()


def test_the_triplet_embeddings_train_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications?triplet.epochs=4&triplet.speed=full+speed", 9000)
    press_train(page, "vision_applications/triplet", 1)
    wait_for_charts(
        page, ["triplet-auc", "triplet-active", "triplet-map0", "triplet-map1", "triplet-roc"], timeout=90_000
    )
    page.get_by_text(re.compile(r"Finished 4 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Triplets still giving a gradient")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.screenshot(path=ARTIFACTS / "vision-applications-triplet.png", full_page=True)
    page.close()


def test_style_transfer_paints_in_the_browser(browser, app_url):
    page = open_page(browser, f"{app_url}/vision_applications?style.epochs=10&style.speed=full+speed", 10400)
    press_train(page, "vision_applications/style", 1)
    wait_for_charts(page, ["style-pictures", "style-losses"], timeout=90_000)
    page.get_by_text(re.compile(r"Finished 10 epochs")).first.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"After 100 steps: style loss")).first.wait_for(timeout=30_000)
    wait_for_charts(page, ["style-fast"], timeout=60_000)
    page.get_by_text(re.compile(r"The fast network took")).first.wait_for(timeout=30_000)
    page.mouse.move(0, 0)
    wait_until_idle(page)
    assert_no_error_shown(page)
    page.locator(".st-key-style-pictures").screenshot(path=ARTIFACTS / "vision-applications-style.png")
    page.locator(".st-key-style-fast").screenshot(path=ARTIFACTS / "vision-applications-fast-style.png")
    page.close()


def _live_picture(figure) -> dict:
    """A figure as the live chart receives it (styled, long arrays in single precision)."""
    from core.ui.figures import FigureCache

    return json.loads(FigureCache().styled("chart", 1, lambda: figure, False).json)["figure"]


def test_the_canvas_draws_only_what_it_draws_as_plotly_would(browser):
    """Every live run chart goes to the canvas while it trains where `canvasDrawable` allows: curves with their
    levels as traces, wherever the legend is; anything whose axes or traces the canvas would draw otherwise
    than plotly.js (a reference line, formatted or reversed axes, a hidden trace, steps) stays with plotly.js."""
    import plotly.graph_objects as go

    from core.charts.gan import coverage_curve, d_outputs, loss_curves
    from core.charts.sequences import loss_against_guessing
    from core.charts.training import metric_curves

    history = [
        {"epoch": e, "loss": 1 / e, "val_loss": 1.2 / e, "d_loss": 1.3, "g_loss": 0.8, "d_real": 0.6, "d_fake": 0.4}
        for e in range(1, 80)
    ]
    page = browser.new_page()
    page.add_script_tag(content=(Path(__file__).parents[1] / "core" / "ui" / "livecanvas.js").read_text())
    drawable = lambda figure: page.evaluate("figure => canvasDrawable(figure)", _live_picture(figure))  # noqa: E731
    curves = metric_curves(history, ("loss", "val_loss"), "Loss")
    assert drawable(curves)
    assert drawable(loss_curves(history, "Losses", "iteration", 5))  # its legend below the plot
    assert drawable(d_outputs(history, "D", "iteration", 5))
    assert not drawable(loss_against_guessing(history, 3.3, "Loss per character"))  # a reference line and its label
    assert not drawable(coverage_curve([(1, 2, 0.5), (2, 3, 0.6)], 8, "Coverage"))  # a second y axis, steps
    for styled in ({"yaxis_tickformat": ".0%"}, {"yaxis_autorange": "reversed"}, {"xaxis_dtick": 1}):
        assert not drawable(go.Figure(curves).update_layout(**styled)), styled
    assert not drawable(go.Figure(curves).update_traces(visible="legendonly", selector={"name": "val_loss"}))
    labels = page.evaluate(
        "() => { const ticks = [0, 0.25, 0.5, 0.75, 1]; return ticks.map(t => tickText(t, ticks)); }"
    )
    assert labels == ["0", "0.25", "0.5", "0.75", "1"]  # none read the same
    steps = page.evaluate("() => [niceTicks(0, 1, 4), niceTicks(0, 3000, 5), niceTicks(0.57, 1.5, 5.75)]")
    assert [ticks[1] - ticks[0] for ticks in steps] == [0.5, 1000, pytest.approx(0.2)]  # plotly's: 2, 5, 10 × 10ⁿ
    narrow_log = page.evaluate("() => new Axis({}, [2.27, 2.35], true, 0.06).ticks(200, 40).map(([, text]) => text)")
    assert narrow_log == ["2.28", "2.3", "2.32", "2.34"]  # within a decade: plotly's even steps
    page.close()
