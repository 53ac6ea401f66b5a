"""Grader of the backpressure exercise (``exercises/backpressure.py``).

It replays 200 seeded schedules (:func:`rtlab.topics.backpressure.sim.scenario`)
through the learner's ``Room`` in virtual time: rooms of 5-9 clients (fast readers,
a 2G-slow one or two, one that pauses, one that stops reading, often one that stops
and vanishes, sometimes a guest and a late joiner), bursty chat events, live feeds,
cursor bursts at 120 Hz and permission changes. What each ID checks:

``backpressure-oom`` (a slow client must not grow the server or slow the others)
    - at three instants, the frames reachable from the room (counted once per
      reference, so once per client owed them) are at most ``max_bytes`` per client
      that is behind, plus what the fast clients were owed then;
    - once every client has left, the room holds at most ``max_bytes`` of frames;
    - fast clients get every event within ``FAST_LATENCY`` (50 ms).
``unbounded-message-queue`` (every outbox is bounded in bytes, with a policy per kind)
    - what a client is sent later, of frames the room had already formatted at an
      instant, is at most ``max_bytes`` (a bound in messages is not one in bytes);
    - events are never dropped silently: in order, and all of them unless the client
      is disconnected with a code in 4000-4999, and disconnected only when its
      undelivered events exceed half of ``max_bytes`` (else live data could go);
    - at the end, each live key shows its newest value (drop the oldest).
``cursor-high-frequency`` (throttled, leading edge, last position always arrives)
    - the first move of a burst is formatted at once; a fast client receives one
      position per key per ``cursor_interval`` at most; the last position of each
      burst reaches fast clients within the interval plus a tick; at the end every
      client shows each cursor's final position.
``broadcast-amplification``
    - one publication is formatted once, not once per recipient.
``broadcast-n-queries``
    - store queries stay within two per join and per permission change plus one per
      broadcast (publish or tick), whatever the room size;
    - nothing published while a user may not read reaches them, and after a grant
      the events published reach them (a cache must be refreshed).

The reference takes about 7 ms per scenario (200 in about 1.4 s of CPU, measured).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.backpressure.sim import (
    FAST_LATENCY,
    MAX_TICK_GAP,
    Client,
    Delivery,
    Publish,
    Scenario,
    Trace,
    backlog,
    run,
    scenario,
)

SEEDS = list(range(8000, 8200))
SCENARIO_SECONDS = 5.0
EPS = 1e-9

OOM = "backpressure-oom"
QUEUE = "unbounded-message-queue"
CURSOR = "cursor-high-frequency"
AMPLIFY = "broadcast-amplification"
QUERIES = "broadcast-n-queries"
CHECKS = {
    OOM: Check(
        OOM, "A slow client neither grows the server's memory nor slows the others",
        "Give every client its own outbox with a limit in bytes (not in messages): count "
        "len(frame) as you queue and take. When it is full, make room by policy (see "
        "unbounded-message-queue); never wait for a slow client and never let its backlog "
        "grow. On leave(), drop the client's outbox."),
    QUEUE: Check(
        QUEUE, "Every outbox is bounded in bytes, with a policy per kind of message",
        "Per kind: live data drops the oldest (a deque you pop from the left), cursors keep "
        "the newest per key (a dict), events are never dropped: if they alone no longer fit, "
        "return (client, 4000) from publish() so the client reconnects and resyncs. Evict "
        "live data before you give up on a client."),
    CURSOR: Check(
        CURSOR, "Cursors are throttled, start at once and always end where the mouse stopped",
        "Per cursor key remember when you last sent it. A move after at least "
        "cursor_interval goes out at once; a move inside the interval replaces a pending "
        "one, and tick(now) sends the pending move once the interval is over. In the "
        "outbox, a newer cursor replaces the queued one for the same key."),
    AMPLIFY: Check(
        AMPLIFY, "A broadcast formats its message once",
        "Call encode() once per publication, before the loop over recipients, and queue "
        "the same bytes for everyone."),
    QUERIES: Check(
        QUERIES, "A broadcast costs O(1) store queries, and permissions stay current",
        "Ask the store once per join (cache can_read per user) and refresh that user's "
        "entry in permission_changed(), or call store.readers() once per broadcast. Never "
        "call can_read() inside the loop over recipients."),
}
IDS = tuple(CHECKS)


@dataclass
class Run:
    seed: int
    scenario: Scenario
    trace: Trace | None = None
    error: str | None = None
    timed_out: bool = False
    facts: Facts | None = None


@dataclass
class Found(Verdict):
    client: str | None = None
    at: float = 0.0


def play(module: ModuleType, seed: int) -> Run:
    s = scenario(seed)
    result = Run(seed, s)
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {seed}"):
            result.trace = run(module.Room, s, describe_error)
    except LearnerTimeout as error:
        result.error, result.timed_out = str(error), True
    return result


# -- facts about a run --------------------------------------------------------------


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} bytes"


def _s(t: float) -> str:
    return f"t={t:.3f} s"


class Facts:
    """What was due to whom, what arrived, computed once per run."""

    def __init__(self, r: Run) -> None:
        assert r.trace is not None
        self.s, self.trace = r.scenario, r.trace
        s, trace = self.s, self.trace
        self.pubs = s.publishes
        self.kind: dict[str, list[Publish]] = {"event": [], "live": [], "cursor": []}
        for p in self.pubs:
            if p.n in trace.published:
                self.kind[p.kind].append(p)
        self.changed_users = {user for _, user, _ in s.changes}
        self.closed = {name: t for t, name, _ in trace.closes}
        self.size_of: dict[int, int] = {}
        for e in trace.encoded:
            self.size_of.setdefault(e.n, e.size)
        self._got: dict[tuple[str, str], list[tuple[Delivery, Publish]]] = {}

    def may(self, user: str, t: float) -> bool:
        if user not in self.changed_users:
            return self.s.initial.get(user, False)
        return self.s.allowed(user, t)

    def gone(self, c: Client) -> float:
        return self.trace.gone.get(c.name, self.s.end)

    def stayed(self, c: Client) -> bool:
        return self.gone(c) >= self.s.end

    def due(self, c: Client, p: Publish) -> bool:
        return (p.client != c.name and c.joined <= p.t < self.gone(c)
                and p.n in self.trace.published and self.may(c.user, p.t))

    def got(self, c: Client, kind: str) -> list[tuple[Delivery, Publish]]:
        cached = self._got.get((c.name, kind))
        if cached is not None:
            return cached
        out = []
        for d in self.trace.deliveries[c.name]:
            if d.frame is not None and d.frame.kind == kind and 0 <= d.frame.n < len(self.pubs):
                out.append((d, self.pubs[d.frame.n]))
        self._got[(c.name, kind)] = out
        return out


    def owed_events(self, c: Client, t: float) -> int:
        """Bytes of events published for ``c`` by ``t`` and not yet sent to it by then."""
        got = {d.frame.n for d, _ in self.got(c, "event") if d.t <= t and d.frame is not None}
        return sum(self.size_of.get(p.n, 0) for p in self.kind["event"]
                   if p.t <= t and p.n not in got and p.client != c.name
                   and c.joined <= p.t and self.may(c.user, p.t))


def facts(r: Run) -> Facts:
    if r.facts is None:
        r.facts = Facts(r)
    return r.facts


def _broken(r: Run) -> Found | None:
    if r.error is not None:
        return Found("failed", f"The scenario stopped: {r.error}", "the room runs to the end")
    trace = r.trace
    assert trace is not None
    if trace.error is not None:
        return Found("failed", trace.error,
                     "a room that never raises, and returns a list of (client, code) pairs",
                     at=trace.error_at)
    for name, got in trace.deliveries.items():
        for d in got:
            if d.frame is None:
                return Found("failed", f"take({name!r}) returned bytes that no call of encode() "
                             "made.", "every frame made by the encode function given to the "
                             "room", name, d.t)
    return None


def _first(found: list[Found]) -> Verdict:
    return min(found, key=lambda v: v.at) if found else PASS


# -- the checks -------------------------------------------------------------------------


def check_oom(r: Run) -> Verdict:
    broken = _broken(r)
    if broken:
        return broken
    f = facts(r)
    s, trace = f.s, f.trace
    found: list[Found] = []
    for sample in trace.samples:
        owed_fast = sum(backlog(trace.deliveries[name], sample.t) for name in sample.fast)
        allowance = s.max_bytes * len(sample.behind) + owed_fast + 1024
        if sample.held > allowance:
            behind = ", ".join(s.client(n).describe() for n in sample.behind) or "none"
            left = [name for name, t in trace.gone.items() if t <= sample.t]
            also = (f" ({len(left)} clients had left by then, {', '.join(left)}: does your "
                    "room still keep their outboxes?)" if left else "")
            found.append(Found(
                "failed",
                f"At {_s(sample.t)} your room held {kib(sample.held)} of frames for its "
                f"clients. The {len(sample.behind)} clients behind ({behind}) may be owed at "
                f"most max_bytes = {s.max_bytes} bytes each, and the fast ones were owed "
                f"{kib(owed_fast)}: {kib(allowance)} at most. The backlog of whoever reads "
                f"slowest is growing in the server's memory.{also}",
                f"at most {s.max_bytes} bytes held per client, however slowly it reads",
                sample.behind[0] if sample.behind else None, sample.t))
            break
    if trace.leftover > s.max_bytes:
        found.append(Found(
            "failed",
            f"After every client had left ({_s(s.end)}) your room still held "
            f"{kib(trace.leftover)} of frames: the outboxes of departed clients are never "
            "freed, so each visitor who vanishes leaks memory.",
            "leave() drops the client's outbox", None, s.end))
    for c in s.clients:
        if not c.fast:
            continue
        for d, p in f.got(c, "event"):
            if d.t - p.t > FAST_LATENCY + EPS:
                found.append(Found(
                    "failed",
                    f"Fast client {c.describe()} reads 5 MB/s, yet event #{p.n} (published "
                    f"at {_s(p.t)}) reached it only at {_s(d.t)}, {d.t - p.t:.3f} s later. "
                    "A slow reader is holding up the others.",
                    f"fast clients get each event within {FAST_LATENCY * 1000:.0f} ms",
                    c.name, d.t))
                break
    return _first(found)


def _max_held(deliveries: list[Delivery]) -> tuple[int, float, int]:
    """The most bytes (and frames) ever owed at once, from what was sent later."""
    moves: list[tuple[float, int, int]] = []
    for d in deliveries:
        if d.frame is not None and d.t > d.frame.t:
            moves.append((d.frame.t, 1, d.size))
            moves.append((d.t, 0, -d.size))  # at equal times, a send before a formatting
    moves.sort()
    best, best_t, held, frames, best_frames = 0, 0.0, 0, 0, 0
    for t, _, size in moves:
        held += size
        frames += 1 if size > 0 else -1
        if held > best:
            best, best_t, best_frames = held, t, frames
    return best, best_t, best_frames


def check_queue(r: Run) -> Verdict:
    broken = _broken(r)
    if broken:
        return broken
    f = facts(r)
    s, trace = f.s, f.trace
    found: list[Found] = []
    for c in s.clients:
        most, at, frames = _max_held(trace.deliveries[c.name])
        if most > s.max_bytes:
            found.append(Found(
                "failed",
                f"{c.describe()} was sent, after {_s(at)}, {kib(most)} in {frames} frames "
                f"that your room had already queued for it then: its outbox held more than "
                f"max_bytes = {s.max_bytes} bytes. (Frames here are 60-1,500 bytes: a limit "
                "on the number of messages is no limit on memory.)",
                f"at most {s.max_bytes} bytes queued per client", c.name, at))
    for t, name, code in trace.closes:
        c = s.client(name)
        if not (isinstance(code, int) and 4000 <= code <= 4999):
            found.append(Found(
                "failed",
                f"Your room closed {c.describe()} at {_s(t)} with code {code!r}. A client that "
                "fell behind must be told to resync: use an application code, 4000-4999.",
                "close codes 4000-4999 for a client that must resync", name, t))
            continue
        owed_bytes = f.owed_events(c, t)
        if owed_bytes <= s.max_bytes / 2:
            found.append(Found(
                "failed",
                f"Your room disconnected {c.describe()} at {_s(t)}, although the events it had "
                f"not received came to only {kib(owed_bytes)} of the {s.max_bytes} bytes it "
                "may hold: dropping its live data and old cursors would have made room.",
                "a disconnect only when the undelivered events alone no longer fit",
                name, t))
    for c in s.clients:
        if c.user in f.changed_users:
            continue  # judged by broadcast-n-queries
        events = f.got(c, "event")
        last_n = -1
        for d, p in events:
            if p.n < last_n:
                found.append(Found(
                    "failed", f"{c.describe()} got event #{p.n} after #{last_n}.",
                    "events in the order they were published", c.name, d.t))
                break
            last_n = max(last_n, p.n)
        got = {p.n for _, p in events}
        required = [p for p in f.kind["event"] if f.due(c, p)]
        stayed = f.stayed(c)
        for p in required:
            if p.n in got or (not stayed and p.n > last_n):
                continue
            how = ("stayed connected and was never told to resync" if stayed
                   else f"got later events (up to #{last_n}) before it left")
            found.append(Found(
                "failed",
                f"Event #{p.n} (published at {_s(p.t)} by {p.client}) never reached "
                f"{c.describe()}, which {how}: your room dropped it silently. Its chat now "
                "has a hole nobody knows about.",
                "every event delivered, or the client disconnected with 4000-4999",
                c.name, p.t))
            break
        if stayed:
            found += _stale_live(f, c)
    return _first(found)


def _stale_live(f: Facts, c: Client) -> list[Found]:
    got: dict[str, tuple[Delivery, Publish]] = {}
    for d, p in f.got(c, "live"):
        seen = got.get(p.key)
        if seen is not None and p.n < seen[1].n:
            return [Found("failed", f"{c.describe()} got {p.key} #{p.n} after the newer "
                          f"#{seen[1].n}: the screen went back in time.",
                          "live values per key in publication order", c.name, d.t)]
        got[p.key] = (d, p)
    if c.user in f.changed_users:
        return []
    latest = [p for p in f.kind["live"] if f.due(c, p)]
    if not latest:
        return []
    p = latest[-1]  # the newest value of all: dropping the oldest can never lose it
    if f.owed_events(c, p.t) + f.size_of.get(p.n, 0) > f.s.max_bytes / 2:
        return []  # events filled its outbox: no room was left for live data
    shown = got.get(p.key)
    if shown is None or shown[1].n != p.n:
        what = f"#{shown[1].n} (published at {_s(shown[1].t)})" if shown else "nothing"
        return [Found(
            "failed",
            f"At the end {c.describe()} showed {p.key} from {what}, but the latest {p.key} was "
            f"#{p.n} (published at {_s(p.t)}), the newest live value of all: live data must "
            "keep the newest value and drop the oldest.", f"{p.key} #{p.n} delivered",
            c.name, f.s.end)]
    return []


def _bursts(f: Facts) -> dict[str, list[list[Publish]]]:
    out: dict[str, list[list[Publish]]] = {}
    for p in f.kind["cursor"]:
        bursts = out.setdefault(p.key, [])
        if not bursts or p.t - bursts[-1][-1].t > 0.3:
            bursts.append([])
        bursts[-1].append(p)
    return out


def check_cursor(r: Run) -> Verdict:
    broken = _broken(r)
    if broken:
        return broken
    f = facts(r)
    s, trace = f.s, f.trace
    interval = s.cursor_interval
    found: list[Found] = []
    formatted: dict[str, list[float]] = {}
    for e in trace.encoded:
        if e.kind == "cursor":
            formatted.setdefault(e.key, []).append(e.t)
    bursts = _bursts(f)
    for key, runs in bursts.items():
        mover = runs[0][0].client
        for burst in runs:
            first = burst[0]
            if not any(abs(t - first.t) < EPS for t in formatted.get(key, [])):
                later = [t for t in formatted.get(key, []) if t > first.t]
                when = (f"only at {_s(later[0])}, {later[0] - first.t:.3f} s later" if later
                        else "never")
                found.append(Found(
                    "failed",
                    f"{mover}'s cursor started moving at {_s(first.t)} after a pause, and your "
                    f"room sent its first position {when}. A throttle lets the first move "
                    "through at once (leading edge) and holds back only the ones after it.",
                    "the first move of a burst sent at once", mover, first.t))
                break
    deadline = interval + MAX_TICK_GAP + 0.01
    for c in s.clients:
        if not c.fast or c.user in f.changed_users:
            continue
        mine = f.got(c, "cursor")
        first_arrival: dict[int, float] = {}
        for d, p in mine:
            first_arrival.setdefault(p.n, d.t)
        for key, runs in bursts.items():
            stamps = [d.frame.t for d, p in mine if p.key == key and d.frame is not None]
            gaps = [(b - a, b) for a, b in itertools.pairwise(stamps)]
            tight = [(g, t) for g, t in gaps if g < 0.99 * interval]
            if tight:
                g, t = tight[0]
                found.append(Found(
                    "failed",
                    f"{c.describe()} was sent {len(stamps)} positions of {key} in "
                    f"{s.until:g} s, {len(tight)} of them less than {interval * 1000:.0f} ms "
                    f"after the one before (the first, {g * 1000:.1f} ms apart, at {_s(t)}). "
                    "At 120 moves per second that is 120 messages per second per viewer.",
                    f"one position per {interval * 1000:.0f} ms per cursor at most "
                    f"({1 / interval:.0f}/s)", c.name, t))
                break
            for burst in runs:
                last = burst[-1]
                if not (f.due(c, last) and f.gone(c) > last.t + deadline):
                    continue
                arrival = first_arrival.get(last.n)
                if arrival is not None and arrival <= last.t + deadline + EPS:
                    continue
                shown = [p for d, p in mine if p.key == key and d.t <= last.t + deadline]
                now = (f"its copy stopped at #{shown[-1].n} (from {_s(shown[-1].t)})" if shown
                       else "it had no position at all")
                late = f"; it came only at {_s(arrival)}" if arrival is not None else ""
                found.append(Found(
                    "failed",
                    f"The last position of {key} (#{last.n}, at {_s(last.t)}) did not reach "
                    f"{c.describe()} within {deadline * 1000:.0f} ms: {now}{late}. The cursor "
                    "stops short of where the mouse stopped.",
                    f"the final position within cursor_interval ({interval * 1000:.0f} ms) "
                    "and a tick", c.name, last.t + deadline))
                break
    for c in s.clients:
        if not f.stayed(c) or c.user in f.changed_users:
            continue
        mine = f.got(c, "cursor")
        for key, runs in bursts.items():
            due = [p for burst in runs for p in burst if f.due(c, p)]
            if not due:
                continue
            shown = [p for _, p in mine if p.key == key]
            if not shown or shown[-1].n != due[-1].n:
                what = f"#{shown[-1].n} (from {_s(shown[-1].t)})" if shown else "nothing"
                found.append(Found(
                    "failed",
                    f"At the end {c.describe()} showed {key} at {what}, but its last position "
                    f"was #{due[-1].n} (at {_s(due[-1].t)}): coalescing must keep the newest "
                    "position per cursor.", f"{key} #{due[-1].n} delivered", c.name, s.end))
                break
    return _first(found)


def check_amplification(r: Run) -> Verdict:
    broken = _broken(r)
    if broken:
        return broken
    f = facts(r)
    per_call: dict[tuple[int, str, str, int], int] = {}
    calls_of: dict[int, set[int]] = {}
    for e in f.trace.encoded:
        k = (e.call, e.kind, e.key, e.n)
        per_call[k] = per_call.get(k, 0) + 1
        calls_of.setdefault(e.n, set()).add(e.call)
    for (_, kind, _, n), times in per_call.items():
        if times > 1 and 0 <= n < len(f.pubs):
            p = f.pubs[n]
            return Found(
                "failed",
                f"One broadcast ({kind} #{n} from {p.client} at {_s(p.t)}) called encode() "
                f"{times} times for the same message, once per recipient. With 10,000 "
                "members that is 10,000 serialisations of one message.",
                "one encode() per publication", p.client, p.t)
    for n, calls in calls_of.items():
        if len(calls) > 1 and 0 <= n < len(f.pubs) and f.pubs[n].kind != "cursor":
            p = f.pubs[n]
            return Found(
                "failed",
                f"{p.kind} #{n} (from {p.client} at {_s(p.t)}) was formatted again in "
                f"{len(calls) - 1} later calls (at take()?): one serialisation per recipient.",
                "one encode() per publication", p.client, p.t)
    return PASS


def check_queries(r: Run) -> Verdict:
    broken = _broken(r)
    if broken:
        return broken
    f = facts(r)
    s, trace = f.s, f.trace
    found: list[Found] = []
    joins = len(s.clients)
    budget = 2 * (joins + len(s.changes)) + trace.broadcasts + len(s.ticks) + 4
    if trace.queries > budget:
        per = (trace.queries - 2 * joins) / max(trace.broadcasts, 1)
        found.append(Found(
            "failed",
            f"Your room made {trace.queries:,} store queries for {trace.broadcasts} broadcasts "
            f"in a room of {joins}: {per:.1f} per broadcast, one per recipient. In a room of "
            "10,000 that is 10,000 queries per message.",
            f"at most {budget} (O(1) per broadcast: cache permissions or ask once)",
            None, s.until))
    for c in s.clients:
        for d in trace.deliveries[c.name]:
            if d.frame is None or not 0 <= d.frame.n < len(f.pubs):
                continue
            p = f.pubs[d.frame.n]
            if f.may(c.user, p.t) or f.may(c.user, d.frame.t):
                continue  # a throttled cursor goes out later: either moment will do
            change = [t for t, user, ok in s.changes if user == c.user and not ok and t <= p.t]
            why = (f"{c.user}'s permission was revoked at {_s(change[-1])}" if change
                   else f"{c.user} may not read this room at {_s(p.t)}")
            found.append(Found(
                "failed",
                f"{why}, yet {c.name} was sent {p.kind} #{p.n}, published at {_s(p.t)}: your "
                "room still used a permission from before the change. A leak.",
                "nothing published while a user may not read reaches them", c.name, d.t))
            break
    for c in s.clients:
        grants = [t for t, user, ok in s.changes if user == c.user and ok]
        if not grants or not f.stayed(c) or c.name in f.closed:
            continue
        since = [p for d in f.trace.deliveries[c.name] if d.frame is not None
                 and 0 <= d.frame.n < len(f.pubs) and (p := f.pubs[d.frame.n]).t >= grants[0]]
        owed = [p for p in f.kind["event"] if p.t >= grants[0] and f.due(c, p)]
        missing = owed if not since else []  # some arrived: the room knows; holes are a queue's
        if missing:
            found.append(Found(
                "failed",
                f"{c.user} may read the room from {_s(grants[0])}, but {len(missing)} of the "
                f"{len(owed)} events published since never reached {c.name} (first: "
                f"#{missing[0].n} at {_s(missing[0].t)}): your room still used the permission "
                "it cached earlier. Refresh it in permission_changed().",
                "events published after a grant are delivered", c.name, missing[0].t))
    return _first(found)


# -- timelines ----------------------------------------------------------------------------


def illustrate(r: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    if r.trace is None or not isinstance(verdict, Found):
        return [], None
    at, who = verdict.at, verdict.client
    rows: list[tuple[float, str]] = [
        (t, text) for t, client, text in r.trace.log
        if at - 0.3 <= t <= at + 0.02 and (who is None or client in (who, "feed") or
                                            "permission" in text or "closes" in text)]
    if who is not None:
        for d in r.trace.deliveries.get(who, []):
            if at - 0.3 <= d.t <= at + 0.02 and d.frame is not None:
                rows.append((d.t, f"  {who} takes {d.frame.kind} #{d.frame.n} "
                                  f"({d.size} bytes, formatted at {_s(d.frame.t)})"))
    rows.sort(key=lambda row: row[0])
    return [f"t={t:7.3f} s  {text}" for t, text in rows[-14:]], None


# -- the grader ---------------------------------------------------------------------------


PLAN: list[tuple[str, Callable[[Run], Verdict]]] = [
    (OOM, check_oom), (QUEUE, check_queue), (CURSOR, check_cursor),
    (AMPLIFY, check_amplification), (QUERIES, check_queries),
]


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    judged: dict[str, list[Judged[Run]]] = {id: [] for id in IDS}
    failed: set[str] = set()
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        r = play(module, seed)
        runs += 1
        for id, check in PLAN:
            verdict = check(r)
            judged[id].append(Judged(seed, verdict, r))
            if verdict.status == "failed":
                failed.add(id)
        if len(failed) == len(PLAN) or r.timed_out:
            break
    findings = [judge(CHECKS[id], judged[id], illustrate) for id in IDS]
    return Report("backpressure", "", findings, scenarios=runs)


def bench_backpressure_grader() -> None:
    """The grader's own speed on the reference solution (scenarios, seconds)."""
    from rtlab import course
    from rtlab.learner import load_module

    module = load_module(course.load().exercise("backpressure").solution_path, "bench_bp")
    started = time.perf_counter()
    report = grade(module)
    print(f"grader: {report.scenarios} scenarios in {time.perf_counter() - started:.2f} s, "
          f"{'all pass' if report.passed else 'FAILED'}")
