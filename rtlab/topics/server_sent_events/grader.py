"""Grader of the Server-Sent Events exercise (``exercises/sse.py``).

It runs the learner's ``EventLog`` in 200 seeded resume scenarios and their
``RetryPolicy`` in 20 seeded flood scenarios (``rtlab.topics.server_sent_events.sim`` describes both
and how the truth is known); everything a client reads goes through
``rtlab.wire.sse.EventParser``, a WHATWG-conformant parser, so "received" means what
a browser's ``EventSource`` would dispatch. Properties per ID:

``sse-missing-retry`` (every stream says how long to wait)
    every text ``open()`` returns (first visits, resumes, resyncs) carries a
    valid ``retry:`` field before its first event, between 1,000 and 60,000 ms.
    Why these bounds: browsers default to 3-5 s, so a value under 1 s asks for
    *more* reconnects than no ``retry:`` at all (1,000 tabs of a restarted server
    would come back within one second); above a minute, every blip leaves a
    page stale for that long. The skill's fix is ``retry: 10000``.
``sse-missing-event-id`` (every event has an id of its own and arrives whole)
    ``format_event`` checked directly on 15 payloads (multi-line with LF, CRLF,
    CR, blank and trailing lines, empty, attempts to forge ``id:``/``event:``
    lines, unicode): a parser reads back exactly one event with the same data
    (line breaks as LF), type and id, and no ``id:`` when none was given; in the
    scenarios, every event a client receives (replays and ``resync`` included)
    has a non-empty ``id:`` line of its own, keeps the id ``publish`` gave it,
    no two events of one log share an id, and data and type arrive intact.
``reconnection-state-loss`` (clients miss nothing and see nothing twice)
    in the scenarios, each client receives the published events exactly once,
    in order, across cuts (including cuts in the middle of an event) while the
    log still holds what it missed, gets a ``resync`` when it does not (log
    overflow, server restart: the boundary clients miss exactly ``capacity``
    and ``capacity + 1`` events), never a needless ``resync``, never HTTP 400
    (``ValueError``) for an id the stream gave it, and a first visit gets only
    new events; when publishing stops, every client comes back (whatever its
    ``retry:``) and must then hold every event or have been resynced;
    directly, ``open`` answers ids no log could have issued (garbage, 100,000
    characters, 100,000 digits, ``-1``, the last id with a ``0`` appended)
    with ``ValueError`` or a ``resync``, never as if nothing was missed.
``sse-retry-flood`` (a failing endpoint is not hammered)
    50 clients, each with its own ``RetryPolicy(rng, base=1, cap=30)``: every
    wait is a finite number of seconds, at most ``1.5 x cap``; in the last 60 s
    of a 120-180 s outage the server sees at most 8 attempts per client (one per
    ``cap / 4`` seconds; a fixed 3 s retry makes 20), and from 40 s into the
    outage no one-second window holds more than half of the clients (no
    lockstep); everyone is back within ``1.5 x cap + 2`` s of the endpoint
    recovering and, after a success, within 15 s of a 0.5-2 s blip ending (the
    backoff was reset); ``failed(204)`` returns ``None`` and nobody comes back
    after a 204, while errors (``None``, 500, 503) never make a client give up.

Scenario coverage, measured over the 200 resume seeds with the reference:
about 1,250 resumed streams, 510 of them replays and 735 resyncs (265 after a
log overflow, 470 after a restart), and 290 cuts in the middle of an event.

Margins, worst over the 20 flood seeds (bound in brackets): attempts per client
in the outage's last minute: reference (full jitter) 4.4, equal jitter 2.8,
decorrelated 3.8, gRPC-style 2.2 [8]; share of clients in the busiest second:
0.24-0.28 [0.5] (exponential without jitter: 1.0); recovery after the outage
29.7 s (gRPC-style 35.3 s) [47 s]; back after a blip 7.7 s (others 1.9-5.2 s)
[15 s]. The known-bad variants miss by far more: a fixed 1 s retry makes 60
attempts per client per minute, no cap waits 78 s, no reset 15-30 s after a
blip. Speed: 220 scenarios took 1.1-1.6 s of CPU on a busy 2-core machine
(load 4-6) where the presence grader took 0.6-0.9 s; about 6 ms per resume
scenario, 8 ms per flood scenario; peak memory about 72 MB.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Illustrate, Judged, Verdict, judge
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.plots import arrival_histogram, client_timeline, figure_to_png_base64, peak_in_window
from rtlab.topics.server_sent_events import sim
from rtlab.topics.server_sent_events.interface import LearnerModule, learner_module
from rtlab.topics.server_sent_events.sim import (
    EVENT_ID,
    FLOOD_CAP,
    RETRY,
    STATE,
    FixedDelay,
    FloodRun,
    Problem,
    ResumeRun,
    back_after,
    flood_scenario,
    resume_scenario,
    run_flood,
    run_resume,
)
from rtlab.wire.sse import Event, EventParser, normalize_newlines

SEEDS = list(range(3000, 3200))
FLOOD_SEEDS = list(range(3500, 3520))

FLOOD = "sse-retry-flood"
IDS = (RETRY, EVENT_ID, FLOOD, STATE)
CHECKS = {
    RETRY: Check(
        RETRY, "Every stream announces a sane retry:",
        "Start the text open() returns with f'retry: {RETRY_MS}\\n\\n' (milliseconds), on "
        "every stream, before any event: first visits, replays and resyncs alike. 10000 is a "
        "good value; below 1000 a restart brings every tab back within a second."),
    EVENT_ID: Check(
        EVENT_ID, "Every event has an id of its own and arrives whole",
        "Give every event an 'id:' line (resync included) with an id unique in the log, "
        "keep that id when you replay it, and write one 'data:' line per line of data: split "
        "with re.split(r'\\r\\n|\\r|\\n', data), since str.splitlines() splits on more and "
        "drops a trailing newline; end the event with a blank line."),
    FLOOD: Check(
        FLOOD, "A failing endpoint is not hammered",
        "In failed(status): return None for 204; otherwise grow a ceiling "
        "min(cap, base * 2**failures), count the failure, and return rng.uniform(0, ceiling) "
        "(full jitter). opened() sets failures back to 0."),
    STATE: Check(
        STATE, "Clients miss nothing and see nothing twice",
        "Keep the last `capacity` events with their sequence numbers (a deque(maxlen=...) "
        "works). In open(last_id), find its sequence number: if every later event is still kept "
        "(seq >= oldest_kept - 1) replay exactly those after it; otherwise, or if the id is from "
        "another epoch, send one 'resync' event with an id. Put the epoch in your ids so ids "
        "from before a restart are recognisably unknown; raise ValueError only for garbage."),
}

RATE_WINDOW = 60.0  # seconds at the end of the outage
MAX_ATTEMPTS_PER_CLIENT = 8  # in RATE_WINDOW: one attempt per cap / 4 s on average
SPREAD_AFTER = 40.0  # seconds into the outage: the first retries all fall together, and
# gRPC's +/-20 % jitter needs a few rounds to spread clients out
PEAK_WINDOW, PEAK_SHARE = 1.0, 0.5
WAIT_BOUND = 1.5 * FLOOD_CAP
RECOVERY_BOUND = 1.5 * FLOOD_CAP + 2.0
RESET_BOUND = 15.0

# format_event payloads: (data, event_id, event type)
FORMAT_CASES: tuple[tuple[str, str | None, str | None], ...] = (
    ("hello", "1", None),
    ("two\nlines", "2", "update"),
    ("windows\r\nline endings\r\n", "3", None),
    ("old mac\rline ending", "4", "note"),
    ("trailing newline\n", "5", None),
    ("\n\nleading blank lines", "6", None),
    ("blank\n\nline inside", "7", None),
    ("", "8", None),
    ("\n", "9", None),
    ("forged\nid: 666\nevent: evil\n\ndata: injected", "10", None),
    ("x\rid: 666", "11", None),
    (": looks like a comment", "12", None),
    ("  two leading spaces", "13", None),
    ("ünïcödé ✓\u2028separator", "14", "update"),
    ("no id given", None, "note"),
)


@dataclass
class Failed(Verdict):
    """A failure, with what its illustration needs: the scenario's timeline and figure."""

    timeline: tuple[str, ...] = ()
    figure: Callable[[], str | None] | None = None


Run = ResumeRun | FloodRun | None  # None: a direct check, or a scenario that stopped


# -- direct checks ------------------------------------------------------------------


def _guarded(what: str, call: Callable[[], Verdict]) -> Verdict:
    try:
        with time_limit(sim.SCENARIO_SECONDS, what):
            return call()
    except LearnerTimeout as error:
        return Verdict("failed", str(error), "the code returns promptly")
    except Exception as error:
        return Verdict("failed", f"{what} raised {describe_error(error)}",
                       "no exception for these inputs")


def check_format(module: LearnerModule) -> Verdict:
    """format_event writes exactly one event that reads back as it was given."""

    def run() -> Verdict:
        for data, event_id, kind in FORMAT_CASES:
            call = f"format_event({data!r}, event_id={event_id!r}, event={kind!r})"
            text = module.format_event(data, event_id=event_id, event=kind)
            if not isinstance(text, str):
                return Verdict("failed", f"{call} returned {text!r}, not a str",
                               "the event as stream text")
            parser = EventParser()
            events = parser.feed(text)
            want = Event(normalize_newlines(data), kind or "message", event_id or "",
                         None, event_id is not None)
            got: Event | None = events[0] if len(events) == 1 else None
            if got is None or got != want or parser.pending:
                seen = ("nothing (no complete event: is the blank line missing?)" if not events
                        else f"{len(events)} events: {events}" if len(events) > 1
                        else f"{got}" + (" and an unfinished event after it" if parser.pending
                                         and got == want else ""))
                return Verdict(
                    "failed",
                    f"{call} returned {text!r}; a browser reads {seen}.",
                    f"one event: data {want.data!r}, type {want.event!r}, "
                    + (f"id {event_id!r}" if event_id is not None else "no id: line"),
                )
        return PASS

    return _guarded("format_event", run)


PROBES = ("not-an-id", "x" * 100_000, "9" * 100_000, "-1")


def check_probes(module: LearnerModule) -> Verdict:
    """open() refuses, or resyncs, ids that no log could have issued."""

    def run() -> Verdict:
        log = module.EventLog(8, epoch="probe01")
        texts = [log.publish(f"p{i}") for i in range(3)]
        issued = {e.id for t in texts if isinstance(t, str)
                  for e in EventParser().feed(t) if e.has_own_id}
        probes = list(PROBES)
        last = max(issued, key=len) if issued else ""
        if last and last + "0" not in issued:
            probes.append(last + "0")
        for probe in probes:
            shown = probe if len(probe) < 20 else f"{probe[:8]}... ({len(probe):,} characters)"
            try:
                text = log.open(probe)
            except ValueError:
                continue
            if not isinstance(text, str):
                return Verdict("failed", f"open({shown!r}) returned {text!r}, not a str",
                               "the stream text, or ValueError")
            events = EventParser().feed(text)
            if not any(e.event == "resync" for e in events):
                what = (f"replayed {len(events)} event(s) without a resync" if events
                        else "returned no event at all")
                return Verdict(
                    "failed",
                    f"After 3 publishes (ids {sorted(issued)}), open({shown!r}) {what}: an "
                    "id this log never issued was taken as a valid position, so the client "
                    "is never told what it lost.",
                    "ValueError (the server answers 400) or a resync event",
                )
        return PASS

    return _guarded("EventLog probes", run)


# -- judging scenarios ------------------------------------------------------------------


def check_resume(run: ResumeRun, pid: str) -> Verdict:
    """The resume scenario's verdict on ``pid``: its first violation, found while it ran."""
    problem = run.problems.get(pid)
    if problem is None:
        return PASS
    return Failed("failed", problem.observed, problem.expected, tuple(problem.timeline),
                  _resume_figure(run, problem))


def _resume_figure(run: ResumeRun, problem: Problem) -> Callable[[], str | None]:
    def draw() -> str | None:
        marks = {"problem": problem.at}
        if run.restart is not None:
            marks["restart"] = run.restart[0]
        with warnings.catch_warnings():  # tight_layout may complain; stderr breaks notebooks
            warnings.simplefilter("ignore")
            fig = client_timeline(
                {c.name: c.spans for c in run.clients}, start=0.0, end=problem.at + 2.0,
                title=f"Streams per client (seed {run.seed})", marks=marks,
            )
            return figure_to_png_base64(fig)

    return draw


def check_flood(run: FloodRun) -> Verdict:
    count = len(run.clients)
    start, end = run.outage
    figure = _flood_figure(run)

    def failed(observed: str, expected: str) -> Verdict:
        return Failed("failed", observed, expected, figure=figure)

    if run.bad_delay is not None:
        client, status, delay = run.bad_delay
        return failed(f"{client.name}: failed({status!r}) returned {delay!r}.",
                      "a finite number of seconds >= 0 (or None, only for 204)")
    for client in run.clients:
        for t, status, delay in client.waits:
            if status == 204 and delay is not None:
                return failed(
                    f"{client.name}: the endpoint answered 204 at t={t:.1f} s and failed(204) "
                    f"returned {delay:.2f}: the client comes back to a server that asked it "
                    "to go away.", "failed(204) returns None: stop for good")
            if status != 204 and delay is None:
                return failed(
                    f"{client.name}: failed({status!r}) at t={t:.1f} s returned None: it gave "
                    "up for good on an error that passes.",
                    "keep retrying (with backoff) on network errors and 5xx; stop only on 204")
            if delay is not None and delay > WAIT_BOUND:
                return failed(
                    f"{client.name}: failed({status!r}) at t={t:.1f} s returned {delay:.1f} s.",
                    f"no wait longer than about the cap: {WAIT_BOUND:g} s (cap={FLOOD_CAP:g} s)")
    window = rate_window(run)
    if len(window) > MAX_ATTEMPTS_PER_CLIENT * count:
        rate = len(window) / RATE_WINDOW
        return failed(
            f"In the last {RATE_WINDOW:g} s of the outage ({start:.0f}-{end:.0f} s) the "
            f"{count} clients made {len(window)} attempts: {rate:.1f} requests/s at a "
            f"failing server, {len(window) / count:.1f} per client.",
            f"at most {MAX_ATTEMPTS_PER_CLIENT} per client per minute once the backoff has "
            f"grown (waits growing to about cap={FLOOD_CAP:g} s)")
    parked = [c for c in run.clients if c.parked]
    if parked:
        first = parked[0]
        t0, t1 = first.attempts[0][0], first.attempts[-1][0]
        return failed(f"{first.name} made {len(first.attempts)} attempts between t={t0:.1f} s "
                      f"and t={t1:.1f} s ({len(parked)} clients did).",
                      "a few dozen attempts at most in a 4-minute run")
    later = settled_window(run)
    peak = peak_in_window(later, PEAK_WINDOW)
    if later and peak > max(5, PEAK_SHARE * count):
        return failed(
            f"{peak} of the {count} clients hit the failing server within one second "
            f"(after t={start + SPREAD_AFTER:.0f} s): they retry in lockstep.",
            f"at most {PEAK_SHARE:.0%} of the clients in any {PEAK_WINDOW:g} s window "
            "(random waits spread them out)")
    for client in run.clients:
        back = back_after(client, end)
        if back is None or back > end + RECOVERY_BOUND:
            seen = "never" if back is None else f"only at t={back:.1f} s"
            return failed(
                f"The endpoint recovered at t={end:.1f} s; {client.name} came back {seen}.",
                f"back within {RECOVERY_BOUND:g} s: waits capped at about {FLOOD_CAP:g} s")
    blip_end = run.blip[1]
    for client in run.clients:
        back = back_after(client, blip_end)
        if back is None or back > blip_end + RESET_BOUND:
            seen = "never" if back is None else f"{back - blip_end:.1f} s later"
            return failed(
                f"{client.name} had been connected since the outage ended; a "
                f"{blip_end - run.blip[0]:.1f} s blip ended at t={blip_end:.1f} s and it came "
                f"back {seen}.",
                f"back within {RESET_BOUND:g} s: opened() resets the backoff, so a new "
                "outage starts with short waits")
    for client in run.clients:
        stops = [t for t, status in client.attempts if status == 204]
        if stops and len([t for t, _ in client.attempts if t > stops[0]]) > 0:
            return failed(f"{client.name} came back after a 204 at t={stops[0]:.1f} s.",
                          "no request after a 204")
    return PASS


def _flood_figure(run: FloodRun) -> Callable[[], str | None]:
    def draw() -> str | None:
        fig = arrival_histogram(
            run.all_attempts(), start=0.0, end=run.goodbye + 30.0, bin_width=1.0,
            title=f"Requests at the endpoint ({len(run.clients)} clients, seed {run.seed})",
            marks={"fails": run.outage[0], "recovers": run.outage[1], "blip": run.blip[0],
                   "204": run.goodbye},
        )
        return figure_to_png_base64(fig)

    return draw


# -- assembling the report ------------------------------------------------------------


def illustrate(judged: list[Judged[Run]]) -> Illustrate[Run]:
    """The failure's own timeline and figure, and how often the check failed (not for TODOs)."""
    failures = sum(j.verdict.status == "failed" for j in judged)

    def draw(run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
        timeline = list(verdict.timeline) if isinstance(verdict, Failed) else []
        if "TODO" in verdict.observed:
            return timeline, None
        if failures > 1:
            # Not in `observed`: replaying one seed must tell the same story.
            timeline.append(f"(this check failed in {failures} of {len(judged)} "
                            "scenarios; the first is shown)")
        figure = verdict.figure if isinstance(verdict, Failed) else None
        return timeline, figure() if figure is not None else None

    return draw


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    learner = learner_module(module)
    resume_seeds = SEEDS if seeds is None else seeds
    flood_seeds = FLOOD_SEEDS if seeds is None else seeds
    judged: dict[str, list[Judged[Run]]] = {pid: [] for pid in IDS}
    # Checks that need no scenario run whatever the seeds (under the first), so a replay
    # repeats them. The format check comes first (its message is the clearest); the probes
    # last (a scenario's story says more).
    judged[EVENT_ID].append(Judged(resume_seeds[0], check_format(learner), None))
    ran = _judge_resumes(learner, resume_seeds, judged) + _judge_floods(
        learner, flood_seeds, judged[FLOOD])
    judged[STATE].append(Judged(resume_seeds[0], check_probes(learner), None))
    findings = [judge(CHECKS[pid], judged[pid], illustrate(judged[pid])) for pid in IDS]
    return Report("sse", "", findings, scenarios=ran)


def _judge_resumes(learner: LearnerModule, seeds: list[int],
                   judged: dict[str, list[Judged[Run]]]) -> int:
    """Run and judge the resume scenarios; how many ran (they stop at the first error)."""
    for ran, seed in enumerate(seeds, 1):
        run = run_resume(learner, seed)
        if isinstance(run, str):
            stopped = Verdict("failed", f"The scenario stopped: {run}",
                              "EventLog runs: publish() and open() return the text to send")
            for pid in (RETRY, EVENT_ID, STATE):
                judged[pid].append(Judged(seed, stopped, None))
            return ran  # the same error would repeat in every scenario
        for pid in (RETRY, EVENT_ID, STATE):
            judged[pid].append(Judged(seed, check_resume(run, pid), run))
    return len(seeds)


def _judge_floods(learner: LearnerModule, seeds: list[int], judged: list[Judged[Run]]) -> int:
    for ran, seed in enumerate(seeds, 1):
        flood = run_flood(learner, seed)
        if isinstance(flood, str):
            judged.append(Judged(seed, Verdict(
                "failed", f"The scenario stopped: {flood}",
                "RetryPolicy runs: opened() and failed(status) return promptly"), None))
            return ran
        judged.append(Judged(seed, check_flood(flood), flood))
    return len(seeds)


def rate_window(run: FloodRun) -> list[float]:
    """Attempts in the last RATE_WINDOW seconds of the outage."""
    end = run.outage[1]
    return run.attempts_between(end - RATE_WINDOW, end)


def settled_window(run: FloodRun) -> list[float]:
    """Attempts from SPREAD_AFTER seconds into the outage until it ends."""
    start, end = run.outage
    return run.attempts_between(start + SPREAD_AFTER, end)


def describe_margins(module: ModuleType, seeds: list[int] | None = None) -> dict[str, float]:
    """The worst value of each flood measure over the seeds (for the docstring and tests)."""
    worst = {"attempts per client in the last minute": 0.0, "peak share in 1 s": 0.0,
             "recovery s": 0.0, "back after blip s": 0.0}
    for seed in seeds or FLOOD_SEEDS:
        run = run_flood(learner_module(module), seed)
        assert not isinstance(run, str), run
        count = len(run.clients)
        values = {
            "attempts per client in the last minute": len(rate_window(run)) / count,
            "peak share in 1 s": peak_in_window(settled_window(run), PEAK_WINDOW) / count,
            "recovery s": max(_delay(back_after(c, run.outage[1]), run.outage[1])
                              for c in run.clients),
            "back after blip s": max(_delay(back_after(c, run.blip[1]), run.blip[1])
                                     for c in run.clients),
        }
        for key, value in values.items():
            worst[key] = max(worst[key], value)
    return {k: round(v, 3) for k, v in worst.items()}


def _delay(back: float | None, since: float) -> float:
    return math.inf if back is None else back - since


# -- benchmark ----------------------------------------------------------------------


def bench_sse_core(clients: int = 1000) -> None:
    """Parser throughput, grader speed, and the retry flood in numbers (prints figures)."""
    import time

    from rtlab import course
    from rtlab.learner import load_module
    from rtlab.wire.sse import format_event

    stream = "".join(format_event(f"update {i}\nsecond line", event_id=f"ab12-{i}",
                                  event="update") for i in range(20_000))
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        parser = EventParser()
        parsed = sum(len(parser.feed(stream[i:i + 4096])) for i in range(0, len(stream), 4096))
        best = min(best, time.perf_counter() - started)
    print(f"EventParser: {parsed:,} events ({len(stream.encode()) / 1e6:.1f} MB) in "
          f"{best:.3f} s: {parsed / best:,.0f} events/s, {len(stream) / best / 1e6:.1f} MB/s")

    solution = learner_module(
        load_module(course.root() / "solutions" / "sse.py", "bench_sse_solution"))
    started = time.perf_counter()
    for seed in SEEDS:
        resume_scenario(solution, seed)
    print(f"Resume scenarios (reference): {len(SEEDS)} in "
          f"{time.perf_counter() - started:.2f} s")

    print(f"Retry flood, simulated: {clients:,} clients, endpoint failing for 120-180 s")
    policies: dict[str, sim.PolicyFactory] = {
        "fixed 1 s": lambda rng: FixedDelay(1.0),
        "fixed 3 s (Chromium's default)": lambda rng: FixedDelay(3.0),
        "reference (full jitter, cap 30 s)": lambda rng: solution.RetryPolicy(rng, 1.0, 30.0),
    }
    for name, factory in policies.items():
        started = time.perf_counter()
        run = flood_scenario(factory, 1, count=clients)
        print(f"  {name:<34} {len(rate_window(run)) / RATE_WINDOW:8.1f} requests/s in the "
              f"outage's last minute, peak {peak_in_window(settled_window(run), 1.0):5,} in 1 s  "
              f"({time.perf_counter() - started:.2f} s to simulate)")
