"""A class on one server (`python -m bench.run classroom`): a Streamlit server on 127.0.0.1 and N
students at once.

Students are websocket-level clients. Each speaks Streamlit's own protocol: the protobuf BackMsg and
ForwardMsg over `/_stcore/stream`. Like a browser tab, a student:
- opens a page with a link (`page_name` and query string);
- reruns each fragment on the timer the server asks for, so the live panel polls as in a browser;
- presses buttons by sending their trigger.
A student does not draw anything, so the server's work per student is a browser's, with none of
Chromium's cost on the same two cores. Two headless Chromium pages join the class besides, and their
time until the page's Train button shows is reported apart. They open after the run's speed with the class
watching is measured (the run still training, the class still polling): in a class, browsers run on the
students' machines, not on the server's two cores.

Scenario A, one class run: the teacher opens the engine room and presses Train, then N − 1 students open the
same link within 5 s, each press Train (they join the teacher's run) and all watch. The run's speed is then
measured in turns: a few seconds with nobody polling (every page still open), a few with the whole class polling.

Scenario B, queueing: the teacher opens the lesson (to project it), then N students open the page within 5 s
and each presses Train on a seed of their own.

In both, the teacher's page is the server's first, and it is reported apart from the class's page loads.

Scenario C, a class arriving at a server nobody has opened: the server starts, COLD_ARRIVAL_AFTER_S later (the
teacher started it before the lesson) N students open the page within 5 s. Started as `make run` starts it
(app.py, which imports what every page needs at the server's start) and, to compare, by Home.py alone (the first
page imports it while the class waits).

Reported, beside the issue's targets:
- a page's load: the websocket opened until the first full run of the page ends (the server's first page apart);
- a click's answer: the trigger sent until the rerun it causes ends;
- a fragment poll's answer;
- the run's epochs/s alone and with the class watching, in turns, read from the progress text the pages receive;
- the server's CPU and RSS, its worker processes' included (with `EDL_TRAIN_IN_PROCESSES=1`), their unique
  memory (USS: RSS counts the libraries they share once per process) and their proportional memory (PSS: each
  shared page divided among the processes that map it, so the sum is what they take of the machine together);
- errors: exceptions or error alerts on a page, and dropped connections.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.parse

import psutil

from bench.sampling import PeriodicSampler
from tests.appserver import APP_ENTRY, CHROMIUM, CHROMIUM_ARGS, Student, free_port, run_apart, start_app

PAGE = "engine_room"
RUN = "engine_room"
EPOCHS, BATCH = 5000, 8
"""A long run of the engine room, in its smallest batches: still training when the class has watched a while."""
PHASE_S, PHASES = 3.0, 3
"""The run's speed alone and watched is measured in turns, PHASES of each, PHASE_S seconds long: this machine's
own speed drifts by a fifth over a minute (the same run alone: 55–113 epochs/s), more than the class costs, so
one stretch alone before the class and one after would measure the drift. Short enough that a run at full speed
(about 100 epochs/s) is still training when the browsers have opened the page and the teacher pauses it."""
SETTLE_S = 0.5
"""After the class starts polling again, before its speed counts: the first polls come together."""
QUEUE_WATCH_S = 5.0
"""How long the queueing class watches its runs after the last student pressed Train."""
ARRIVAL_S = 5.0
COLD_ARRIVAL_AFTER_S = 10.0
"""Scenario C: the class arrives this long after the server started (its warm-up takes about 3 s on 2 cores)."""
TARGETS = {
    "page_load_p95_s": 3.0,
    "click_answer_p95_s": 1.0,
    "speed_with_class_vs_alone": 0.8,
    "server_rss_mb": 1024,
}


async def _speeds_in_turns(teacher: Student, everyone: list[Student]):
    """The run's (epochs, seconds) in PHASES turns of nobody polling and of the whole class polling."""
    alone, watched = [], []

    def let_poll(polling: bool) -> None:
        for student in everyone:
            student.polling = polling

    def between(start: tuple[int, float], end: tuple[int, float]) -> tuple[int, float]:
        return end[0] - start[0], end[1] - start[1]

    for _ in range(PHASES):
        let_poll(False)
        start = await teacher.progress_now()  # one poll in three seconds: nothing to the run
        await asyncio.sleep(PHASE_S)
        alone.append(between(start, await teacher.progress_now()))
        let_poll(True)
        await asyncio.sleep(SETTLE_S)
        start = teacher.progress[-1]
        await asyncio.sleep(PHASE_S)
        watched.append(between(start, teacher.progress[-1]))
    return alone, watched


def pooled(turns: list[tuple[int, float]]) -> float:
    """Epochs per second over all the turns together."""
    return sum(e for e, _ in turns) / max(1e-9, sum(s for _, s in turns))


def quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max_s": round(ordered[-1], 3),
    }


class ServerMonitor(PeriodicSampler):
    """The server's CPU (% of one core) and RSS, with its worker processes if it trains in them, sampled every
    0.25 s in a thread; and the CPU of the students themselves (this process), which share the machine's cores
    with the server here, unlike a class whose browsers run on their own machines."""

    def __init__(self, pid: int):
        super().__init__(pid, 0.25)
        self.clients = psutil.Process()
        self.samples: list[tuple[float, float, float]] = []
        self.client_cpu: list[float] = []
        self.machine_cpu: list[float] = []
        self.workers: dict[int, psutil.Process] = {}
        self.uss: list[float] = []
        self.pss: list[float] = []
        for counter in (self.process.cpu_percent, self.clients.cpu_percent, psutil.cpu_percent):
            counter()  # each counts from here

    def sample(self):
        for child in self.process.children(recursive=True):
            if child.pid not in self.workers:
                self.workers[child.pid] = child
                child.cpu_percent()
        workers = [w for w in self.workers.values() if w.is_running()]
        try:
            worker_cpu = sum(w.cpu_percent() for w in workers)
            worker_rss = sum(w.memory_info().rss for w in workers) / 2**20
            worker_full = [w.memory_full_info() for w in workers]
        except psutil.NoSuchProcess:
            return
        server_rss = self.process.memory_info().rss / 2**20
        server_full = self.process.memory_full_info()
        self.uss.append(sum(m.uss for m in [server_full, *worker_full]) / 2**20)
        self.pss.append(sum(m.pss for m in [server_full, *worker_full]) / 2**20)
        self.samples.append((self.process.cpu_percent() + worker_cpu, server_rss + worker_rss, server_rss))
        self.client_cpu.append(self.clients.cpu_percent())
        self.machine_cpu.append(psutil.cpu_percent() * psutil.cpu_count())

    def summary(self) -> dict:
        cpu = [c for c, _, _ in self.samples]
        return {
            "cpu_percent_of_one_core_median": round(statistics.median(cpu), 1) if cpu else None,
            "rss_mb_peak": round(max(r for _, r, _ in self.samples), 1) if self.samples else None,
            "server_process_rss_mb_peak": round(max(r for _, _, r in self.samples), 1) if self.samples else None,
            "uss_mb_peak": round(max(self.uss), 1) if self.uss else None,
            "pss_mb_peak": round(max(self.pss), 1) if self.pss else None,
            "worker_processes": len(self.workers),
            "students_cpu_percent_of_one_core_median": (
                round(statistics.median(self.client_cpu), 1) if self.client_cpu else None
            ),
            "machine_cpu_percent_of_one_core_median": (
                round(statistics.median(self.machine_cpu), 1) if self.machine_cpu else None
            ),
        }


def _link(seed: int) -> dict[str, str]:
    return {"check.epochs": str(EPOCHS), "check.batch_size": str(BATCH), "check.seed": str(seed)}


async def _arrive(students: list[Student], press: bool, loads: list, clicks: list) -> None:
    """Students open the page (and press Train) at evenly spread moments within ARRIVAL_S."""

    async def one(index: int, student: Student):
        await asyncio.sleep(ARRIVAL_S * index / max(1, len(students)))
        loads.append(await student.open())
        if press:
            clicks.append(await student.press(f"{RUN}:train"))
        student.watch()

    await asyncio.gather(*(one(i, s) for i, s in enumerate(students)))


async def class_run(port: int, students: int) -> dict:
    """Scenario A: the teacher's run, trained alone, then watched by the whole class."""
    teacher = Student(port, PAGE, _link(4242))
    first_page = await teacher.open()
    teacher_click = await teacher.press(f"{RUN}:train")
    while not teacher.progress:  # past compiling: the first epochs are done
        await asyncio.sleep(0.5)
        await teacher.poll_once()
    class_ = [Student(port, PAGE, _link(4242)) for _ in range(students - 1)]
    everyone = [teacher, *class_]
    loads, clicks = [], [teacher_click]
    await _arrive(class_, True, loads, clicks)
    teacher.watch()
    alone, watched = await _speeds_in_turns(teacher, everyone)
    browser_loads = await asyncio.to_thread(chromium_page_loads, port)  # the run still training, the class watching
    pauses = []
    for _ in range(3):  # the teacher's own buttons while the class watches
        pauses.append(await teacher.press(f"{RUN}:pause"))
        await asyncio.sleep(0.5)
        pauses.append(await teacher.press(f"{RUN}:resume"))
        await asyncio.sleep(0.5)
    for student in everyone:
        await student.close()
    return {
        "students": students,
        "server_first_page_load_s": round(first_page, 2),
        "page_load": quantiles(loads),
        "chromium_page_load_s": browser_loads,
        "train_click_answer": quantiles(clicks),
        "teacher_pause_resume_answer": quantiles(pauses),
        "poll_answer": quantiles([p for s in everyone for p in s.poll_answers]),
        "epochs_per_s_alone": round(pooled(alone), 1),
        "epochs_per_s_with_class": round(pooled(watched), 1),
        "speed_with_class_vs_alone": round(pooled(watched) / pooled(alone), 3),
        "epochs_per_s_by_turn": {
            "alone": [round(e / s, 1) for e, s in alone],
            "with_class": [round(e / s, 1) for e, s in watched],
        },
        "errors": sorted({e for s in everyone for e in s.errors})[:10],
    }


async def queueing(port: int, students: int) -> dict:
    """Scenario B: the teacher opens the lesson, then every student trains a seed of their own."""
    teacher = Student(port, PAGE, _link(4242))
    first_page = await teacher.open()
    class_ = [Student(port, PAGE, _link(5000 + i)) for i in range(students)]
    loads, clicks = [], []
    await _arrive(class_, True, loads, clicks)
    await asyncio.sleep(QUEUE_WATCH_S)
    for student in [teacher, *class_]:
        await student.close()
    return {
        "students": students,
        "server_first_page_load_s": round(first_page, 2),
        "page_load": quantiles(loads),
        "train_click_answer": quantiles(clicks),
        "poll_answer": quantiles([p for s in class_ for p in s.poll_answers]),
        "errors": sorted({e for s in class_ for e in s.errors})[:10],
    }


async def cold_arrival(port: int, students: int) -> dict:
    """Scenario C: the class opens the page of a server nobody has opened yet."""
    await asyncio.sleep(COLD_ARRIVAL_AFTER_S)
    class_ = [Student(port, PAGE, _link(4242)) for _ in range(students)]
    loads = []
    await _arrive(class_, False, loads, [])
    for student in class_:
        await student.close()
    return {
        "students": students,
        "page_load": quantiles(loads),
        "errors": sorted({e for s in class_ for e in s.errors})[:10],
    }


def chromium_page_loads(port: int, browsers: int = 2) -> list[float]:
    """Seconds until a real browser, opening the class link, shows the page with its Train button."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(browsers):
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/{PAGE}?{urllib.parse.urlencode(_link(4242))}")
            page.locator(f".st-key-{RUN}-train button").first.wait_for(timeout=60_000)
            times.append(round(time.perf_counter() - started, 2))
            page.close()
        browser.close()
    return times


WORKERS = {"EDL_TRAIN_IN_PROCESSES": "1"}


SCENARIOS = {"A": class_run, "B": queueing, "C": cold_arrival}


def scenario(name: str, students: int, env: dict[str, str] | None = None, entry: str = APP_ENTRY) -> dict:
    port = free_port()
    server = start_app(port, {"EDL_MAX_RUNNING_JOBS": "2", **(env or {})}, entry)
    try:
        with ServerMonitor(server.pid) as monitor:
            result = run_apart(SCENARIOS[name](port, students))
        return {**result, **monitor.summary()}
    finally:
        server.terminate()
        server.wait(30)


def run(browser=None, students: int = 30) -> dict:
    return {
        "setup": f"{students} students on one server (EDL_MAX_RUNNING_JOBS=2) on this machine's "
        f"{psutil.cpu_count()} cores: websocket-level clients speaking Streamlit's protocol, each polling "
        f"the live panel on the server's timer; the engine room's run of {EPOCHS} epochs in batches of {BATCH}. "
        "Scenarios A and B twice: runs training in threads of the server (as on Community Cloud), then in worker "
        "processes (EDL_TRAIN_IN_PROCESSES=1, as `make run` starts a class's server; CPU and RSS then count the "
        "workers too); "
        "scenario C both ways, started as `make run` does (app.py) and by Home.py alone",
        "targets": TARGETS,
        "A_one_class_run": scenario("A", students),
        "A_one_class_run_in_worker_processes": scenario("A", students, WORKERS),
        "B_each_their_own_seed": scenario("B", students),
        "B_each_their_own_seed_in_worker_processes": scenario("B", students, WORKERS),
        "C_arriving_at_a_fresh_server": scenario("C", students),
        "C_arriving_at_a_fresh_server_in_worker_processes": scenario("C", students, WORKERS),
        "C_arriving_at_a_fresh_server_started_by_Home_py": scenario("C", students, entry="Home.py"),
        "C_arriving_at_a_fresh_server_started_by_Home_py_in_worker_processes": scenario(
            "C", students, WORKERS, entry="Home.py"
        ),
    }
