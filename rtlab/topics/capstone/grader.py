"""Grader of the capstone (``exercises/capstone.py``): the whole assembly, end to end.

It runs ``SEEDS`` seeded chaos schedules (:func:`rtlab.topics.capstone.sim.chaos_schedule`)
with the learner's ``AppServer`` (one per server, 2-3), ``AppClient`` (10-14 tabs, plus a
join storm of 6-8) and ``make_presence()``. Every schedule holds each fault once: a
server crash, a deploy, a Redis restart, two half-open links, 4 s of silence behind a
3 s idle proxy, a slow reader, two network blips, two tabs that vanish, and an outage
of every server followed by a join storm. Each check is an earlier module's validation
ID, judged on what the users saw:

``reconnection-state-loss``   zero edits lost, zero chat messages lost: by the end every
                              post is in the log, every open tab's document holds every
                              edit, and shows every chat message since it first joined.
``missing-message-ordering``  no chat message shown twice or out of order, on any tab.
``join-without-backfill``     a tab that joins a room with history is shown some of it.
``socket-io-no-adapter``      a chat message reaches the steady tabs on *other* servers
                              within ``LIVE_WITHIN`` s.
``presence-immediate-removal`` no flicker: nobody is announced gone while their tab had
                              a working link less than ``GRACE_AT_LEAST`` s earlier.
``half-open-connection-ghost`` a tab gone without a goodbye is off the online list within
                              ``GHOST_WITHIN`` s.
``missing-heartbeat``         a tab on a half-open link is back on a live one within
                              ``HALF_OPEN_WITHIN`` s.
``websocket-proxy-timeout``   the idle proxy never cuts a working link.
``websocket-thundering-herd`` of the tabs dropped together (5 or more), at most
                              ``HERD_SHARE`` (80%) make their first new attempt within the same
                              ``HERD_WINDOW`` s.
``unbounded-message-queue``   a server's memory grows by at most ``MEMORY_BOUND`` bytes
                              while a tab reads at 1 KiB/s.
``missing-reconnection-logic`` after each fault, every tab it dropped is back (a live link,
                              its server heard) within ``RECOVER_WITHIN`` s of its end.

A failure names the seed, what happened against what was expected, every ID that same
schedule trips, and a timeline of the schedule across every server. Glue that raises
stops the run and fails every check. The reference takes about 0.1 s of CPU per
schedule, 5-8 s for the 60 (``make bench`` prints the whole grade against its 10 s
budget).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge, not_reached
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.capstone.interface import learner_module
from rtlab.topics.capstone.sim import Schedule, Trace, chaos_schedule, run

SEEDS = list(range(11_000, 11_060))
# Each schedule is a whole app under nine faults (about 0.1 s of CPU): 60 of them fit the
# issue's 10 s budget, where the smaller graders run 200 scenarios in 2 s.
MIN_SCENARIOS = 50
BUDGET_SECONDS = 10.0  # the whole grade, on a 2-core machine (make bench)
SCENARIO_SECONDS = 5.0
LIVE_WITHIN = 1.0
GRACE_AT_LEAST = 2.0
GHOST_WITHIN = 8.0
HALF_OPEN_WITHIN = 5.0
RECOVER_WITHIN = 5.0
HERD_WINDOW, HERD_SHARE, HERD_AT_LEAST = 0.05, 0.8, 5
MEMORY_BOUND = 32 * 1024
SETTLED = 3.0

LOST = "reconnection-state-loss"
ORDER = "missing-message-ordering"
BACKFILL = "join-without-backfill"
ADAPTER = "socket-io-no-adapter"
FLICKER = "presence-immediate-removal"
GHOST = "half-open-connection-ghost"
HEARTBEAT = "missing-heartbeat"
PROXY = "websocket-proxy-timeout"
HERD = "websocket-thundering-herd"
QUEUE = "unbounded-message-queue"
RECOVER = "missing-reconnection-logic"

CHECKS = {c.id: c for c in [
    Check(LOST, "Zero edits and zero chat messages lost, across every fault",
          "Keep each post (edit or chat) until it comes back in the log, and send the "
          "unacknowledged ones again after every reconnect: the log ignores an id it has. "
          "Resume with since= (your ordering Client does it) so the server sends what you "
          "missed; give a first visit the whole document."),
    Check(ORDER, "No chat message shown twice or out of order",
          "Show only what your ordering Client.receive returns: it drops duplicates (a "
          "backfill that overlaps live messages) and holds early arrivals until the gap "
          "is filled."),
    Check(BACKFILL, "A tab that joins a room with history sees some of it",
          "On a join with since=None, answer with the document, then 'joined' with "
          "after = latest - BACKFILL and the log's entries after it."),
    Check(ADAPTER, f"A message reaches the tabs on other servers within {LIVE_WITHIN:g} s",
          "Append every post to the backplane, never to this server's memory alone, and "
          "fan out what comes back in published(): every server hears every entry. After "
          "reconnected() read the log from the last seq you fanned out."),
    Check(FLICKER, "Nobody is announced gone during a reconnect",
          f"Build the presence tracker with a grace period (at least {GRACE_AT_LEAST:g} s, "
          "longer than a reconnect), and refresh it (heartbeat) on every frame, pongs "
          "included, so an idle user is not taken for a silent one."),
    Check(GHOST, f"A tab gone without a word is off the list within {GHOST_WITHIN:g} s",
          "The server must find dead links itself: poll a server-side Heartbeat per "
          "connection in tick() and close the ones it declares dead; give the presence "
          "tracker a TTL shorter than the bound minus the grace."),
    Check(HEARTBEAT, f"A half-open link is noticed and replaced within {HALF_OPEN_WITHIN:g} s",
          "Poll the client's Heartbeat in poll(): send its pings, and when it says the "
          "link is dead return ('close', reason): nothing else tells a tab its link died."),
    Check(PROXY, "The idle proxy never cuts a working link",
          "The proxy cuts a link after 3 s without a frame: the heartbeat interval must be "
          "shorter than that (the reference pings after 1 s of silence)."),
    Check(HERD, "Tabs dropped together do not come back together",
          f"Jitter every delay (at most {HERD_SHARE:.0%} of the tabs dropped together may "
          f"try within the same {HERD_WINDOW * 1000:g} ms): your Backoff with full or "
          "decorrelated jitter, reset after a success."),
    Check(QUEUE, f"A slow reader costs a server at most {MEMORY_BOUND // 1024} KiB",
          "Queue every client's frames in your backpressure Room (bounded outboxes, a "
          "close 4000 when events no longer fit), and hand them out only in take()."),
    Check(RECOVER, f"Every tab is back within {RECOVER_WITHIN:g} s of each fault's end",
          "Always try again (refused attempts too) with a capped backoff (a few seconds "
          "at most), and reset it after a success."),
]}
IDS = tuple(CHECKS)


@dataclass
class Run:
    seed: int
    schedule: Schedule
    trace: Trace | None = None
    error: str | None = None
    timed_out: bool = False


@dataclass
class Found(Verdict):
    """A verdict with what the timeline should show: which tab, when."""

    tab: str | None = None
    at: float | None = None


def _s(t: float) -> str:
    return f"t={t:.2f} s"


def scenario(module: ModuleType, seed: int) -> Run:
    schedule = chaos_schedule(seed)
    result = Run(seed, schedule)
    try:
        with time_limit(SCENARIO_SECONDS, f"chaos schedule seed {seed}"):
            result.trace = run(learner_module(module), schedule)
    except LearnerTimeout as error:
        result.error, result.timed_out = str(error), True
    except AttributeError as error:
        result.error = describe_error(error)
    return result


# -- the checks, one function per ID -----------------------------------------------

def _alive(trace: Trace) -> list[str]:
    return [t for t in trace.opened_at if t not in trace.quit_at]


def _settled(trace: Trace) -> list[str]:
    """The tabs on a live link for the last ``SETTLED`` s: the ones the account judges
    (a tab still away at the end is the recovery check's business)."""
    since = trace.ended_at - SETTLED
    return [tab for tab in _alive(trace) if any(
        link.tab == tab and link.healthy is not None and link.healthy <= since
        and link.ended is None for link in trace.links)]


def check_lost(trace: Trace) -> Verdict:
    in_log = {str(e["id"]) for e in trace.log}
    old = trace.ended_at - SETTLED  # entries younger than that may still be on their way
    edits = {str(e["id"]) for e, t in zip(trace.log, trace.appended, strict=True)
             if e.get("kind") == "edit" and t <= old}
    settled = _settled(trace)
    for t, tab, kind, ident, _ in trace.posts:
        if tab in settled and ident not in in_log:
            return Found("failed", f"{tab} posted {kind} {ident!r} at {_s(t)}; by the end "
                         f"({_s(trace.ended_at)}) it never reached the log: lost.",
                         "every post reaches the log, sent again after a reconnect", tab, t)
    for tab in settled:
        doc = trace.documents.get(tab, set())
        missing = sorted(edits - doc)
        if missing:
            return Found("failed", f"At the end {tab}'s document lacks {len(missing)} of the "
                         f"{len(edits)} edits (e.g. {missing[0]!r}).",
                         "every open tab converges on every edit", tab, trace.ended_at)
    chats = [int(e["seq"]) for e, t in zip(trace.log, trace.appended, strict=True)
             if e.get("kind") == "chat" and t <= old]
    for tab in settled:
        seen = {seq for _, seq, _ in trace.shown.get(tab, [])}
        if not seen:
            continue
        gaps = [s for s in chats if s > min(seen) and s not in seen]
        if gaps:
            when = trace.appended[gaps[0] - 1]
            return Found("failed", f"{tab} never showed chat message seq {gaps[0]} (sent at "
                         f"{_s(when)}), {len(gaps)} missing in all since its first one.",
                         "every chat message since a tab's first one is shown by the end",
                         tab, when)
    return PASS


def check_order(trace: Trace) -> Verdict:
    for tab, shown in trace.shown.items():
        for (t0, a, _), (t1, b, ident) in pairwise(shown):
            if b <= a:
                what = "again" if b == a or any(s == b for _, s, _ in shown[:-1]) else \
                    "out of order"
                return Found("failed", f"{tab} showed seq {b} ({ident}) at {_s(t1)} after seq "
                             f"{a} at {_s(t0)}: {what}.",
                             "each message once, in seq order", tab, t1)
    return PASS


def check_backfill(trace: Trace) -> Verdict:
    chats = [(trace.appended[int(e["seq"]) - 1], int(e["seq"])) for e in trace.log
             if e.get("kind") == "chat"]
    judged = 0
    for tab, opened in trace.opened_at.items():
        before = [seq for t, seq in chats if t < opened]
        if not before or tab in trace.quit_at:
            continue
        shown = trace.shown.get(tab, [])
        judged += 1
        if not shown or shown[0][1] > max(before):
            first = f"its first was log entry {shown[0][1]}" if shown else "it showed none"
            return Found("failed", f"{tab} joined at {_s(opened)}, when the room had "
                         f"{len(before)} chat messages; it was shown none of them ({first}).",
                         "a first join comes with the room's recent history", tab, opened)
    return PASS if judged else not_reached("no tab joined a room with history")


def _steady(trace: Trace, tab: str, a: float, b: float) -> str | None:
    """The server ``tab`` was on, healthy and untouched by faults, all through [a, b]."""
    for link in trace.links:
        if link.tab == tab and link.healthy is not None and link.healthy <= a and (
                link.ended is None or link.ended > b):
            return link.server
    return None


def check_adapter(trace: Trace) -> Verdict:
    shown_at: dict[tuple[str, str], float] = {}
    for tab, shown in trace.shown.items():
        for t, _, ident in shown:
            shown_at.setdefault((tab, ident), t)
    slow = [(f.at, f.end, f.target) for f in trace.schedule.faults if f.kind == "slow-client"]
    judged = 0
    for t, sender, kind, ident, server in trace.posts:
        if kind != "chat" or server is None:
            continue
        end = t + LIVE_WITHIN
        if any(a - 0.1 <= end and t <= b for a, b in trace.redis_down) or \
                _steady(trace, sender, t, t + 0.1) != server:
            continue
        for tab in trace.opened_at:
            if tab == sender or any(a <= end and t <= b and tab in who for a, b, who in slow):
                continue
            where = _steady(trace, tab, t, end)
            if where is None or where == server:
                continue
            judged += 1
            if shown_at.get((tab, ident), end + 1) > end:
                return Found("failed", f"{sender} said {ident!r} on {server} at {_s(t)}; {tab}, "
                             f"steady on {where}, had not shown it by {_s(end)}.",
                             f"every tab on every server shows it within {LIVE_WITHIN:g} s",
                             tab, t)
    return PASS if judged else not_reached("no message crossed servers in a steady spell")


def check_flicker(trace: Trace) -> Verdict:
    for t, event, user in trace.presence:
        if event != "leave" or trace.quit_at.get(user, t + 1) <= t:
            continue
        for link in trace.links:
            if link.tab == user and link.opened <= t and (
                    link.ended is None or link.ended > t - GRACE_AT_LEAST):
                ended = "still open" if link.ended is None or link.ended > t else \
                    f"ended {_s(link.ended)} ({link.how})"
                return Found("failed", f"{user} was announced gone at {_s(t)}, but its link to "
                             f"{link.server} was {ended}: a flicker (the tab is still there).",
                             f"no leave within {GRACE_AT_LEAST:g} s of a working link",
                             user, t)
    return PASS


def check_ghost(trace: Trace) -> Verdict:
    judged = 0
    for tab, gone in trace.quit_at.items():
        late = [(t, online) for t, online in trace.online if t >= gone + GHOST_WITHIN]
        if not late:
            continue
        judged += 1
        for t, online in late:
            if tab in online:
                return Found("failed", f"{tab} vanished at {_s(gone)} without a goodbye; at "
                             f"{_s(t)} it is still online: a ghost.",
                             f"off the list within {GHOST_WITHIN:g} s", tab, t)
    return PASS if judged else not_reached("no tab vanished early enough to judge")


def check_half_open(trace: Trace) -> Verdict:
    judged = 0
    for index, fault in enumerate(trace.schedule.faults):
        if fault.kind != "half-open":
            continue
        for tab in sorted(trace.dropped.get(index, set())):
            if tab in trace.quit_at:
                continue
            judged += 1
            back = trace.healthy_by(tab, fault.at + 1e-6)
            if back is None or back > fault.at + HALF_OPEN_WITHIN:
                seen = "never" if back is None else _s(back)
                return Found("failed", f"{tab}'s link went half-open at {_s(fault.at)}; it was "
                             f"back on a live link {seen}.",
                             f"a new live link within {HALF_OPEN_WITHIN:g} s", tab, fault.at)
    return PASS if judged else not_reached("no link went half-open")


def check_proxy(trace: Trace) -> Verdict:
    if trace.proxy_cuts:
        t, tab, server = trace.proxy_cuts[0]
        return Found("failed", f"The idle proxy cut {tab}'s working link to {server} at {_s(t)} "
                     f"({len(trace.proxy_cuts)} cuts in this run).",
                     "a frame at least every 3 s on every link", tab, t)
    return PASS


def check_herd(trace: Trace) -> Verdict:
    judged = 0
    for index, fault in enumerate(trace.schedule.faults):
        dropped = trace.dropped.get(index, set())
        if len(dropped) < HERD_AT_LEAST:
            continue
        judged += 1
        first: dict[str, float] = {}
        for t, tab in trace.attempts:  # each tab's first attempt after the fault
            if tab in dropped and t >= fault.at:
                first.setdefault(tab, t)
        tries = sorted(first.values())
        limit = int(HERD_SHARE * len(dropped) + 1e-9)
        for i, t in enumerate(tries):
            together = sum(1 for u in tries[i:] if u < t + HERD_WINDOW)
            if together > HERD_SHARE * len(dropped) + 1e-9:
                return Found("failed", f"After '{fault.describe()}', {together} of the "
                             f"{len(dropped)} tabs dropped together made their first new "
                             f"attempt within {HERD_WINDOW * 1000:g} ms of {_s(t)}: a "
                             "thundering herd.",
                             f"at most {limit} of them in any {HERD_WINDOW * 1000:g} ms",
                             None, t)
    return PASS if judged else not_reached(f"no fault dropped {HERD_AT_LEAST} tabs at once")


def check_queue(trace: Trace) -> Verdict:
    first: dict[str, int] = {}
    for t, instance, size in trace.memory:  # compared at equal connection counts only
        base = first.setdefault(instance, size)
        if size - base > MEMORY_BOUND:
            return Found("failed", f"While a tab read at 1 KiB/s, {instance.split('#')[0]} grew "
                         f"from {base / 1024:.0f} KiB to {size / 1024:.0f} KiB by {_s(t)}: "
                         "its queue for the slow reader has no bound.",
                         f"at most {MEMORY_BOUND // 1024} KiB more", None, t)
    return PASS if trace.memory else not_reached("no slow reader was connected")


def check_recover(trace: Trace) -> Verdict:
    judged = 0
    others = [(f.at, f.end + HALF_OPEN_WITHIN, set(f.target.split())) for f in
              trace.schedule.faults if f.kind in ("half-open", "slow-client", "quit")]
    for index, fault in enumerate(trace.schedule.faults):
        if fault.kind not in ("restart", "deploy", "outage", "blip"):
            continue
        deadline = fault.end + RECOVER_WITHIN
        for later in trace.schedule.faults:  # servers failing again meanwhile: a longer fault
            if later.kind in ("restart", "deploy", "outage") and fault.at < later.at <= deadline:
                deadline = max(deadline, later.end + RECOVER_WITHIN)
        if deadline > trace.ended_at:
            continue
        for tab in sorted(trace.dropped.get(index, set())):
            if tab in trace.quit_at or any(a <= deadline and fault.at <= b and tab in who
                                           for a, b, who in others):
                continue
            judged += 1
            back = trace.healthy_by(tab, fault.at + 1e-6)
            if back is None or back > deadline:
                seen = "was not back by the end" if back is None else f"was back at {_s(back)}"
                return Found("failed", f"'{fault.describe()}' ended at {_s(fault.end)}; {tab} "
                             f"{seen}.", f"back within {RECOVER_WITHIN:g} s", tab, fault.end)
    return PASS if judged else not_reached("no fault dropped a tab early enough to judge")


JUDGES = {LOST: check_lost, ORDER: check_order, BACKFILL: check_backfill,
          ADAPTER: check_adapter, FLICKER: check_flicker, GHOST: check_ghost,
          HEARTBEAT: check_half_open, PROXY: check_proxy, HERD: check_herd,
          QUEUE: check_queue, RECOVER: check_recover}


def verdicts(result: Run) -> dict[str, Verdict]:
    """Every ID's verdict on one run (all failed, alike, when the run stopped early)."""
    if result.error is not None:
        stopped = Found("failed", f"The run stopped: {result.error}",
                        "the glue answers every call in time")
        return dict.fromkeys(IDS, stopped)
    trace = result.trace
    assert trace is not None
    if trace.error is not None:
        error = trace.error
        stopped = Found("failed", f"{error.where} raised at {_s(error.at)}: "
                        f"{describe_error(error.error)} A server or tab that raises is down.",
                        "the glue never raises, whatever arrives", None, error.at)
        return dict.fromkeys(IDS, stopped)
    return {id: JUDGES[id](trace) for id in IDS}


def illustrate(result: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """The schedule, then the timeline across all servers around the failure."""
    trace = result.trace
    lines = [f"({result.schedule.describe()})"]
    if trace is not None:  # every ID this one schedule trips, not only the one reported
        tripped = [id for id, v in verdicts(result).items() if v.status == "failed"]
        lines.append(f"(this schedule trips: {', '.join(tripped)})")
    lines += [f"  {f.describe()}" for f in result.schedule.faults]
    if trace is None:
        return lines, None
    tab = getattr(verdict, "tab", None)
    at = getattr(verdict, "at", None)
    at = trace.ended_at if at is None else at
    rows = [(t, text) for t, text in trace.timeline
            if text.startswith(("FAULT", "ERROR", "Redis")) or " starts" in text
            or (tab is not None and (text.startswith(f"{tab} ") or text.endswith(f" {tab}")))]
    before = [r for r in rows if r[0] <= at + 1e-9][-14:]
    after = [r for r in rows if r[0] > at + 1e-9][:4]
    lines += [f"t={t:6.2f} s  {text[:150]}" for t, text in before + after]
    return lines, None


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every chaos schedule (or only ``seeds``) and return one finding per ID."""
    judged: dict[str, list[Judged[Run]]] = defaultdict(list)
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        result = scenario(module, seed)
        runs += 1
        for id, verdict in verdicts(result).items():
            judged[id].append(Judged(seed, verdict, result))
        failed = {id for id, items in judged.items()
                  if any(j.verdict.status == "failed" for j in items)}
        if failed == set(IDS) or result.timed_out:
            break
    findings = [judge(CHECKS[id], judged[id], illustrate) for id in IDS]
    return Report("capstone", "", findings, scenarios=runs)


def bench_capstone_grade() -> None:
    """``make bench``: the whole capstone grade of the reference, against its 10 s budget."""
    import time
    from pathlib import Path

    from rtlab import course
    from rtlab.learner import load_module

    path = Path(course.load().exercise("capstone").solution_path)
    started = time.perf_counter()
    report = grade(load_module(path, "capstone_bench"))
    seconds = time.perf_counter() - started
    state = "within budget" if seconds <= BUDGET_SECONDS else "OVER BUDGET"
    print(f"  capstone grade: {report.scenarios} chaos schedules in {seconds:.2f} s "
          f"({1000 * seconds / max(report.scenarios, 1):.0f} ms each), "
          f"{'passed' if report.passed else 'FAILED'}   [budget: {BUDGET_SECONDS:g} s: {state}]")
