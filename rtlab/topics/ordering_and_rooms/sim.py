"""Rooms in virtual time: seeded schedules of bursts, joins, cuts and a messy network.

The learner's ``Room`` and ``Client`` are sans-I/O, except that ``Room.join`` awaits
the room's :class:`SimHistory` (a slow, bounded log). :func:`run` wires one room and a
few clients together on a :class:`rtlab.sim.SimLoop` and records everything in a
:class:`Trace`; the grader then compares what each client showed with the truth.

Rules the schedules keep, so that every run has one right answer:

- the truth is the order in which the room appended messages to its history:
  every client must show each distinct message id exactly once, in that order,
  from where it started (its backfill, or the first message of the run) to the end;
- the only messages a client may miss are those a ``resync`` told it were gone;
- drops, duplicates and cuts happen only in the *fault window*; a calm tail of
  messages follows it, so every gap is followed by a later message that reveals it;
- join replies (``joined``/``resync``) are never dropped or duplicated, and a
  connection delivers its messages in order unless the kind says "hops".

Theory of operation: the network is message-level. Each message to a client gets a
delay; with ``jitter`` each is drawn independently (two server hops: later messages
can overtake earlier ones), without it a connection is FIFO (TCP). A cut ends the
connection's epoch: whatever was in flight to or from it is lost, except *stragglers*,
late copies from a relay that arrive whatever the connection. The server answers a
join request in a task of its own, so publishes keep flowing while the room reads
its history: that is where joins race bursts.

Kinds of schedule (``seed % 4``):

``hops``    reordering only (independent delays); every client joins before the
            first message. Graded for ``missing-message-ordering``.
``faults``  reordering, duplicates, drops, cuts, senders' retries and one long gap
            whose resend requests are lost for a while. ``message-ordering-race``.
``joins``   joiners arrive during bursts while the history read takes 40-400 ms;
            FIFO links. ``join-without-backfill`` and ``room-join-race-condition``.
``resume``  clients cut for short and long spells; the log is short, so the long
            ones must end in a ``resync``; late stragglers. ``reconnection-state-loss``.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rtlab.learner import describe_error
from rtlab.sim.loop import SimLoop, SimTask, SimulationAborted
from rtlab.topics.ordering_and_rooms.interface import BACKFILL, Message

__all__ = [
    "KINDS",
    "Join",
    "Plan",
    "SimHistory",
    "Trace",
    "graded_plan",
    "run",
]

Kind = Literal["hops", "faults", "joins", "resume"]
KINDS: tuple[Kind, ...] = ("hops", "faults", "joins", "resume")
TICK = 0.1  # seconds between calls of client.requests(now)
ROOM = "lobby"


class SimHistory:
    """A bounded log that takes ``query`` seconds to run a read and ``reply`` to answer.

    The read sees the log as it is when the query runs (after ``query`` seconds),
    as a database would. ``appended`` keeps every message ever appended: the truth.
    """

    def __init__(self, loop: SimLoop, capacity: int,
                 delays: Callable[[], tuple[float, float]]) -> None:
        self.loop = loop
        self.capacity = capacity
        self.delays = delays
        self.kept: deque[Message] = deque(maxlen=capacity)
        self.appended: list[tuple[float, Message]] = []
        # per join task: (time the query ran, oldest seq kept then, seqs returned)
        self.snapshots: dict[SimTask, tuple[float, int | None, list[int]]] = {}

    def append(self, message: Message) -> None:
        self.kept.append(message)
        self.appended.append((self.loop.now, message))

    async def read(self, after: int) -> list[Message]:
        query, reply = self.delays()
        await self.loop.sleep(query)
        found = [dict(m) for m in self.kept if m["seq"] > after]
        task = self.loop.current
        if task is not None:
            oldest = self.kept[0]["seq"] if self.kept else None
            self.snapshots[task] = (self.loop.now, oldest, [m["seq"] for m in found])
        await self.loop.sleep(reply)
        return found


@dataclass
class Net:
    """How the path from the server to clients misbehaves (see the module docstring)."""

    delay: float = 0.005
    jitter: float = 0.0  # > 0: independent delays up to this much (reordering)
    duplicate: float = 0.0  # chance of a second copy of a message
    drop: float = 0.0  # chance a message is lost (fault window only)
    straggle: float = 0.0  # chance of a late copy, 0.8-2 s later, whatever the connection
    faults_until: float = 0.0


@dataclass
class Plan:
    seed: int
    kind: Kind
    clients: list[str]
    joins: list[tuple[float, str]]  # first connection of each client
    cuts: list[tuple[float, str, float]]  # (when, client, downtime)
    publishes: list[tuple[float, str, str]]  # (when, sender, message id); retries repeat ids
    net: Net
    capacity: int
    read_delay: tuple[float, float]  # range of each half of a history read
    slow: tuple[float, float, float] | None = None  # (from, to, extra s): the store is slow
    holes: list[tuple[float, str]] = field(default_factory=list)  # drop the next msg to c
    max_pending: int = 16
    until: float = 0.0


@dataclass
class Join:
    """One call of ``room.join`` and what it answered."""

    client: str
    since: int | None
    called: float
    known: int  # messages appended when the join was called
    oldest: int | None  # oldest seq the log kept at the read (or at the call)
    returned: float | None = None
    reply: list[Message] | None = None
    read_at: float | None = None  # when its history query ran


@dataclass
class Trace:
    plan: Plan
    appended: list[tuple[float, Message]] = field(default_factory=list)
    shown: dict[str, list[tuple[float, Message]]] = field(default_factory=dict)
    wire: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)  # seq, how
    joins: list[Join] = field(default_factory=list)
    log: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # per client
    pending_over: dict[str, tuple[float, int]] = field(default_factory=dict)
    error: str | None = None
    error_at: float = 0.0
    refusals: list[str] = field(default_factory=list)  # what bad joins did (resume kind)

    def note(self, client: str, t: float, text: str) -> None:
        self.log.setdefault(client, []).append((t, text))


class LearnerError(Exception):
    """Learner code raised; stops the scenario."""

    def __init__(self, call: str, error: BaseException) -> None:
        super().__init__(call)
        self.call, self.error = call, error


# -- schedules -------------------------------------------------------------------


def graded_plan(seed: int) -> Plan:
    """The schedule of graded scenario ``seed`` (its kind is ``KINDS[seed % 4]``)."""
    rng = random.Random(seed)
    kind = KINDS[seed % 4]
    senders = ["ann", "bob", "cy"]
    publishes: list[tuple[float, str, str]] = []
    counters = dict.fromkeys(senders, 0)

    def burst(start: float, end: float, rate: float, retry: float = 0.0) -> None:
        t = start
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                return
            sender = rng.choice(senders)
            counters[sender] += 1
            msg_id = f"{sender}-{counters[sender]}"
            publishes.append((t, sender, msg_id))
            if rng.random() < retry:  # the sender did not see the ack and sends again
                publishes.append((t + rng.uniform(0.05, 0.8), sender, msg_id))

    clients = ["dee", "eve", "fay"]
    joins = [(rng.uniform(0.0, 0.1), c) for c in clients]
    cuts: list[tuple[float, str, float]] = []
    slow: tuple[float, float, float] | None = None
    holes: list[tuple[float, str]] = []
    read = (0.005, 0.03)
    capacity = 1000
    if kind == "hops":
        burst(0.3, 2.3, 20)
        net = Net(delay=0.005, jitter=rng.uniform(0.08, 0.2))
        calm = 2.3
    elif kind == "faults":
        burst(0.3, 3.3, 18, retry=0.08)
        net = Net(delay=0.005, jitter=rng.uniform(0.02, 0.15), duplicate=0.08, drop=0.06,
                  faults_until=3.3)
        for c in clients:
            t = rng.uniform(0.5, 2.8)
            cuts.append((t, c, rng.uniform(0.05, 0.4)))
        # During a fast burst the history store slows down (reads take 1.2 s more) and
        # one client loses a message: its gap stays open while the burst flows past.
        start = rng.uniform(1.0, 1.8)
        burst(start, start + 0.5, 70)
        slow = (start - 0.3, start + 0.6, 1.2)
        holes.append((start, rng.choice(clients)))
        calm = 3.3
    elif kind == "joins":
        burst(0.0, 1.0, 20)
        burst(1.0, 2.2, rng.uniform(50, 80))
        net = Net(delay=0.003)
        read = (0.02, 0.2)
        late = [f"new{i}" for i in range(rng.randint(4, 5))]
        clients = clients[:1] + late
        joins = joins[:1] + [(rng.uniform(0.9, 2.1), c) for c in late]
        calm = 2.2
    else:  # resume
        burst(0.2, 4.5, rng.uniform(20, 28))
        capacity = 25
        net = Net(delay=0.004, straggle=0.08)
        for c in clients:
            short, long = rng.uniform(0.4, 1.6), rng.uniform(2.0, 2.6)
            cuts.append((short, c, rng.uniform(0.1, 0.5)))
            cuts.append((long, c, rng.uniform(1.6, 1.9)))  # > 25 messages: beyond the log
        calm = 4.5
    burst(calm, calm + 0.8, 12)  # the calm tail: nothing lost, every gap revealed
    publishes.sort()
    until = max(t for t, _, _ in publishes) + 2.5
    return Plan(seed, kind, clients, sorted(joins), sorted(cuts), publishes, net, capacity,
                read, slow, holes, until=until)


# -- running a plan --------------------------------------------------------------


class _World:
    """One run: the room, the clients, their connections and the network."""

    def __init__(self, plan: Plan, room_cls: Any, client_cls: Any) -> None:
        self.plan = plan
        self.loop = SimLoop(plan.seed)
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.trace = Trace(plan)
        self.history = SimHistory(self.loop, plan.capacity, self._read_delays)
        self.holes = sorted(plan.holes)
        self.room = self._call(lambda: "Room(...)",
                               lambda: room_cls(ROOM, self.history, backfill=BACKFILL))
        self.clients = {c: self._call(lambda: "Client(...)", lambda: client_cls(
            ROOM, max_pending=plan.max_pending)) for c in plan.clients}
        self.epoch = dict.fromkeys(plan.clients, 0)  # odd: connected
        self.last_due: dict[tuple[str, int], float] = {}
        for c in plan.clients:
            self.trace.shown[c] = []
            self.trace.wire[c] = []

    def _read_delays(self) -> tuple[float, float]:
        lo, hi = self.plan.read_delay
        query, reply = self.rng.uniform(lo, hi), self.rng.uniform(lo, hi)
        slow = self.plan.slow
        if slow is not None and slow[0] <= self.loop.now < slow[1]:
            query += slow[2]
        return query, reply

    # -- learner calls ----------------------------------------------------------
    def _call(self, what: Callable[[], str], fn: Callable[[], Any]) -> Any:
        """``fn()``, with a learner's exception turned into a :class:`LearnerError`
        saying which call raised (``what()``, built only then: it is hot)."""
        try:
            return fn()
        except (SimulationAborted, KeyboardInterrupt):
            raise
        except Exception as error:
            raise LearnerError(what(), error) from error

    def connected(self, c: str) -> bool:
        return self.epoch[c] % 2 == 1

    # -- network ---------------------------------------------------------------
    def down(self, c: str, message: Message, how: str) -> None:
        """The server sends ``message`` to client ``c`` on its current connection."""
        if not self.connected(c):
            return
        epoch, net, now = self.epoch[c], self.plan.net, self.loop.now
        if message.get("type") == "msg":
            self.trace.wire[c].append((now, message.get("seq", -1), how))
        faulty = now < net.faults_until and message.get("type") == "msg"
        hole = faulty and bool(self.holes) and self.holes[0][0] <= now and self.holes[0][1] == c
        if hole:
            self.holes.pop(0)
        if hole or (faulty and self.rng.random() < net.drop):
            self.trace.note(c, now, f"network drops seq {message.get('seq')}")
            return
        if net.jitter:
            due = now + net.delay + self.rng.uniform(0, net.jitter)
        else:  # FIFO: never before the previous message on this connection
            due = max(now + net.delay, self.last_due.get((c, epoch), 0.0))
            self.last_due[(c, epoch)] = due
        self.loop.call_at(due, self.arrive, c, epoch, dict(message))
        if faulty and self.rng.random() < net.duplicate:
            self.loop.call_at(due + self.rng.uniform(0.01, 0.3), self.arrive, c, epoch,
                              dict(message))
        if message.get("type") == "msg" and self.rng.random() < net.straggle:
            self.loop.call_at(due + self.rng.uniform(0.8, 2.0), self.arrive, c, None,
                              dict(message))

    def arrive(self, c: str, epoch: int | None, message: Message) -> None:
        now = self.loop.now
        if epoch is not None and epoch != self.epoch[c]:
            return  # the connection it was sent on is gone
        if epoch is None:
            self.trace.note(c, now, f"a late copy of seq {message.get('seq')} arrives")
        client = self.clients[c]
        # The hot path of a run: plain try blocks, no wrappers (see _call).
        try:
            shown = client.receive(message, now)
        except Exception as error:
            raise LearnerError(f"client.receive({_brief(message)}, now={now:.3f})",
                               error) from error
        if not isinstance(shown, list):
            raise LearnerError(f"client.receive({_brief(message)})",
                               TypeError(f"returned {shown!r}, not a list of messages"))
        if message.get("type") != "msg" or shown:
            self.trace.note(c, now, f"receives {_brief(message)} -> shows "
                            + (_seqs(shown) if shown else "nothing"))
        record = self.trace.shown[c]
        for m in shown:
            record.append((now, m))
        self._pending(c)
        self.requests(c)

    def _pending(self, c: str) -> None:
        try:
            held = self.clients[c].pending()
        except Exception as error:
            raise LearnerError("client.pending()", error) from error
        if isinstance(held, int) and held > self.plan.max_pending:
            self.trace.pending_over.setdefault(c, (self.loop.now, held))

    def requests(self, c: str) -> None:
        if self.epoch[c] % 2 == 0:
            return  # not connected
        now = self.loop.now
        try:
            sent = self.clients[c].requests(now)
        except Exception as error:
            raise LearnerError(f"client.requests(now={now:.3f})", error) from error
        for request in sent or []:
            self.up(c, request, "asks")

    def up(self, c: str, request: Message, why: str) -> None:
        now = self.loop.now
        self.trace.note(c, now, f"{why} {_brief(request)}")
        epoch = self.epoch[c]
        due = max(now + self.plan.net.delay, self.last_due.get((c, -epoch), 0.0))
        self.last_due[(c, -epoch)] = due
        self.loop.call_at(due, self.serve, c, epoch, request)

    # -- the server ------------------------------------------------------------
    def serve(self, c: str, epoch: int, request: Message) -> None:
        if epoch != self.epoch[c]:
            return
        if not isinstance(request, dict) or request.get("type") != "join" or (
                request.get("room") != ROOM):
            raise LearnerError("client request", ValueError(
                f"the client sent {request!r}; expected "
                f"{{'type': 'join', 'room': {ROOM!r}, 'since': ...}}"))
        since = request.get("since")
        self.loop.spawn(self._join(c, epoch, since), f"join {c}")

    async def _join(self, c: str, epoch: int, since: int | None) -> None:
        now = self.loop.now
        oldest = self.history.kept[0]["seq"] if self.history.kept else None
        join = Join(c, since, now, len(self.history.appended), oldest)
        self.trace.joins.append(join)
        try:
            reply = await self.room.join(c, since)
        except Exception as error:
            self.trace.error = (f"room.join({c!r}, since={since!r}) at t={now:.3f} s raised "
                                + describe_error(error))
            self.trace.error_at = now
            self.loop.call_soon(self._abort)
            return
        task = self.loop.current
        if task is not None and task in self.history.snapshots:
            join.read_at, join.oldest, _ = self.history.snapshots.pop(task)
        join.returned, join.reply = self.loop.now, list(reply)
        if epoch != self.epoch[c]:
            return
        for m in reply:
            self.down(c, m, "join")

    def _abort(self) -> None:
        raise _Stop

    def publish(self, sender: str, msg_id: str) -> None:
        deliveries = self._call(lambda: f"room.publish({sender!r}, {msg_id!r}, ...)",
                                lambda: self.room.publish(sender, msg_id, f"text {msg_id}"))
        # In member order: the room may keep its members in a set, whose order changes
        # from one process to the next, and each send draws from the seeded rng.
        for member, message in sorted(deliveries or [], key=lambda d: str(d[0])):
            if member in self.epoch:
                self.down(member, message, "live")

    def connect(self, c: str) -> None:
        self.epoch[c] += 1
        now = self.loop.now
        sent = self._call(lambda: f"client.connected(now={now:.3f})",
                          lambda: self.clients[c].connected(now))
        for request in sent or []:
            self.up(c, request, "connects, sends")

    def cut(self, c: str, downtime: float) -> None:
        if not self.connected(c):
            return
        self.epoch[c] += 1
        self.trace.note(c, self.loop.now, f"connection cut for {downtime:.2f} s")
        self._call(lambda: f"room.leave({c!r})", lambda: self.room.leave(c))
        self.loop.call_later(downtime, self.connect, c)

    def tick(self, c: str) -> None:
        self.requests(c)
        self._pending(c)
        if self.loop.now + TICK < self.plan.until:
            self.loop.call_later(TICK, self.tick, c)


class _Stop(Exception):
    pass


def run(plan: Plan, room_cls: Any, client_cls: Any) -> Trace:
    """Run ``plan`` with the learner's classes; learner errors end up in ``trace.error``."""
    world: _World | None = None
    try:
        world = _World(plan, room_cls, client_cls)
        loop = world.loop
        for t, c in plan.joins:
            loop.call_at(t, world.connect, c)
            loop.call_at(t + TICK / 2, world.tick, c)
        for t, c, downtime in plan.cuts:
            loop.call_at(t, world.cut, c, downtime)
        for t, sender, msg_id in plan.publishes:
            loop.call_at(t, world.publish, sender, msg_id)
        loop.run(plan.until)
    except LearnerError as error:
        trace = world.trace if world is not None else Trace(plan)
        now = world.loop.now if world is not None else 0.0
        trace.error = f"{error.call} raised {describe_error(error.error)}"
        trace.error_at = now
        _close(world)
        return trace
    except _Stop:
        pass
    assert world is not None
    world.trace.appended = list(world.history.appended)  # the truth, before the probe
    if plan.kind == "resume" and world.trace.error is None:
        world.trace.refusals = _bad_joins(world.room, len(world.history.appended))
    world.loop.close()
    return world.trace


BAD_SINCE: tuple[Callable[[int], Any], ...] = (
    lambda latest: latest + 10,  # in the future: a client of another room, or a bug
    lambda latest: -1,
    lambda latest: str(latest),  # malformed: a string, not a number
)


def _bad_joins(room: Any, latest: int) -> list[str]:
    """After the run, ask the room for joins it must refuse; describe what it did instead.

    A refusal raises ``ValueError`` before the join awaits anything; then a publish must
    still get the next seq (the room is unaffected).
    """
    wrong = []
    for make in BAD_SINCE:
        since = make(latest)
        join = room.join("intruder", since)
        try:
            join.send(None)
        except ValueError:
            continue
        except StopIteration:
            wrong.append(f"room.join('intruder', since={since!r}) answered at once "
                         "instead of raising ValueError")
            continue
        except Exception as error:
            wrong.append(f"room.join('intruder', since={since!r}) raised "
                         f"{type(error).__name__} instead of ValueError")
            continue
        finally:
            join.close()
        wrong.append(f"room.join('intruder', since={since!r}) went on to read the history "
                     "instead of raising ValueError")
    try:
        delivered = room.publish("ann", "probe-after-bad-joins", "still there?")
        seqs = {m.get("seq") for _, m in delivered or []}
        if seqs and seqs != {latest + 1}:
            wrong.append(f"after the refused joins, the next message got seq {sorted(seqs)}, "
                         f"not {latest + 1}")
    except Exception as error:
        wrong.append(f"after the refused joins, room.publish raised {describe_error(error)}")
    return wrong


def _close(world: _World | None) -> None:
    if world is not None:
        world.trace.appended = world.history.appended
        world.loop.close()


def _brief(message: Any) -> str:
    if not isinstance(message, dict):
        return repr(message)
    kind = message.get("type")
    if kind == "msg":
        return f"msg seq {message.get('seq')} ({message.get('id')})"
    if kind in ("joined", "resync"):
        return f"{kind} after={message.get('after')}"
    if kind == "join":
        return f"join since={message.get('since')}"
    return repr(message)


def _seqs(messages: list[Message]) -> str:
    seqs = [m.get("seq") if isinstance(m, dict) else m for m in messages]
    if len(seqs) > 6:
        return f"seq {seqs[0]}..{seqs[-1]} ({len(seqs)} messages)"
    return "seq " + ", ".join(str(s) for s in seqs)


# -- for the lesson --------------------------------------------------------------------


def plan_of_kind(kind: Kind, n: int = 0) -> Plan:
    """The ``n``-th graded schedule of ``kind``."""
    return graded_plan(7000 + 4 * n + KINDS.index(kind))


def race_summary(trace: Trace) -> str:
    """Per late joiner: messages owed since its join began, lost, shown twice, out of order."""
    if trace.error is not None:
        return f"the run stopped: {trace.error}"
    firsts: dict[str, Join] = {}
    for record in trace.joins:
        firsts.setdefault(record.client, record)
    rows = [f"{'joiner':<7} {'joined at':>9} {'owed':>5} {'lost':>5} {'twice':>6} {'disorder':>9}"]
    total = [0, 0, 0, 0]
    for client in trace.plan.clients:
        join = firsts.get(client)
        if join is None or join.known == 0:
            continue  # joined before the first message: nothing to race
        owed = {m["id"] for _, m in trace.appended[join.known:]}
        ids = [m.get("id") for _, m in trace.shown[client]]
        seqs = [m.get("seq", 0) for _, m in trace.shown[client]]
        counts = [len(owed), len(owed - set(ids)), len(ids) - len(set(ids)),
                  sum(1 for a, b in itertools.pairwise(seqs) if b < a)]
        total = [t + c for t, c in zip(total, counts, strict=True)]
        rows.append(f"{client:<7} {join.called:9.3f} {counts[0]:5d} {counts[1]:5d} "
                    f"{counts[2]:6d} {counts[3]:9d}")
    rows.append(f"{'total':<7} {'':>9} {total[0]:5d} {total[1]:5d} {total[2]:6d} {total[3]:9d}")
    return "\n".join(rows)
