"""Grader of the reconnection exercise (``exercises/reconnection.py``).

It runs the learner's ``Backoff`` and ``stay_connected`` in the simulated
network under seeded fault schedules (the scenarios live in
``rtlab/topics/reconnection/sim.py``) and checks three IDs by behaviour:

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
    90-120 s outage the clients make at most 30 attempts each on average; no
    client retries 5 times in a row within 10 ms of a failure (a tight loop on
    refused connections) or makes 100 attempts without a success.

The numbers are deliberately loose enough for any sound policy: full, equal
or decorrelated jitter, 0-30 % added jitter, gRPC's 1.6x with +/-20 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge, not_reached
from rtlab.learner import describe_error
from rtlab.plots import arrival_histogram, client_timeline, figure_to_png_base64, peak_in_window
from rtlab.topics.reconnection.interface import ReconnectionCode, learner_code
from rtlab.topics.reconnection.sim import (
    CAP,
    CLIENT_COUNT,
    MAX_ATTEMPTS_WITHOUT_SUCCESS,
    TIGHT_LOOP,
    ClientTrace,
    Run,
    client_scenario,
    herd_scenario,
)

HERD_SEEDS = list(range(100, 103))
CLIENT_SEEDS = list(range(1000, 1200))
WINDOW = 0.1
PEAK_SHARE = 0.20
MAX_OUTAGE_ATTEMPTS = 30
RECOVERY_BOUND = CAP * 1.5 + 2.0
LONGEST_GAP = CAP * 1.5 + 1.0
RESET_BOUND = 5.0
MIN_SPREAD = 0.10

MRL = "missing-reconnection-logic"
RWJ = "reconnect-without-jitter"
HERD = "websocket-thundering-herd"
CHECKS = {
    MRL: Check(
        MRL, "Clients always come back, promptly",
        "stay_connected must loop forever: after a refused connect or a closed connection, "
        "sleep(backoff.next_delay()) and try again. Catch OSError from connect() and "
        "websockets.exceptions.ConnectionClosed from reading. Call backoff.reset() after a "
        "successful connect, and clamp delays to cap.",
    ),
    RWJ: Check(
        RWJ, "Reconnect delays are randomised",
        "Draw each delay at random from self.rng, e.g. rng.uniform(0, d) (full jitter) or "
        "d/2 + rng.uniform(0, d/2) (equal jitter), so clients that failed together spread out.",
    ),
    HERD: Check(
        HERD, "No thundering herd after a restart",
        "Delays must grow after each failure (exponential) AND be random. With growth "
        "alone clients stay in lockstep; with randomness alone they keep hammering a server "
        "that is down. Never retry a refused connect without sleeping.",
    ),
}
IDS = (MRL, RWJ, HERD)


# -- checks -----------------------------------------------------------------------


@dataclass
class ClientVerdict(Verdict):
    """A verdict that may name the client to draw, and says whether the code crashed."""

    client: str | None = None
    crashed: bool = False  # the code raised or hung: a traceback says more than a plot


def _crashed(run: Run) -> ClientVerdict | None:
    """A scenario whose code raised or hung fails every check it feeds."""
    if run.error is not None:
        return ClientVerdict("failed", f"The scenario stopped: {run.error}", "the code runs",
                             crashed=True)
    errors = run.client_errors()
    if errors:
        trace, error = errors[0]
        assert trace.task is not None
        when = trace.task.finished_at or 0.0
        return ClientVerdict(
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
            return ClientVerdict(
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
                return ClientVerdict(
                    "failed",
                    f"{trace.name} waited {gap:.1f} s before attempt {gap_k} (at t={t:.1f} s).",
                    f"no wait longer than about the cap: {LONGEST_GAP:.0f} s (cap={CAP:g} s)",
                    trace.name,
                )
        for up_at in run.back_up:
            back = trace.first_open_after(up_at)
            if back is None or back > up_at + RECOVERY_BOUND:
                seen = "never" if back is None else f"only at t={back:.1f} s"
                return ClientVerdict(
                    "failed",
                    f"The server was up again at t={up_at:.1f} s; {trace.name} came back {seen}.",
                    f"back within {RECOVERY_BOUND:.0f} s of the server being up",
                    trace.name,
                )
    for name, at in run.blips:
        trace = next(t for t in run.traces if t.name == name)
        if trace.tight_loop_at is not None or not trace.connected_at(at):
            continue
        back = trace.first_open_after(at)
        if back is None or back > at + RESET_BOUND:
            seen = "never" if back is None else f"after {back - at:.1f} s"
            return ClientVerdict(
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
        return not_reached("No client reconnected, so there was nothing to measure.",
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
            # Say what was measured: the delays before this attempt, not the arrivals,
            # which an earlier random delay may still have spread out.
            if delays[0] == delays[-1]:
                waited = (f"every one of {len(delays)} clients waited exactly {median:.3f} s "
                          f"before attempt {k} after the restart")
                advice = ("draw every delay at random, so clients that failed together spread "
                          "out" if k == 1 else "draw every delay at random, not only the first, "
                          "or clients that meet again retry together")
            else:
                waited = (f"before attempt {k} after the restart, {len(delays)} clients waited "
                          f"{p10:.3f}-{p90:.3f} s (p10-p90), a spread of only {spread:.0%} of "
                          f"the median {median:.3f} s")
                advice = ("draw each delay from a wider range (full jitter: anywhere between 0 "
                          "and the ceiling)")
            return Verdict(
                "failed",
                f"{waited[0].upper()}{waited[1:]}: {advice}.",
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
            return ClientVerdict(
                "failed",
                f"{len(looping)} clients kept hammering a server that was down: {first.name} "
                f"made {MAX_ATTEMPTS_WITHOUT_SUCCESS} attempts without one success "
                f"(by t={first.tight_loop_at:.1f} s).",
                "delays that grow, so an outage costs each client a few dozen attempts at most",
                first.name,
            )
        return ClientVerdict(
            "failed",
            f"{len(looping)} clients retried in a tight loop: {first.name} made "
            f"{TIGHT_LOOP[0]} attempts in a row, each within {TIGHT_LOOP[1] * 1000:.0f} ms of "
            f"the previous failure (at t={first.tight_loop_at:.1f} s).",
            "a refused connect is followed by a sleep, like any other failure",
            first.name,
        )
    bound = PEAK_SHARE * len(run.traces)
    accepted = [a.time for a in run.server.attempts if a.outcome == "accepted"]
    for up_at in run.back_up:
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
        return ClientVerdict(
            "failed",
            f"During a {end - start:.0f} s outage each client tried {mean:.0f} times on "
            f"average ({worst}: {tries[worst]} times): the delays do not grow.",
            f"at most {MAX_OUTAGE_ATTEMPTS} attempts per client on average (delays grow)",
            worst,
        )
    return PASS


# -- figures and timelines of a failing run ---------------------------------------


def _text_timeline(trace: ClientTrace, rows: int = 14) -> list[str]:
    return [f"{trace.name}  t={t:8.2f} s  {kind}" for t, kind in trace.events[:rows]]


def _illustrate(id: str, run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """Timeline lines and a PNG for the failing run: the client's own story where a
    client is to blame, else the server's arrivals (the herd, the lockstep)."""
    named = verdict if isinstance(verdict, ClientVerdict) else ClientVerdict(verdict.status)
    trace = next((t for t in run.traces if t.name == named.client), None)
    if named.crashed:
        return (_text_timeline(trace) if trace else []), None
    if id == MRL or (trace is not None and id != RWJ):
        if trace is None:
            return [], None
        if run.error is not None:
            return _text_timeline(trace), None
        shown = {t.name: t.events for t in run.traces[:CLIENT_COUNT * 2]}
        fig = client_timeline(shown, start=0, end=run.until, marks=run.marks,
                              title=f"seed {run.seed}: who was connected when")
        return _text_timeline(trace), figure_to_png_base64(fig)
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
    code = learner_code(module)
    herd_seeds = [s for s in HERD_SEEDS if seeds is None or s in seeds]
    client_seeds = [s for s in CLIENT_SEEDS if seeds is None or s in seeds]
    client_runs = _until_first_failure(code, client_seeds)
    herd_runs: list[Run] = []
    for seed in herd_seeds:
        if any(run.timed_out for run in client_runs + herd_runs):
            break  # code that hangs would hang again: one 10 s wait is enough
        herd_runs.append(herd_scenario(code, seed))
    hung = [run for run in client_runs + herd_runs if run.timed_out]
    if hung:
        herd_runs = hung[:1]  # the hang fails the herd checks too, with its message

    plan = [
        (MRL, check_comes_back, client_runs + herd_runs),
        (RWJ, check_jitter, herd_runs),
        (HERD, check_herd, herd_runs),
    ]
    findings = [
        judge(CHECKS[id], [Judged(run.seed, check(run), run) for run in runs],
              partial(_illustrate, id))
        for id, check, runs in plan
    ]
    return Report("reconnection", "", findings, scenarios=len(herd_runs) + len(client_runs))


def _until_first_failure(code: ReconnectionCode, seeds: list[int]) -> list[Run]:
    """Client scenarios in order; stop at the first failure (its seed is the replay)."""
    runs = []
    for seed in seeds:
        run = client_scenario(code, seed)
        runs.append(run)
        if check_comes_back(run).status != "passed":
            break
    return runs
