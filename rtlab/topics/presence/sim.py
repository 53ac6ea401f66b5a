"""Presence in virtual time: seeded schedules of connections, a driver, and the truth.

A presence tracker is sans-I/O (``connect``/``disconnect``/``heartbeat``/``tick``
with the current time, returning ``("join"|"leave", user)`` events), so it needs
no event loop to be simulated: a schedule lists every connection of every user
(when it opened, its heartbeats, and whether it closed, crashed without a word,
or stayed open), and :func:`drive` replays it through the tracker in time order,
with ticks at random intervals, recording every event and what each observer's
roster would show. :func:`scenario` does that for one graded seed with the learner's
``PresenceTracker`` (the tracker's types: :mod:`rtlab.topics.presence.interface`),
under a time limit, and keeps what stopped it if it could not finish.

Theory of operation (how the grader knows the truth): a user's connections are
merged into *sessions*. A connection is alive from its open until it closes or,
for a crash, until its last heartbeat (its last sign of life). Gaps shorter than
the grace period are blips and stay inside a session; the schedules here make
every gap either clearly short (< 0.7 x grace) or clearly long (past the latest
moment a correct tracker could announce the leave), so that each session has one
right answer: one join when it starts, one leave when it ends, in a window of

    earliest = max(close + grace for clean closes, last heartbeat + grace for crashes)
    latest   = max(close + grace, last heartbeat + ttl + grace) + TOLERANCE

over the session's connections, where TOLERANCE covers two tick intervals.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.presence.interface import Event, PresenceModule, Tracker

__all__ = [
    "MAX_TICK",
    "SCENARIO_SECONDS",
    "TOLERANCE",
    "Conn",
    "Departure",
    "Run",
    "Schedule",
    "Session",
    "Trace",
    "TrackerError",
    "crowd_schedule",
    "drive",
    "graded_schedule",
    "presence_costs",
    "presence_timeline",
    "scenario",
    "sessions",
]

How = Literal["close", "crash", "open"]
MIN_TICK, MAX_TICK = 0.1, 0.5  # seconds between ticks in graded runs
TOLERANCE = 2 * MAX_TICK + 0.01  # detection at one tick, the leave at the next
GRACES = (2.0, 5.0, 8.0)  # graded schedules draw grace and ttl from these
TTLS = (6.0, 10.0, 15.0)
SCENARIO_SECONDS = 5.0  # wall-clock limit of one graded scenario (2-4 ms when correct)


@dataclass
class Conn:
    """One connection of one user, as the world (not the tracker) saw it."""

    user: str
    id: str
    opened: float
    ended: float | None = None  # closed, or went silent (crash); None: open to the end
    how: How = "open"
    heartbeats: list[float] = field(default_factory=list)
    late_close: float | None = None  # a crashed connection's close, seen long after

    @property
    def last_sign(self) -> float:
        """The last moment the server heard from it (open or heartbeat)."""
        return self.heartbeats[-1] if self.heartbeats else self.opened

    @property
    def alive_until(self) -> float | None:
        if self.how == "close":
            return self.ended
        if self.how == "crash":
            return self.last_sign
        return None


@dataclass
class Departure:
    """A user who really left (for the lesson's cost measurements)."""

    user: str
    at: float  # the last sign of life
    how: How


@dataclass
class Schedule:
    seed: int
    ttl: float
    heartbeat: float  # mean seconds between heartbeats of a live connection
    until: float
    conns: list[Conn]
    grace: float = 0.0  # the grace period the schedule was built around (graded runs)
    roles: dict[str, str] = field(default_factory=dict)
    departures: list[Departure] = field(default_factory=list)

    @property
    def users(self) -> list[str]:
        return list(dict.fromkeys(c.user for c in self.conns))

    def spans(self) -> dict[str, list[tuple[float, float | None, str]]]:
        """Per user: (opened, ended, how) of each connection, for plots."""
        out: dict[str, list[tuple[float, float | None, str]]] = {u: [] for u in self.users}
        for c in self.conns:
            out[c.user].append((c.opened, c.ended, c.how))
        return out


@dataclass
class Session:
    """A stretch of time in which a user was (truly) present, blips included."""

    user: str
    start: float
    end: float | None  # last moment alive; None: still there at the end of the run
    earliest: float = math.inf  # when a correct tracker may first announce the leave
    latest: float = math.inf  # ... and by when it must have (tolerance included)
    conns: list[Conn] = field(default_factory=list)


def sessions(schedule: Schedule, grace: float | None = None) -> dict[str, list[Session]]:
    """The truth: each user's sessions, with the window in which each one's leave belongs."""
    grace = schedule.grace if grace is None else grace
    ttl = schedule.ttl
    by_user: dict[str, list[Conn]] = {}
    for c in schedule.conns:
        by_user.setdefault(c.user, []).append(c)
    out: dict[str, list[Session]] = {}
    for user, conns in by_user.items():
        result: list[Session] = []
        current: Session | None = None
        reach = -math.inf  # until when the current session would absorb a new connection
        for c in sorted(conns, key=lambda c: c.opened):
            alive = c.alive_until
            if current is not None and c.opened < reach:
                current.conns.append(c)
                if current.end is not None:
                    current.end = None if alive is None else max(current.end, alive)
            else:
                current = Session(user, c.opened, alive, conns=[c])
                result.append(current)
                reach = -math.inf
            # A closed connection is absorbed by a reconnect within the grace period; a
            # silent one is not even known to be dead before its ttl has run out.
            if alive is None:
                reach = math.inf
            elif c.how == "close":
                reach = max(reach, alive + grace)
            else:
                reach = max(reach, alive + ttl + grace)
        for s in result:
            if s.end is None:
                continue
            s.earliest = max(
                (c.ended if c.how == "close" and c.ended is not None else c.last_sign) + grace
                for c in s.conns
            )
            s.latest = max(
                (c.ended + grace if c.how == "close" and c.ended is not None
                 else c.last_sign + ttl + grace)
                for c in s.conns
            ) + TOLERANCE
        out[user] = result
    return out


# -- building schedules ---------------------------------------------------------


class _Builder:
    """Connections of one user, with heartbeats drawn as they are created."""

    def __init__(self, user: str, rng: random.Random, hb: float, horizon: float) -> None:
        self.user, self.rng, self.hb, self.horizon = user, rng, hb, horizon
        self.conns: list[Conn] = []

    def open(self, t: float) -> Conn:
        conn = Conn(self.user, f"{self.user}#{len(self.conns) + 1}", t)
        self.beat(conn, self.horizon)
        self.conns.append(conn)
        return conn

    def beat(self, conn: Conn, upto: float) -> None:
        """Heartbeats every ``hb`` s (+/- 20 %) from the last one on, up to ``upto``."""
        beat, uniform, hb = conn.last_sign, self.rng.uniform, self.hb
        while True:
            beat += hb * uniform(0.8, 1.2)
            if beat > upto:
                break
            conn.heartbeats.append(beat)

    def close(self, conn: Conn, t: float) -> None:
        conn.ended, conn.how = t, "close"
        conn.heartbeats = [b for b in conn.heartbeats if b < t]

    def crash(self, conn: Conn, t: float) -> None:
        conn.ended, conn.how = t, "crash"
        conn.heartbeats = [b for b in conn.heartbeats if b < t]


def graded_schedule(seed: int) -> Schedule:
    """Eight users, one of each kind, with grace and ttl drawn from GRACES and TTLS.

    steady (one connection), blipper (drops, back within the grace period),
    flappy (drops several times inside one grace period), multitab (two or three
    tabs, closed one by one, the last ones close together), handoff (a new
    connection before the old one closes or goes silent), leaver (leaves, maybe
    comes back much later), crasher (its tab goes silent for good, maybe comes
    back much later) and crash_return (a silent tab replaced by a new one at once).
    Crashed connections sometimes close much later, long after they expired.
    """
    rng = random.Random(seed)
    grace, ttl = rng.choice(GRACES), rng.choice(TTLS)
    hb = ttl / 4
    horizon = 90.0  # heartbeats are drawn this far ahead, then up to the end of the run

    def short() -> float:
        """A blip's gap: clearly inside the grace period."""
        return rng.uniform(0.05, 0.7 * grace)

    def margin() -> float:
        return rng.uniform(1.0, 8.0)

    def back_after(conn: Conn) -> float:
        """A return after a real absence: past the latest moment of its leave."""
        assert conn.ended is not None
        alive = conn.alive_until or conn.ended
        extra = ttl if conn.how == "crash" else 0.0
        return max(conn.ended, alive + extra + grace + TOLERANCE) + margin()

    def late(conn: Conn) -> None:
        if rng.random() < 0.5:
            conn.late_close = conn.last_sign + ttl + grace + TOLERANCE + rng.uniform(0.5, 20)

    conns: list[Conn] = []
    builders: list[_Builder] = []
    roles: dict[str, str] = {}
    kinds = ["steady", "blipper", "flappy", "multitab", "handoff", "leaver", "crasher",
             "crash_return"]
    names = ["ada", "bo", "cy", "di", "ed", "flo", "gus", "hal"]
    rng.shuffle(names)
    for user, kind in zip(names, kinds, strict=True):
        roles[user] = kind
        b = _Builder(user, rng, hb, horizon)
        builders.append(b)
        start = rng.uniform(0, 5)
        if kind == "steady":
            b.open(start)
        elif kind in ("blipper", "flappy"):
            c, t = b.open(start), start
            for _ in range(rng.randint(2, 6)):
                t += rng.uniform(0.3, 15) if kind == "blipper" else rng.uniform(0.05, 1.0)
                b.close(c, t)
                t += short()
                c = b.open(t)
            if rng.random() < 0.5:
                b.close(c, t + rng.uniform(0.5, 10))
        elif kind == "multitab":
            tabs = [b.open(start)]
            t = start + rng.uniform(0.5, 8)
            tabs.append(b.open(t))
            t += rng.uniform(1, 10)
            first = tabs.pop(rng.randrange(2))
            if rng.random() < 0.3:
                b.crash(first, t)
                late(first)
            else:
                b.close(first, t)
            if rng.random() < 0.5:
                t += rng.uniform(0.5, 5)
                tabs.append(b.open(t))
            if rng.random() < 0.7:
                t += rng.uniform(5, 20)
                for tab in tabs:  # the last tabs close within one grace period
                    b.close(tab, t)
                    t += rng.uniform(0, 0.9 * grace / max(1, len(tabs) - 1))
        elif kind == "handoff":
            c, t = b.open(start), start
            for _ in range(rng.randint(1, 3)):
                t += rng.uniform(3, 20)
                new = b.open(t)
                if rng.random() < 0.7:
                    b.close(c, t + rng.uniform(0, 1.5))
                else:
                    b.crash(c, t + rng.uniform(0, 1.5))
                    late(c)
                c = new
                t += 1.5
        elif kind in ("leaver", "crasher"):
            c = b.open(start)
            for _ in range(rng.randint(1, 2)):
                if kind == "leaver":
                    b.close(c, c.opened + rng.uniform(8, 30))
                else:
                    b.crash(c, c.opened + rng.uniform(8, 30))
                    late(c)
                if rng.random() < 0.4:
                    break
                c = b.open(back_after(c))
        elif kind == "crash_return":
            c = b.open(start)
            for _ in range(rng.randint(1, 2)):
                beats = [h for h in c.heartbeats if h > c.opened + 5]
                last = rng.choice(beats[:8]) if beats else c.opened + 5
                b.crash(c, last + rng.uniform(0.01, 0.3 * grace))
                late(c)
                c = b.open(last + rng.uniform(0.35, 0.65) * grace)
            if rng.random() < 0.5:
                b.close(c, c.opened + rng.uniform(5, 20))
        conns += b.conns
    schedule = Schedule(seed, ttl, hb, 0.0, conns, grace=grace, roles=roles)
    truth = sessions(schedule)
    ends = [s.latest for ss in truth.values() for s in ss if s.end is not None]
    lates = [c.late_close for c in conns if c.late_close is not None]
    schedule.until = max([90.0, *(e + 2.0 for e in ends), *(t + 1.0 for t in lates)])
    for b in builders:
        for c in b.conns:
            if c.ended is None:
                b.beat(c, schedule.until)  # open to the end: beating to the end
            elif c.ended > horizon:
                b.beat(c, c.ended)
                c.heartbeats = [h for h in c.heartbeats if h < c.ended]
            c.heartbeats = [h for h in c.heartbeats if h <= schedule.until]
    return schedule


def crowd_schedule(
    seed: int, users: int = 100, duration: float = 1200.0, ttl: float = 15.0
) -> Schedule:
    """A realistic crowd for cost measurements: blips of every length, real departures.

    Connected stretches last 90 s on average; the gaps between them are mostly
    blips (60 % of 0.2-2 s), some handoffs and tunnels (30 % of 2-10 s) and a few
    long absences (10 % of 10-60 s), in which the user has *not* left. Half of the
    users really leave before the end (60 % closing the tab, 40 % crashing).
    """
    rng = random.Random(seed)
    hb = ttl / 3
    conns: list[Conn] = []
    departures: list[Departure] = []
    for i in range(users):
        user = f"user{i:03d}"
        b = _Builder(user, rng, hb, duration)
        arrive = rng.uniform(0, 300)
        leave = rng.uniform(arrive + 120, duration - 120) if rng.random() < 0.5 else None
        c, t = b.open(arrive), arrive
        while True:
            t += rng.expovariate(1 / 90)  # the end of this connected stretch
            if leave is not None and t >= leave:
                if rng.random() < 0.6:
                    b.close(c, leave)
                else:
                    b.crash(c, leave)
                departures.append(Departure(user, c.alive_until or leave, c.how))
                break
            if t >= duration - 90:
                break  # connected to the end
            b.close(c, t)
            kind = rng.random()
            if kind < 0.6:
                t += rng.uniform(0.2, 2)
            elif kind < 0.9:
                t += rng.uniform(2, 10)
            else:
                t += rng.uniform(10, 60)
            if leave is not None and t >= leave:  # went away for good during the gap
                departures.append(Departure(user, c.alive_until or leave, c.how))
                break
            c = b.open(t)
        conns += b.conns
    return Schedule(seed, ttl, hb, duration, conns, departures=departures)


# -- driving a tracker ------------------------------------------------------------


class TrackerError(Exception):
    """The tracker returned something that is not a list of (kind, user) events."""


@dataclass
class Call:
    t: float
    kind: str  # "connect", "disconnect", "heartbeat" or "tick"
    user: str | None  # None: a tick
    conn: str | None
    events: list[Event]

    @property
    def what(self) -> str:
        """The call as the tracker got it, e.g. ``connect('ada', 'ada#2', now=3.20)``."""
        if self.user is None:
            return f"tick(now={self.t:.2f})"
        return f"{self.kind}({self.user!r}, {self.conn!r}, now={self.t:.2f})"


@dataclass
class Trace:
    """What a tracker did with one schedule."""

    schedule: Schedule
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (t, kind, user)
    calls: list[Call] = field(default_factory=list)
    error: BaseException | None = None  # the tracker raised (or returned nonsense)
    error_call: str = ""
    error_at: float = 0.0
    mismatch: tuple[float, set[str], set[str]] | None = None  # (t, online(), from events)
    observers: list[tuple[float, set[str]]] = field(default_factory=list)  # (joined, roster)
    ended_at: float = 0.0

    def user_calls(self, user: str) -> list[Call]:
        return [c for c in self.calls if c.user == user or user in {u for _, u in c.events}]


def _as_events(result: Any, call: Call) -> list[Event]:
    """What a tracker returned, checked (learner code may return anything at all)."""
    what = call.what
    try:
        items = list(result)
    except TypeError:
        raise TrackerError(
            f"{what} returned {result!r}; expected a list of (\"join\"|\"leave\", user) tuples"
        ) from None
    events: list[Event] = []
    for item in items:
        try:
            kind, user = item
        except (TypeError, ValueError):
            raise TrackerError(
                f"{what} returned {result!r}; each event must be a pair such as "
                "(\"join\", \"ada\")"
            ) from None
        if kind not in ("join", "leave") or not isinstance(user, str):
            raise TrackerError(
                f"{what} returned the event {item!r}; expected (\"join\", user) or "
                "(\"leave\", user)"
            )
        events.append((kind, user))
    return events


def drive(
    tracker: Tracker,
    schedule: Schedule,
    *,
    tick: tuple[float, float] = (MIN_TICK, MAX_TICK),
    observers: int = 2,
    record: bool = True,
) -> Trace:
    """Replay ``schedule`` through ``tracker`` in time order; never raises for the tracker.

    Ticks come every ``tick`` seconds (drawn at random between the two bounds, from
    the schedule's seed). ``observers`` late observers start from ``online()`` at
    random moments and apply the events from then on; observer 0 sees every event.
    """
    rng = random.Random(schedule.seed * 7919 + 1)
    actions: list[tuple[float, int, str, Conn | None]] = []
    for one in schedule.conns:
        actions.append((one.opened, len(actions), "connect", one))
        actions += [(h, len(actions), "heartbeat", one) for h in one.heartbeats]
        if one.how == "close" and one.ended is not None:
            actions.append((one.ended, len(actions), "disconnect", one))
        if one.late_close is not None:
            actions.append((one.late_close, len(actions), "disconnect", one))
    t = 0.0
    while t < schedule.until:
        t = min(schedule.until, t + rng.uniform(*tick))
        actions.append((t, len(actions), "tick", None))
    for _ in range(observers):
        actions.append((rng.uniform(0, schedule.until * 0.8), len(actions), "observe", None))
    actions.sort(key=lambda a: (a[0], a[1]))

    trace = Trace(schedule)
    methods: dict[str, Callable[[str, str, float], list[Event]]] = {
        "connect": tracker.connect, "disconnect": tracker.disconnect,
        "heartbeat": tracker.heartbeat,
    }
    roster: set[str] = set()
    late: list[tuple[float, set[str]]] = []
    for now, _, kind, c in actions:
        if kind == "observe":
            try:
                snapshot = set(tracker.online())
            except Exception as error:
                trace.error, trace.error_call, trace.error_at = error, "online()", now
                break
            late.append((now, snapshot))
            continue
        call = Call(now, kind, c.user if c else None, c.id if c else None, [])
        try:
            result = tracker.tick(now) if c is None else methods[kind](c.user, c.id, now)
            events = call.events = [] if not result else _as_events(result, call)
        except Exception as error:
            trace.error, trace.error_call, trace.error_at = error, call.what, now
            break
        for ev_kind, user in events:
            trace.events.append((now, ev_kind, user))
            if ev_kind == "join":
                roster.add(user)
                for _, r in late:
                    r.add(user)
            else:
                roster.discard(user)
                for _, r in late:
                    r.discard(user)
        if record and (c is not None or events):
            trace.calls.append(call)
        if c is None and trace.mismatch is None:
            try:
                shown = set(tracker.online())
            except Exception as error:
                trace.error, trace.error_call, trace.error_at = error, "online()", now
                break
            if shown != roster:
                trace.mismatch = (now, shown, set(roster))
        trace.ended_at = now
    trace.observers = [(0.0, roster), *late]
    return trace


# -- one graded scenario ---------------------------------------------------------


@dataclass
class Run:
    """One graded schedule replayed through the learner's tracker, and the truth."""

    seed: int
    schedule: Schedule
    trace: Trace | None = None
    truth: dict[str, list[Session]] | None = None
    error: str | None = None  # the scenario could not run (it hung)
    timed_out: bool = False


def scenario(module: PresenceModule, seed: int) -> Run:
    """Replay graded schedule ``seed`` through a fresh ``module.PresenceTracker``."""
    schedule = graded_schedule(seed)
    run = Run(seed, schedule, truth=sessions(schedule))
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {seed}"):
            tracker = module.PresenceTracker(grace=schedule.grace, ttl=schedule.ttl)
            run.trace = drive(tracker, schedule)
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except Exception as error:
        run.error = f"PresenceTracker(grace={schedule.grace:g}, ttl={schedule.ttl:g}) raised " + (
            describe_error(error)
        )
    return run


# -- what presence costs ------------------------------------------------------------


@dataclass
class Costs:
    flicker: int  # joins and leaves beyond each user's first join and final real leave
    users: int
    hours: float
    linger_close: float  # mean s between a closed tab and its leave
    linger_crash: float  # mean s between a crashed tab's last heartbeat and its leave
    ghosts: int  # users who left but were never announced as gone

    @property
    def flicker_per_user_hour(self) -> float:
        return self.flicker / (self.users * self.hours)


def presence_costs(trace: Trace) -> Costs:
    """Flicker (needless events) and linger (how long the departed stay) of one run."""
    schedule = trace.schedule
    per_user: dict[str, list[tuple[float, str]]] = {}
    for t, kind, user in trace.events:
        per_user.setdefault(user, []).append((t, kind))
    departed = {d.user: d for d in schedule.departures}
    flicker, ghosts = 0, 0
    lingers: dict[str, list[float]] = {"close": [], "crash": []}
    for user in schedule.users:
        events = per_user.get(user, [])
        needed = 1 + (user in departed)
        flicker += max(0, len(events) - needed)
        if user in departed:
            d = departed[user]
            if events and events[-1][1] == "leave" and events[-1][0] >= d.at:
                lingers[d.how].append(events[-1][0] - d.at)
            else:
                ghosts += 1

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    return Costs(flicker, len(schedule.users), schedule.until / 3600,
                 mean(lingers["close"]), mean(lingers["crash"]), ghosts)


def run_costs(
    make_tracker: Callable[[float, float], Tracker], schedule: Schedule, graces: Iterable[float],
    tick: float = 1.0,
) -> list[tuple[float, Costs]]:
    """``presence_costs`` of ``make_tracker(grace, ttl)`` for each grace period."""
    out = []
    for grace in graces:
        trace = drive(make_tracker(grace, schedule.ttl), schedule, tick=(tick, tick),
                      observers=0, record=False)
        if trace.error is not None:
            raise trace.error
        out.append((grace, presence_costs(trace)))
    return out


# -- plots -----------------------------------------------------------------------------


def announced_spans(
    events: Sequence[tuple[float, str, str]], end: float
) -> dict[str, list[tuple[float, float]]]:
    """Per user, the (join, leave) spans an observer who saw every event would show."""
    spans: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for t, kind, user in events:
        if kind == "join" and user not in since:
            since[user] = t
        elif kind == "leave" and user in since:
            spans.setdefault(user, []).append((since.pop(user), t))
    for user, t in since.items():
        spans.setdefault(user, []).append((t, end))
    return spans


def presence_timeline(
    panels: Mapping[str, tuple[Mapping[str, Sequence[tuple[float, float | None, str]]],
                               Sequence[tuple[float, str, str]]]],
    users: Sequence[str],
    *,
    start: float,
    end: float,
    title: str = "",
    marks: Mapping[str, float] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per run: each user's connections (thin) against what observers saw (wide).

    ``panels`` maps a panel title to ``(connections, events)``: connections per
    user as ``(opened, ended, how)`` with how ``"close"``, ``"crash"`` (the tab
    froze at ``ended``: its connection stays open, silent) or ``"open"``; events
    as ``(time, "join"|"leave", user)``. ``labels`` renames rows.
    """
    rows = len(users)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, 1.1 + len(panels) * (0.45 + 0.22 * rows)), sharex=True,
        squeeze=False,
    )
    for ax, (name, (conns, events)) in zip(axes[:, 0], panels.items(), strict=True):
        announced = announced_spans([e for e in events if e[2] in users], end)
        for row, user in enumerate(users):
            for a, b in announced.get(user, []):
                ax.barh(row, max(b - a, 0.02), left=a, height=0.7, color="#aceebb", linewidth=0)
            for opened, ended, how in conns.get(user, []):
                stop = end if ended is None else ended
                ax.barh(row, max(stop - opened, 0.01), left=opened, height=0.2,
                        color="#57606a", linewidth=0)
                if how == "crash" and ended is not None:  # open but silent from here on
                    ax.barh(row, max(end - ended, 0.01), left=ended, height=0.08,
                            color="#bf8700", linewidth=0)
                    ax.plot(ended, row, marker="x", color="#bf8700", markersize=5)
        for t, kind, user in events:
            if user in users and start <= t <= end:
                ax.plot(t, users.index(user), marker="|", markersize=11,
                        color="#1a7f37" if kind == "join" else "#cf222e")
        joins = sum(1 for e in events if e[1] == "join")
        leaves = len(events) - joins
        ax.set_title(f"{name}   ({joins} joins, {leaves} leaves in all)", fontsize=9, loc="left")
        ax.set_yticks(range(rows), [labels.get(u, u) if labels else u for u in users],
                      fontsize=7)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xlim(start, end)
        for mark, t in (marks or {}).items():
            ax.axvline(t, color="#cf222e", linestyle=":", linewidth=1)
            ax.annotate(f" {mark}", (t, 0), xycoords=("data", "axes fraction"), fontsize=7,
                        color="#cf222e", va="bottom", ha="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    fig.legend(
        handles=[Patch(color="#aceebb", label="shown online"),
                 Patch(color="#57606a", label="connection"),
                 Line2D([], [], color="#bf8700", marker="x", markersize=5,
                        label="tab froze: open, but silent"),
                 Line2D([], [], color="#1a7f37", marker="|", linestyle="", markersize=9,
                        label="join"),
                 Line2D([], [], color="#cf222e", marker="|", linestyle="", markersize=9,
                        label="leave")],
        fontsize=7, loc="lower center", ncol=5, frameon=False,
    )
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1))
    return fig
