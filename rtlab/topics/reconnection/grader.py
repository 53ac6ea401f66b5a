"""Grader of the reconnection exercise (``exercises/reconnection.py``).

It runs the learner's ``Backoff`` and ``stay_connected`` in the simulated
network under seeded fault schedules and checks three IDs by behaviour:

``missing-reconnection-logic``
    200 small scenarios (4 clients each): a server restart, a long outage,
    per-client drops (1006) and clean closes (1001), a short restart. Every
    client must come back within ``cap * 1.5 + 2`` s of the server being up,
    within 5 s of a brief drop (the backoff was reset by the last success),
    never wait longer than ``cap * 1.5 + 1`` s, and never return or raise.
``reconnect-without-jitter``
    In the herd scenarios, the delays chosen before the 1st..4th attempt
    after a restart must differ between clients: (p90 - p10) of each attempt's
    delays at least 10 % of its median.
``websocket-thundering-herd``
    3 herd scenarios (300 clients): after a restart and after a long outage,
    no 100 ms window holds more than 20 % of the clients' handshakes; during a
    90-120 s outage no client makes more than 30 attempts, and none makes 20
    within one second (a tight loop on refused connections).

The numbers are deliberately loose enough for any sound policy: full, equal
or decorrelated jitter, 0-30 % added jitter, gRPC's 1.6x with +/-20 %.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from rtlab.grading.report import Finding, Report, Status
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.plots import arrival_histogram, client_timeline, figure_to_png_base64, peak_in_window
from rtlab.sim import Latency, SimConnection, SimLoop, SimServer, SimTask
from rtlab.syllabus import reference_link

BASE, CAP = 0.5, 30.0
HERD_CLIENTS = 300
HERD_SEEDS = list(range(100, 103))
CLIENT_COUNT = 4
CLIENT_SEEDS = list(range(1000, 1200))
WINDOW = 0.1
PEAK_SHARE = 0.20
MAX_OUTAGE_ATTEMPTS = 30
TIGHT_LOOP = (5, 0.01)  # this many attempts in a row, each within this many s of a failure
MAX_ATTEMPTS_WITHOUT_SUCCESS = 100  # sound policies make ~25 in a 5-minute outage
RECOVERY_BOUND = CAP * 1.5 + 2.0
LONGEST_GAP = CAP * 1.5 + 1.0
RESET_BOUND = 5.0
MIN_SPREAD = 0.10
SCENARIO_SECONDS = 10.0

MRL = "missing-reconnection-logic"
RWJ = "reconnect-without-jitter"
HERD = "websocket-thundering-herd"
TITLES = {
    MRL: "Clients always come back, promptly",
    RWJ: "Reconnect delays are randomised",
    HERD: "No thundering herd after a restart",
}
HINTS = {
    MRL: "stay_connected must loop forever: after a refused connect or a closed connection, "
    "sleep(backoff.next_delay()) and try again. Catch OSError from connect() and "
    "websockets.exceptions.ConnectionClosed from reading. Call backoff.reset() after a "
    "successful connect, and clamp delays to cap.",
    RWJ: "Draw each delay at random from self.rng, e.g. rng.uniform(0, d) (full jitter) or "
    "d/2 + rng.uniform(0, d/2) (equal jitter), so clients that failed together spread out.",
    HERD: "Delays must grow after each failure (exponential) AND be random. With growth "
    "alone clients stay in lockstep; with randomness alone they keep hammering a server "
    "that is down. Never retry a refused connect without sleeping.",
}
IDS = (MRL, RWJ, HERD)


# -- one client's life, as the grader records it --------------------------------


@dataclass
class ClientTrace:
    name: str
    events: list[tuple[float, str]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    gaps: list[tuple[float, int, float]] = field(default_factory=list)  # (time, k, gap)
    tight_loop_at: float | None = None  # parked: retried in a tight loop, or far too often
    hammering: bool = False  # parked for too many attempts (not for zero delays)
    task: SimTask | None = None
    _k: int = 0
    _last_failure: float | None = None
    _hasty: int = 0  # attempts in a row made (almost) at once after a failure

    def failed(self, t: float, what: str) -> None:
        self.events.append((t, what))
        self._last_failure = t

    def opened(self, t: float) -> None:
        self.events.append((t, "open"))
        self._k, self._last_failure = 0, None

    def first_open_after(self, t: float) -> float | None:
        return next((et for et, kind in self.events if kind == "open" and et >= t), None)

    def connected_at(self, t: float) -> bool:
        state = False
        for et, kind in self.events:
            if et > t:
                break
            if kind == "open":
                state = True
            elif kind.startswith("closed"):
                state = False
        return state


def _connector(loop: SimLoop, server: SimServer, trace: ClientTrace) -> Callable[[], Any]:
    """The ``connect`` handed to learner code: the server's, plus bookkeeping."""
    limit, hasty = TIGHT_LOOP

    async def connect() -> SimConnection:
        now = loop.now
        trace._k += 1
        if trace._last_failure is not None:
            gap = now - trace._last_failure
            trace.gaps.append((now, trace._k, gap))
            trace._hasty = trace._hasty + 1 if gap < hasty else 0
        trace.attempts.append(now)
        trace.events.append((now, "attempt"))
        if trace._hasty >= limit or trace._k > MAX_ATTEMPTS_WITHOUT_SUCCESS:
            trace.tight_loop_at = now
            trace.hammering = trace._hasty < limit
            await loop.future()  # park this client for good: it has made its point
        try:
            conn = await server.connect(trace.name)
        except ConnectionRefusedError:
            trace.failed(loop.now, "refused")
            raise
        trace.opened(loop.now)
        conn.add_close_listener(lambda t, code: trace.failed(t, f"closed {code or 1006}"))
        return conn

    return connect


# -- scenarios --------------------------------------------------------------------


@dataclass
class Run:
    seed: int
    loop: SimLoop
    server: SimServer
    traces: list[ClientTrace]
    until: float
    marks: dict[str, float]  # named moments, e.g. "restart", "back up"
    recoveries: list[tuple[float, float]]  # (server up again at, bound) for mass events
    blips: list[tuple[str, float]]  # (client, time of a brief drop)
    outage: tuple[float, float] = (0.0, 0.0)
    error: str | None = None  # the scenario could not run at all
    timed_out: bool = False

    def client_errors(self) -> list[tuple[ClientTrace, BaseException]]:
        return [(t, t.task.error) for t in self.traces if t.task and t.task.error is not None]

    def returned(self) -> list[ClientTrace]:
        return [t for t in self.traces if t.task and t.task.done and t.task.error is None]


def _start_clients(module: ModuleType, run: Run, count: int, spread: float) -> None:
    loop, server = run.loop, run.server
    for i in range(count):
        trace = ClientTrace(f"client-{i}")
        backoff = module.Backoff(base=BASE, cap=CAP, rng=random.Random(run.seed * 100_003 + i))
        coro = module.stay_connected(_connector(loop, server, trace), backoff, loop.sleep)
        if not inspect.iscoroutine(coro):
            raise TypeError(
                "stay_connected(...) must be an `async def` function; calling it returned "
                f"{coro!r} instead of a coroutine"
            )
        start = loop.rng.uniform(0, spread)
        trace.task = loop.spawn(coro, f"stay_connected of {trace.name}", at=start)
        run.traces.append(trace)


def _execute(module: ModuleType, run: Run, count: int, spread: float) -> Run:
    random.seed(run.seed)  # learners who use the random module directly stay reproducible
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {run.seed}"):
            _start_clients(module, run, count, spread)
            run.loop.run(run.until)
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except Exception as error:
        run.error = describe_error(error)
    finally:
        run.loop.close()
    return run


def herd_scenario(module: ModuleType, seed: int, clients: int = HERD_CLIENTS) -> Run:
    """Many clients; one restart (3-20 s down), then a 90-120 s outage."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=Latency(0.02, 0.03))
    restart_at, downtime = 20.0, loop.rng.uniform(3, 20)
    outage_at = restart_at + downtime + 60
    outage_end = outage_at + loop.rng.uniform(90, 120)
    loop.call_at(restart_at, server.restart, downtime)
    loop.call_at(outage_at, server.go_down)
    loop.call_at(outage_end, server.go_up)
    run = Run(
        seed, loop, server, [], outage_end + 90,
        marks={"restart": restart_at, "back up": restart_at + downtime,
               "outage": outage_at, "outage over": outage_end},
        recoveries=[(restart_at + downtime, RECOVERY_BOUND), (outage_end, RECOVERY_BOUND)],
        blips=[], outage=(outage_at, outage_end),
    )
    return _execute(module, run, clients, spread=5.0)


def client_scenario(module: ModuleType, seed: int) -> Run:
    """A few clients through a restart, a long outage, drops and a quick restart."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=Latency(0.02, 0.05))
    rng = loop.rng
    restart_at, downtime = rng.uniform(5, 15), rng.uniform(0.5, 10)
    outage_at = restart_at + downtime + 60
    outage_end = outage_at + rng.uniform(120, 300)
    blips_from = outage_end + 60
    quick_restart = blips_from + 120
    quick_downtime = rng.uniform(0.2, 2.0)
    loop.call_at(restart_at, server.restart, downtime)
    loop.call_at(outage_at, server.go_down)
    loop.call_at(outage_end, server.go_up)
    loop.call_at(quick_restart, server.restart, quick_downtime)
    blips: list[tuple[str, float]] = []
    for i in range(CLIENT_COUNT):
        for j, offset in enumerate((rng.uniform(0, 40), rng.uniform(60, 100))):
            name, at = f"client-{i}", blips_from + offset
            clean = (i + j) % 2 == 1  # alternate abrupt drops (1006) and going-away closes
            blips.append((name, at))
            loop.call_at(at, _blip, server, name, clean)
    run = Run(
        seed, loop, server, [], quick_restart + quick_downtime + 60,
        marks={"restart": restart_at, "outage": outage_at, "outage over": outage_end,
               "quick restart": quick_restart},
        recoveries=[
            (restart_at + downtime, RECOVERY_BOUND),
            (outage_end, RECOVERY_BOUND),
            (quick_restart + quick_downtime, RECOVERY_BOUND),
        ],
        blips=blips, outage=(outage_at, outage_end),
    )
    return _execute(module, run, CLIENT_COUNT, spread=2.0)


def _blip(server: SimServer, client: str, clean: bool) -> None:
    link = server.link_of(client)
    if link is None:
        return
    if clean:
        link.close_from(link.server_end, 1001, "going away")
    else:
        link.drop()


# -- checks -----------------------------------------------------------------------


@dataclass
class Verdict:
    status: Status
    observed: str = ""
    expected: str = ""
    client: str | None = None
    crashed: bool = False  # the code raised or hung: a traceback says more than a plot


PASS = Verdict("passed")


def _crashed(run: Run) -> Verdict | None:
    """A scenario whose code raised or hung fails every check it feeds."""
    if run.error is not None:
        return Verdict("failed", f"The scenario stopped: {run.error}", "the code runs",
                       crashed=True)
    errors = run.client_errors()
    if errors:
        trace, error = errors[0]
        assert trace.task is not None
        when = trace.task.finished_at or 0.0
        return Verdict(
            "failed",
            f"{trace.name}: stay_connected raised at t={when:.1f} s: {describe_error(error)}",
            "stay_connected keeps running (it never raises or returns)",
            trace.name,
            crashed=True,
        )
    return None


def check_comes_back(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    for trace in run.traces:
        if trace in run.returned():
            assert trace.task is not None
            return Verdict(
                "failed",
                f"{trace.name}: stay_connected returned at t={trace.task.finished_at:.1f} s "
                "after its connection closed; nobody reconnects it now.",
                "stay_connected never returns: it reconnects after every drop",
                trace.name,
            )
        if trace.tight_loop_at is not None:
            continue  # judged by the herd check; this client was parked on purpose
        for t, gap_k, gap in trace.gaps:
            if gap > LONGEST_GAP:
                return Verdict(
                    "failed",
                    f"{trace.name} waited {gap:.1f} s before attempt {gap_k} (at t={t:.1f} s).",
                    f"no wait longer than about the cap: {LONGEST_GAP:.0f} s (cap={CAP:g} s)",
                    trace.name,
                )
        for up_at, bound in run.recoveries:
            back = trace.first_open_after(up_at)
            if back is None or back > up_at + bound:
                seen = "never" if back is None else f"only at t={back:.1f} s"
                return Verdict(
                    "failed",
                    f"The server was up again at t={up_at:.1f} s; {trace.name} came back {seen}.",
                    f"back within {bound:.0f} s of the server being up",
                    trace.name,
                )
    for name, at in run.blips:
        trace = next(t for t in run.traces if t.name == name)
        if trace.tight_loop_at is not None or not trace.connected_at(at):
            continue
        back = trace.first_open_after(at)
        if back is None or back > at + RESET_BOUND:
            seen = "never" if back is None else f"after {back - at:.1f} s"
            return Verdict(
                "failed",
                f"{name}'s healthy connection dropped at t={at:.1f} s (server up); "
                f"it came back {seen}.",
                f"back within {RESET_BOUND:g} s: after a success the backoff starts small again",
                name,
            )
    return PASS


def _no_data(run: Run) -> Verdict | None:
    crashed = _crashed(run)
    if crashed:
        return crashed
    if not any(trace.gaps for trace in run.traces):
        return Verdict("not reached", "No client reconnected, so there was nothing to measure.",
                       f"first pass {MRL}")
    return None


def check_jitter(run: Run) -> Verdict:
    blocked = _no_data(run)
    if blocked:
        return blocked
    after_restart = run.marks["restart"], run.marks["outage"]
    for k in range(1, 5):
        delays = sorted(
            gap for trace in run.traces for t, kk, gap in trace.gaps
            if kk == k and after_restart[0] < t < after_restart[1]
        )
        if len(delays) < 30:
            continue
        p10, median, p90 = (delays[int(q * (len(delays) - 1))] for q in (0.1, 0.5, 0.9))
        spread = (p90 - p10) / median if median > 0 else 0.0
        if spread < MIN_SPREAD:
            return Verdict(
                "failed",
                f"Before attempt {k} after the restart, {len(delays)} clients waited "
                f"{p10:.3f}-{p90:.3f} s (p10-p90): a spread of {spread:.0%} of the median "
                f"{median:.3f} s. They move in lockstep.",
                f"delays spread by at least {MIN_SPREAD:.0%} of their median at every attempt",
            )
    return PASS


def check_herd(run: Run) -> Verdict:
    blocked = _no_data(run)
    if blocked:
        return blocked
    looping = [t for t in run.traces if t.tight_loop_at is not None]
    if looping:
        first = min(looping, key=lambda t: t.tight_loop_at or 0.0)
        if first.hammering:
            return Verdict(
                "failed",
                f"{len(looping)} clients kept hammering a server that was down: {first.name} "
                f"made {MAX_ATTEMPTS_WITHOUT_SUCCESS} attempts without one success "
                f"(by t={first.tight_loop_at:.1f} s).",
                "delays that grow, so an outage costs each client a few dozen attempts at most",
                first.name,
            )
        return Verdict(
            "failed",
            f"{len(looping)} clients retried in a tight loop: {first.name} made "
            f"{TIGHT_LOOP[0]} attempts in a row, each within {TIGHT_LOOP[1] * 1000:.0f} ms of "
            f"the previous failure (at t={first.tight_loop_at:.1f} s).",
            "a refused connect is followed by a sleep, like any other failure",
            first.name,
        )
    bound = PEAK_SHARE * len(run.traces)
    accepted = [a.time for a in run.server.attempts if a.outcome == "accepted"]
    for up_at, _ in run.recoveries:
        peak = peak_in_window([t for t in accepted if up_at <= t <= up_at + 60], WINDOW)
        if peak > bound:
            return Verdict(
                "failed",
                f"After the server came back at t={up_at:.1f} s, {peak} of {len(run.traces)} "
                f"clients connected within one {WINDOW * 1000:.0f} ms window.",
                f"at most {bound:.0f} ({PEAK_SHARE:.0%}) in any {WINDOW * 1000:.0f} ms window",
            )
    start, end = run.outage
    tries = {t.name: sum(start <= a < end for a in t.attempts) for t in run.traces}
    mean = sum(tries.values()) / len(tries)
    if mean > MAX_OUTAGE_ATTEMPTS:
        worst = max(tries, key=lambda name: tries[name])
        return Verdict(
            "failed",
            f"During a {end - start:.0f} s outage each client tried {mean:.0f} times on "
            f"average ({worst}: {tries[worst]} times): the delays do not grow.",
            f"at most {MAX_OUTAGE_ATTEMPTS} attempts per client on average (delays grow)",
            worst,
        )
    return PASS


# -- figures and timelines of a failing run ---------------------------------------


def _text_timeline(trace: ClientTrace, around: float | None = None, rows: int = 14) -> list[str]:
    events = trace.events
    if around is not None:
        later = [i for i, (t, _) in enumerate(events) if t >= around - 1]
        first = later[0] if later else max(0, len(events) - rows)
        events = events[max(0, first - 2): first - 2 + rows]
    else:
        events = events[:rows]
    return [f"{trace.name}  t={t:8.2f} s  {kind}" for t, kind in events]


def _illustrate(id: str, run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """Timeline lines and a PNG for the failing run."""
    trace = next((t for t in run.traces if t.name == verdict.client), None)
    if verdict.crashed:
        return (_text_timeline(trace) if trace else []), None
    if id == MRL or (trace is not None and id != RWJ):
        if trace is None:
            return [], None
        lines = _text_timeline(trace)
        if run.error is None:
            shown = {t.name: t.events for t in run.traces[:CLIENT_COUNT * 2]}
            fig = client_timeline(shown, start=0, end=run.until, marks=run.marks,
                                  title=f"seed {run.seed}: who was connected when")
            return lines, figure_to_png_base64(fig)
        return lines, None
    if run.error is not None:
        return [], None
    accepted = [a.time for a in run.server.attempts if a.outcome == "accepted"]
    start = run.marks["restart"] - 2
    end = run.marks["outage"] if id == RWJ else run.until
    fig = arrival_histogram(
        accepted, start=start, end=end, bin_width=WINDOW if end - start < 120 else 1.0,
        title=f"seed {run.seed}: handshakes accepted by the server", marks=run.marks,
    )
    return [], figure_to_png_base64(fig)


# -- the grader -------------------------------------------------------------------


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    herd_seeds = [s for s in HERD_SEEDS if seeds is None or s in seeds]
    client_seeds = [s for s in CLIENT_SEEDS if seeds is None or s in seeds]
    client_runs = _until_first_failure(module, client_seeds)
    herd_runs: list[Run] = []
    for seed in herd_seeds:
        if any(run.timed_out for run in client_runs + herd_runs):
            break  # code that hangs would hang again: one 10 s wait is enough
        herd_runs.append(herd_scenario(module, seed))
    hung = [run for run in client_runs + herd_runs if run.timed_out]
    if hung:
        herd_runs = hung[:1]

    plan: list[tuple[str, Callable[[Run], Verdict], list[Run]]] = [
        (MRL, check_comes_back, client_runs + herd_runs),
        (RWJ, check_jitter, herd_runs),
        (HERD, check_herd, herd_runs),
    ]
    findings = []
    for id, check, runs in plan:
        findings.append(_judge(id, check, runs))
    return Report(
        "reconnection", "", findings, scenarios=len(herd_runs) + len(client_runs)
    )


def _until_first_failure(module: ModuleType, seeds: list[int]) -> list[Run]:
    """Client scenarios in order; stop at the first failure (its seed is the replay)."""
    runs = []
    for seed in seeds:
        run = client_scenario(module, seed)
        runs.append(run)
        if check_comes_back(run).status != "passed":
            break
    return runs


def _judge(id: str, check: Callable[[Run], Verdict], runs: list[Run]) -> Finding:
    finding = Finding(id, TITLES[id], "passed", scenarios=len(runs),
                      hint=HINTS[id], reference=reference_link(id))
    if not runs:
        finding.status, finding.observed = "not reached", "no scenario for this seed"
        return finding
    not_reached: tuple[Run, Verdict] | None = None
    for run in runs:
        verdict = check(run)
        if verdict.status == "failed":
            finding.status, finding.seed = "failed", run.seed
            finding.observed, finding.expected = verdict.observed, verdict.expected
            finding.timeline, finding.figure_png = _illustrate(id, run, verdict)
            return finding
        if verdict.status == "not reached" and not_reached is None:
            not_reached = (run, verdict)
    if not_reached is not None:
        run, verdict = not_reached
        finding.status, finding.seed = "not reached", run.seed
        finding.observed, finding.expected = verdict.observed, verdict.expected
    return finding
