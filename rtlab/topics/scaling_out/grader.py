"""Grader of the scaling-out exercise (``exercises/scaling.py``).

It replays 200 seeded schedules (:func:`rtlab.topics.scaling_out.sim.graded_schedule`)
through fresh ``Relay`` objects, one per server, in virtual time: 2-4 servers, 6-12
clients in 2-3 rooms, about 0.4 messages per client per second for 15 s, then 3 quiet
seconds. Every schedule has faults: servers that die (and restart with a fresh relay),
drained servers, a Redis restart, pub/sub connections that drop, clients that blip,
move to another server or quit, and entries a foreign producer wrote into a stream.

``socket-io-no-adapter`` (one room, whichever server its members are on)
    - every message reaches every member of its room exactly once by the end of the
      run, also across Redis restarts and dropped subscriptions, while the member is
      connected; nothing reaches a client that is not a member on that server, and
      nothing no client sent (foreign entries) reaches anyone;
    - presence is one answer: a connected member is on its room's list within
      ``PRESENT_WITHIN`` (1 s) of connecting, and a member gone for good is off it
      within ``GHOST_WITHIN`` (10 s), even when its server died without a word.
``sticky-session-bypass`` (state that lands on a server that does not hold it)
    - a client that comes back, on any server, with the id of the last message it got,
      receives every message of its room it missed meanwhile, exactly once: nothing
      lost, nothing it had already.

Messages sent within ``LAG`` (0.5 s) after a member's join or return (or before it goes
for good, or is cut off from Redis until it goes), and
messages whose server died within ``ACCEPT`` (0.3 s) of sending them, may arrive or not
(but never twice). A relay that raises fails both checks: it takes its server down.
The reference takes about 6 ms per scenario (200 in about 1.2 s on an idle core).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.scaling_out.interface import learner_module, stream_id_order
from rtlab.topics.scaling_out.sim import (
    ACCEPT,
    GHOST_WITHIN,
    LAG,
    PRESENT_WITHIN,
    ClientPlan,
    Schedule,
    Session,
    Trace,
    graded_schedule,
    run,
)

SEEDS = list(range(10_000, 10_200))
SCENARIO_SECONDS = 5.0
CATCH_UP = 0.15  # a returning client connected this long (Redis up) could have caught up

ADAPTER = "socket-io-no-adapter"
STICKY = "sticky-session-bypass"
CHECKS = {
    ADAPTER: Check(
        ADAPTER, "Every member gets every message of its room once, whichever server",
        "Hand every message to the backplane (Publish) instead of delivering it yourself, "
        "and deliver only what comes back from the stream, to the local members of the "
        "room, each from its own cursor (the id of the last entry it got): then your own "
        "message is not delivered twice. Pub/sub loses what is announced while it is "
        "down: in reconnected(), Read every room from your clients' cursors, never from "
        "'$'. Presence: Present with a TTL on join, refreshed on tick, Absent on leave.",
    ),
    STICKY: Check(
        STICKY, "A client that lands on another server resumes exactly where it was",
        "A returning client's last_seen is the only state it carries; this server may "
        "never have seen its room. Read the room's stream after last_seen (the shared "
        "state in Redis, not this server's memory) and deliver only entries after it: "
        "nothing missed, nothing twice. Use last_seen as that client's cursor.",
    ),
}
IDS = (ADAPTER, STICKY)


@dataclass
class Run:
    seed: int
    schedule: Schedule
    trace: Trace | None = None
    error: str | None = None
    timed_out: bool = False


@dataclass
class Finding(Verdict):
    """A verdict with what the timeline should show: who, what, when."""

    client: str | None = None
    token: str | None = None
    at: float | None = None


def scenario(module: ModuleType, seed: int) -> Run:
    schedule = graded_schedule(seed)
    result = Run(seed, schedule)
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {seed}"):
            result.trace = run(learner_module(module).Relay, schedule)
    except LearnerTimeout as error:
        result.error, result.timed_out = str(error), True
    except AttributeError as error:
        result.error = describe_error(error)
    return result


def _s(t: float) -> str:
    return f"t={t:.2f} s"


def _crashed(result: Run) -> Verdict | None:
    if result.error is not None:
        return Finding("failed", f"The scenario stopped: {result.error}",
                       "the relay answers every call with a list of commands")
    assert result.trace is not None
    if result.trace.error is not None:
        error = result.trace.error
        return Finding("failed", f"{error} (at {_s(error.at)}). A relay that raises takes "
                       "its server down, and every room on it.",
                       "the relay never raises, whatever arrives", at=error.at)
    return None


@dataclass
class _Expect:
    token: str
    text: str
    room: str
    sender: str
    t: float
    effective: float  # when Redis could first see it
    accepted: bool


def _messages(schedule: Schedule) -> dict[str, _Expect]:
    out: dict[str, _Expect] = {}
    room_of = {p.id: p.room for p in schedule.clients}
    plans = {p.id: p for p in schedule.clients}
    for m in schedule.sends:
        session = next(s for s in plans[m.client].sessions
                       if s.start <= m.t and (s.end is None or m.t < s.end))
        up = schedule.redis_up_from(m.t)
        born = schedule.alive(session.server, m.t)
        accepted = born is not None and schedule.alive(session.server, up + ACCEPT) == born
        out[m.token] = _Expect(m.token, f"{m.token} from {m.client}", room_of[m.client],
                               m.client, m.t, up, accepted)
    return out


def _chance(schedule: Schedule, session: Session, t: float, needed: float = LAG,
            subscribed: bool = True) -> bool:
    """Was the client connected in ``session``, with Redis up (and its server subscribed,
    if ``subscribed``), for ``needed`` s after ``t``? (A Redis restart is a blip too.)"""
    a, b = max(t, session.start), schedule.until if session.end is None else session.end
    down = list(schedule.redis_down)
    if subscribed:
        down += [(x, y) for s, x, y in schedule.blips if s == session.server]
    deaf = sum(max(0.0, min(b, y) - max(a, x)) for x, y in _merged(down))
    return b - a - deaf >= needed


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for x, y in sorted(spans):
        if out and x <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], y))
        else:
            out.append((x, y))
    return out


def _had_a_chance(schedule: Schedule, plan: ClientPlan, t: float) -> bool:
    """Was the client connected, its server hearing Redis, for LAG s in a session after t?"""
    return any(_chance(schedule, s, t) for s in plan.sessions)


def _came_back(plan: ClientPlan, trace: Trace, token: str, t: float) -> int | None:
    """The session in which ``plan``'s client came back after ``t`` carrying a last_seen
    older than the message: its catch-up there was what had to bring the message."""
    entry = trace.seen_by_backplane[token]
    for i, s in enumerate(plan.sessions):
        served = any(d.client == plan.id and d.session == i for d in trace.deliveries)
        if i == 0 or s.start <= t or not (served or _chance(trace.schedule, s, s.start,
                                                            CATCH_UP, subscribed=False)):
            continue  # too short a visit to catch up, and nothing delivered in it
        last = trace.joins.get((plan.id, i))
        if last is None or not _resumable(last):
            return None
        return i if stream_id_order(last) < stream_id_order(entry) else None
    return None


def check_messages(result: Run) -> dict[str, Verdict]:
    """Both IDs judged from the same deliveries: who got what, how often, where."""
    crashed = _crashed(result)
    if crashed is not None:
        return {ADAPTER: crashed, STICKY: crashed}
    trace, schedule = result.trace, result.schedule
    assert trace is not None
    found: dict[str, list[Finding]] = {ADAPTER: [], STICKY: []}
    messages = _messages(schedule)
    room_of = {p.id: p.room for p in schedule.clients}
    got: dict[tuple[str, str], list[tuple[float, int, str]]] = defaultdict(list)
    got_ids: dict[tuple[str, str], list[str]] = defaultdict(list)
    for d in trace.deliveries:
        token = d.text.split(" ", 1)[0] if d.text else ""
        m = messages.get(token)
        where = f"{d.server} delivered {d.text!r} (id {d.id!r}) to {d.client} at {_s(d.t)}"
        if d.session < 0:
            found[ADAPTER].append(Finding("failed", f"{where}, but {d.client} is not connected "
                                          f"to {d.server} then.", "deliver only to clients "
                                          "connected to this server", d.client, token, d.t))
        elif m is None or m.text != d.text:
            found[ADAPTER].append(Finding("failed", f"{where}: no client sent that. A foreign "
                                          "entry in the stream must be skipped, not shown.",
                                          "only messages clients sent reach clients",
                                          d.client, None, d.t))
        elif d.room != room_of[d.client] or m.room != d.room:
            found[ADAPTER].append(Finding("failed", f"{where}: {d.client} is in room "
                                          f"{room_of[d.client]}, the message was for {m.room}.",
                                          "a message reaches the members of its own room",
                                          d.client, token, d.t))
        else:
            got[(d.client, token)].append((d.t, d.session, d.server))
            got_ids[(d.client, token)].append(d.id)
    for plan in schedule.clients:
        anchor = plan.sessions[0].start
        for i, s in enumerate(plan.sessions):
            if i > 0 and trace.joins.get((plan.id, i)) is None:
                anchor = s.start  # it came back with nothing to resume from: a fresh start
        for m in messages.values():
            if m.room != plan.room:
                continue
            copies = got.get((plan.id, m.token), [])
            if len(copies) > 1:
                (t1, s1, v1), (t2, s2, v2) = copies[0], copies[1]
                if s1 != s2 and _resumable(got_ids[(plan.id, m.token)][0]):
                    found[STICKY].append(Finding(
                        "failed", f"{plan.id} got {m.text!r} from {v1} at {_s(t1)}, then came "
                        f"back on {v2} with last_seen={trace.joins.get((plan.id, s2))!r} "
                        f"and got it again at {_s(t2)}.", "a returning client gets only what "
                        "it missed: entries after its last_seen", plan.id, m.token, t2))
                else:
                    found[ADAPTER].append(Finding(
                        "failed", f"{plan.id} got {m.text!r} {len(copies)} times on {v1}, "
                        f"at {', '.join(_s(c[0]) for c in copies)}" + (
                            " (its own message: delivered when sent and again when it came "
                            "back from the backplane?)" if m.sender == plan.id else "") + ".",
                        "each member gets each message exactly once", plan.id, m.token, t2))
                continue
            if copies:
                continue
            optional = (not m.accepted or m.t < anchor + LAG
                        or any(s.start <= m.t < s.start + LAG for s in plan.sessions[1:])
                        or not _had_a_chance(schedule, plan, m.effective))
            if optional:
                continue
            sender_server = next(s.server for s in next(
                p for p in schedule.clients if p.id == m.sender).sessions
                if s.start <= m.t and (s.end is None or m.t < s.end))
            if m.token not in trace.seen_by_backplane:
                found[ADAPTER].append(Finding(
                    "failed", f"{m.sender} sent {m.text!r} on {sender_server} at {_s(m.t)}; it "
                    f"never reached Redis, so {plan.id} (in {plan.room}, on "
                    f"{_where(schedule, plan.id, m.t)}) never got it.",
                    f"every message reaches every member of {m.room} through the backplane",
                    plan.id, m.token, m.t))
            elif (back := _came_back(plan, trace, m.token, m.t)) is not None or \
                    trace.session_at(plan.id, m.t) is None:
                if back is None:
                    continue  # away when it was sent, and no fair chance to catch up since
                session = plan.sessions[back]
                found[STICKY].append(Finding(
                    "failed", f"{m.sender} sent {m.text!r} at {_s(m.t)}; {plan.id} "
                    f"(away, or about to go) came back on {session.server} at {_s(session.start)} "
                    f"with last_seen={trace.joins.get((plan.id, back))!r} and never got it.",
                    "a returning client gets every message after its last_seen, whichever "
                    "server it lands on", plan.id, m.token, session.start))
            else:
                found[ADAPTER].append(Finding(
                    "failed", f"{m.sender} sent {m.text!r} on {sender_server} at {_s(m.t)}; "
                    f"{plan.id}, connected to {_where(schedule, plan.id, m.t)} all along, "
                    f"never got it (by the end, {_s(trace.ended_at)}).",
                    "every connected member gets it, also across Redis restarts and dropped "
                    "subscriptions", plan.id, m.token, m.t))
    presence = _check_presence(result)
    if presence is not None:
        found[ADAPTER].append(presence)
    return {id: min(f, key=lambda v: v.at or 0.0) if f else PASS for id, f in found.items()}


def _resumable(entry_id: str) -> bool:
    """Could a client resume after this id? (Not if it was no stream id at all.)"""
    try:
        stream_id_order(entry_id)
    except ValueError:
        return False
    return True


def _where(schedule: Schedule, client: str, t: float) -> str:
    plan = next(p for p in schedule.clients if p.id == client)
    for s in plan.sessions:
        if s.start <= t and (s.end is None or t < s.end):
            return s.server
    return "no server"


def _check_presence(result: Run) -> Finding | None:
    trace, schedule = result.trace, result.schedule
    assert trace is not None
    for t, room, online in trace.presence:
        if any(a <= t and t - PRESENT_WITHIN < b for a, b in schedule.redis_down):
            continue
        for plan in schedule.clients:
            if plan.room != room:
                continue
            now = next((s for s in plan.sessions if s.start <= t and (s.end is None
                                                                      or t < s.end)), None)
            if now is not None and t - now.start >= PRESENT_WITHIN and plan.id not in online:
                return Finding("failed", f"{plan.id} has been connected to {now.server} since "
                               f"{_s(now.start)}, but at {_s(t)} the presence list of {room} "
                               f"is {sorted(online)}: other servers do not see {plan.id}.",
                               f"a connected member is on the list within {PRESENT_WITHIN:g} s, "
                               "and stays on it (refresh the key before its TTL runs out)",
                               plan.id, None, t)
            last = plan.sessions[-1]
            if now is None and last.end is not None and t - last.end >= GHOST_WITHIN \
                    and plan.id in online:
                how = ("its server died" if last.how == "death" else "it left")
                return Finding("failed", f"{plan.id} has been gone since {_s(last.end)} ({how}, "
                               f"on {last.server}), but at {_s(t)} the presence list of {room} "
                               f"still shows it: a ghost.",
                               f"off the list within {GHOST_WITHIN:g} s (a TTL on the key)",
                               plan.id, None, t)
    return None


def illustrate(result: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    if result.trace is None:
        return [], None
    client = getattr(verdict, "client", None)
    token = getattr(verdict, "token", None)
    at = getattr(verdict, "at", None)
    at = result.trace.ended_at if at is None else at
    faults = ("DIES", "REDIS", "drops", "drained", "starts", "foreign")
    rows = [(t, text) for t, text in result.trace.timeline
            if (client is not None and f"'{client}'" in text) or (token and f"{token} " in text)
            or any(f in text for f in faults)]
    before = [r for r in rows if r[0] <= at + 1e-9]
    after = [r for r in rows if r[0] > at + 1e-9][:3]
    chosen = before[-13:] + after
    lines = [f"({result.schedule.describe()})"]
    lines += [f"t={t:6.2f} s  {text if len(text) < 150 else text[:147] + '...'}"
              for t, text in chosen]
    return lines, None


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    judged: dict[str, list[Judged[Run]]] = {id: [] for id in IDS}
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        result = scenario(module, seed)
        runs += 1
        for id, verdict in check_messages(result).items():
            judged[id].append(Judged(seed, verdict, result))
        failed = {id for id, items in judged.items()
                  if any(j.verdict.status == "failed" for j in items)}
        if failed == set(IDS) or result.timed_out:
            break
    findings = [judge(CHECKS[id], judged[id], illustrate) for id in IDS]
    return Report("scaling", "", findings, scenarios=runs)
