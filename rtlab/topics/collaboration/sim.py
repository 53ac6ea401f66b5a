"""Collaborative editing in virtual time: editors, a room, a network that cuts and reorders.

The collab exercise's ``Room`` and ``Client`` are sans-I/O (they take a message
and return what to send), so no event loop is needed: a :class:`World` holds
one room, a few editors (each a pycrdt ``Doc`` with a fixed ``client_id``, the
learner's ``Client`` around it, and a pycrdt ``Awareness``), and a queue of
timed events. Messages travel on per-connection FIFO links with a random
latency; a cut drops whatever is in flight both ways and the server notices a
little later (``Room.leave``); a clean leave says goodbye in awareness first.
A restart persists the room (``save()``), builds ``Room(saved)`` and drops
every connection.

Playing the part of y-websocket's provider (the layer around ``Client``), an
editor announces its awareness on every connect (with a new clock, so peers
that saw it go accept it again), forgets the others' awareness when its link
goes, and, like an at-least-once outbox, may send again the last updates of
its previous connection right after reconnecting, shuffled: the room sees
duplicates and updates whose dependencies have not arrived yet.

The world also keeps what the grader needs to judge, without trusting the
learner's code: ``truth`` (a doc with every edit anyone made: what everyone
must end with), ``shadow`` (a doc with every update the room received: what
the room can know), the bytes of every sync message with what it carried
that was new to its receiver, and every awareness view when it matters.

:func:`graded_world` builds the seeded schedules the grader runs: "race"
worlds (everyone online, concurrent edits, garbage from a rogue connection)
and "reconnect" worlds (cuts with offline edits, late joiners, a leaver,
server restarts); :func:`scenario` runs one with the learner's ``Room`` and ``Client``
(their types: :mod:`rtlab.topics.collaboration.interface`) under a time limit, and
keeps what stopped it if it could not finish. A notebook can build small worlds by hand::

    world = World(Room, Client, seed=1, editors=2, initial="Hello")
    world.start(); world.settle()  # everyone has "Hello"
    world.cut(2); world.edit(2, "insert", 0, "offline "); world.edit(1, "insert", 5, "!")
    world.run(1.0); world.reconnect(2); world.settle()
    world.texts()      # {1: 'offline Hello!', 2: 'offline Hello!'}
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

from pycrdt import (
    Awareness,
    Doc,
    Map,
    Text,
    TransactionEvent,
    create_awareness_message,
    create_sync_message,
    handle_sync_message,
    merge_updates,
)

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.sim.loop import SimulationAborted
from rtlab.topics.collaboration.interface import (
    ClientFactory,
    ClientLogic,
    CollabModule,
    RoomFactory,
    RoomLogic,
)
from rtlab.wire.yjs import ProtocolError, describe, parse

__all__ = [
    "SCENARIO_SECONDS",
    "AwarenessProbe",
    "Edit",
    "Garbage",
    "LearnerError",
    "Plan",
    "Restart",
    "Run",
    "SyncBytes",
    "World",
    "describe",
    "graded_world",
    "scenario",
]

LATENCY = (0.005, 0.08)  # one-way, seconds
WORDS = ("the ", "quick ", "brown ", "fox ", "jumps ", "over ", "a ", "lazy ", "dog ", "and ",
         "then ", "naps ", "while ", "we ", "type ", "sync ")  # ASCII: pycrdt indexes UTF-8 bytes
GARBAGE: tuple[tuple[str, bytes], ...] = (
    ("an empty message", b""),
    ("a lone sync byte", b"\x00"),
    ("an unknown message type", b"\x07\x00\x00"),
    ("a truncated update (says 40 bytes, carries 3)", b"\x00\x02\x28\x01\x02\x03"),
    ("an update that is not a Yjs update", b"\x00\x02\x05hello"),
    ("a truncated varint", b"\x00\x02\xff\xff"),
    ("an awareness update that is not JSON", b"\x01\x08\x01\x05\x01\x04{no}"),
)
SYNC_NAMES = ("step1", "step2", "update")
INITIAL_AUTHOR = 1000  # client_id of whoever wrote the document before the scenario
OBSERVER_ID = 999
SCENARIO_SECONDS = 10.0  # wall-clock limit of one graded world (~10 ms; loaded CI stalls)
T = TypeVar("T")
Text_ = str | Callable[[], str]  # a log line, or a function that makes it when needed


def text(line: Text_) -> str:
    return line if isinstance(line, str) else line()


def kind_of(message: bytes) -> tuple[str, bytes]:
    """The kind and payload of a y-protocols message (``"invalid"`` if it does not parse)."""
    # fast path (most messages): a one-byte payload length, checked exactly
    size = len(message)
    if size >= 3 and message[0] == 0 and message[1] <= 2 and message[2] == size - 3 < 0x80:
        return SYNC_NAMES[message[1]], message[3:]
    if size >= 2 and message[0] == 1 and message[1] == size - 2 < 0x80:
        return "awareness", message[2:]
    try:
        parsed = parse(message, check_update=False)
    except ProtocolError:
        return "invalid", b""
    return parsed.kind, parsed.payload


class LearnerError(Exception):
    """The learner's code raised, or returned something that is not what was asked."""

    def __init__(self, call: str, t: float, detail: str, error: BaseException | None = None):
        super().__init__(f"{call} at t={t:.3f} s: {detail}")
        self.call, self.t, self.detail, self.error = call, t, detail, error


@dataclass
class Edit:
    """One local edit: made by ``editor`` at ``t``, online or not."""

    editor: int
    t: float
    what: str  # e.g. "insert 'fox ' at 12", "delete 3 at 40", "title = 'dog'"
    update: bytes
    online: bool
    sent: list[bytes] = field(default_factory=list)  # what local_update returned


@dataclass
class SyncBytes:
    """A sync message whose size the grader judges against what it had to carry."""

    t: float
    sender: str  # "room" or "e2"
    receiver: str
    kind: str  # "step2 reply", "sent on join", "relay", "client update", "client step2 reply"
    size: int  # payload bytes
    needed: int  # bytes of what the receiver lacked (for replies) or what was new to it
    note: str = ""


@dataclass
class AwarenessProbe:
    """What one member's awareness showed at a moment the grader checks."""

    t: float
    viewer: str
    shown: dict[int, Any]  # awareness id -> state, as the viewer sees it (itself excluded)
    expected: dict[int, Any]  # what it should show (for a leave probe: only who is gone)
    why: str  # e.g. "0.4 s after the room's leave('e2#1') (e2's connection dropped)"
    ghost: int | None = None  # a leave probe: this id must not be shown

    @property
    def wrong(self) -> bool:
        if self.ghost is not None:
            return self.ghost in self.shown
        return self.shown != self.expected


@dataclass
class Garbage:
    t: float
    what: str
    message: bytes
    outcome: str  # "ValueError: ...", "returned [...]", "IndexError: ..."
    rejected: bool  # raised ValueError
    unchanged: bool  # save() identical before and after


@dataclass
class Restart:
    t: float
    saved: int  # bytes
    expected_text: str  # what the room had received when the newcomer asked
    newcomer_text: str | None  # what a newcomer got right after it (None: never synced)


class Editor:
    """One person editing: a Doc, the learner's Client around it, and awareness."""

    def __init__(self, world: World, number: int,
                 client_factory: ClientFactory) -> None:
        self.world = world
        self.number = number
        self.name = f"e{number}"
        self.doc: Doc[Any] = Doc(client_id=number)
        self.text = self.doc.get("text", type=Text)
        self.meta = self.doc.get("meta", type=Map)
        self.awareness = Awareness(self.doc)
        self.awareness.set_local_state({"user": self.name, "cursor": 0})
        self.conn: str | None = None
        self.connections = 0
        self.connected_at = 0.0
        self.leaving = False  # leaves for good once its outbox is delivered
        self.gone = False  # left for good
        self.sent_on_conn: list[bytes] = []  # update messages sent on the current connection
        self.spans: list[tuple[float, str]] = []  # (t, "open"|"closed") for timelines
        self._local = False
        self._received: list[int] = []  # sizes of what remote messages changed
        self.doc.observe(self._on_change)
        self.client: ClientLogic = world.call(f"Client(doc of {self.name})", client_factory,
                                              self.doc)

    def _on_change(self, event: TransactionEvent) -> None:
        if self._local:
            self.world._local_updates.append(event.update)
        else:
            self._received.append(len(event.update))

    @property
    def online(self) -> bool:
        return self.conn is not None


class World:
    """A room, editors and a network in virtual time (see the module docstring)."""

    def __init__(
        self,
        room_factory: RoomFactory,
        client_factory: ClientFactory,
        *,
        seed: int,
        editors: int = 2,
        initial: str = "",
        latency: tuple[float, float] = LATENCY,
        resend: float = 0.5,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.latency = latency
        self.resend = resend  # chance that an editor's outbox sends again after a reconnect
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = 0
        self._arrivals: dict[tuple[str, str], float] = {}  # (conn, direction) -> last arrival
        self._local_updates: list[bytes] = []
        self.room_factory = room_factory
        self.log: list[tuple[float, str, Text_]] = []  # (t, who, line)
        self.edits: list[Edit] = []
        self.sync_bytes: list[SyncBytes] = []
        self.probes: list[AwarenessProbe] = []
        self.garbage: list[Garbage] = []
        self.restarts: list[Restart] = []
        self.member_conns: set[str] = set()  # connections the server holds open
        # truth: every edit anyone made; shadow: every update the room received. Both
        # take updates in batches, when read (one merge is far cheaper than many applies).
        self._truth: Doc[Any] = Doc(client_id=OBSERVER_ID + 1)
        self._shadow: Doc[Any] = Doc(client_id=OBSERVER_ID + 2)
        self._truth_todo: list[bytes] = []
        self._shadow_todo: list[bytes] = []
        self.saved0 = b""
        if initial:
            author: Doc[Any] = Doc(client_id=INITIAL_AUTHOR)
            author["text"] = Text(initial)
            self.saved0 = author.get_update()
            self._truth_todo.append(self.saved0)
            self._shadow_todo.append(self.saved0)
        self.room: RoomLogic = self.call(
            "Room(saved)" if self.saved0 else "Room()",
            room_factory, *((self.saved0,) if self.saved0 else ()))
        self.editors = {n: Editor(self, n, client_factory) for n in range(1, editors + 1)}
        self._conns: dict[str, Editor | None] = {}  # conn -> editor (None: observer/rogue)
        self._observer_docs: dict[str, Doc[Any]] = {}
        self._observer_awareness: dict[str, Awareness] = {}
        self._observer_synced: dict[str, Callable[[str], None]] = {}
        self._expect_text: dict[str, Callable[[str], None]] = {}

    # -- learner calls -------------------------------------------------------------
    def call(self, what: Text_, fn: Callable[..., T], *args: Any) -> T:
        """Call learner code; anything it raises becomes a :class:`LearnerError`."""
        try:
            return fn(*args)
        except (KeyboardInterrupt, SystemExit, SimulationAborted):
            raise  # SimulationAborted: the grader's time limit stopped runaway code
        except BaseException as error:  # pycrdt's PanicException is not an Exception
            raise LearnerError(text(what), self.now,
                               f"raised {type(error).__name__}: {error}", error) from error

    def _room_out(self, what: Text_, result: Any) -> list[tuple[Hashable, bytes]]:
        if result is None:
            return []
        if not isinstance(result, list | tuple) or not all(
            isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], bytes | bytearray)
            for x in result
        ):
            raise LearnerError(text(what), self.now, f"returned {result!r:.120}; expected a "
                               "list of (client, message bytes) pairs")
        return [(c, bytes(m)) for c, m in result]

    def _client_out(self, what: Text_, result: Any) -> list[bytes]:
        if result is None:
            return []
        if not isinstance(result, list | tuple) or not all(
            isinstance(m, bytes | bytearray) for m in result
        ):
            raise LearnerError(text(what), self.now, f"returned {result!r:.120}; expected a "
                               "list of message bytes")
        return [bytes(m) for m in result]

    def note(self, who: str, what: Text_) -> None:
        """Log a line (or a function making it: most lines are never read)."""
        self.log.append((self.now, who, what))

    def timeline(self, who: Iterable[str] | None = None, start: float = 0.0,
                 end: float = float("inf")) -> list[str]:
        """The log as text lines, optionally only lines of ``who`` between two times."""
        wanted = None if who is None else set(who)
        return [f"t={t:6.3f} s  {name:<5} {text(line)}" for t, name, line in self.log
                if (wanted is None or name in wanted) and start <= t <= end]

    # -- time ----------------------------------------------------------------------
    def at(self, t: float, action: Callable[[], object]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action))

    def run(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``, doing everything due."""
        self.run_until(self.now + seconds)

    def run_until(self, until: float) -> None:
        while self._queue and self._queue[0][0] <= until:
            t, _, action = heapq.heappop(self._queue)
            self.now = max(self.now, t)
            action()
        self.now = max(self.now, until)

    def settle(self, limit: float = 60.0) -> None:
        """Run until nothing is left to do (at most ``limit`` virtual seconds); the clock
        stops at the last thing done."""
        until = self.now + limit
        while self._queue and self._queue[0][0] <= until:
            t, _, action = heapq.heappop(self._queue)
            self.now = max(self.now, t)
            action()

    # -- the network -----------------------------------------------------------------
    def _travel(self, conn: str, direction: str) -> float:
        key = (conn, direction)
        low, high = self.latency
        arrival = max(self.now + low + (high - low) * self.rng.random(),
                      self._arrivals.get(key, 0.0) + 1e-6)
        self._arrivals[key] = arrival
        return arrival

    def send_up(self, conn: str, message: bytes) -> None:
        """A message from the client end of ``conn`` to the server."""
        self.at(self._travel(conn, "up"), lambda: self._deliver_up(conn, message))

    def send_down(self, outputs: Iterable[tuple[Hashable, bytes]], reply_to: tuple[str, str]
                  ) -> None:
        # in the order of the targets' names (stable: each target's messages keep their
        # order), so that a run does not depend on the order of a set, which varies
        # from one process to the next
        for target, message in sorted(outputs, key=lambda out: str(out[0])):
            if not isinstance(target, str) or target not in self.member_conns:
                continue  # a connection the server no longer has: nowhere to send it
            self.at(self._travel(target, "down"),
                    partial(self._deliver_down, target, message, reply_to))

    def _deliver_up(self, conn: str, message: bytes) -> None:
        if conn not in self.member_conns:
            return  # the connection died with this in flight
        kind, payload = kind_of(message)
        def what() -> str:
            return f"Room.receive({conn!r}, {describe(message)})"
        out = self._room_out(what, self.call(what, self.room.receive, conn, message))
        if kind in ("step2", "update"):
            self._shadow_todo.append(payload)
        elif kind == "step1":
            if conn in self._expect_text:  # a newcomer: it should get all the room received
                self._expect_text.pop(conn)(str(self.shadow.get("text", type=Text)))
            for target, reply in out:
                rkind, rpayload = kind_of(reply)
                if target == conn and rkind == "step2":
                    self.sync_bytes.append(SyncBytes(
                        self.now, "room", conn, "step2 reply", len(rpayload),
                        len(self.shadow.get_update(payload))))
        self.note("room", lambda: f"{what()} -> {self._show(out)}")
        self.send_down(out, (conn, kind))

    def _deliver_down(self, conn: str, message: bytes, reply_to: tuple[str, str]) -> None:
        editor = self._conns.get(conn)
        if conn not in self.member_conns or (editor is not None and editor.conn != conn):
            return  # dropped: that link is gone
        kind, payload = kind_of(message)
        if editor is None:
            self._observer_receive(conn, kind, payload, message)
            return
        if kind == "awareness":
            editor.awareness.apply_awareness_update(payload, "room")
            return
        if kind == "invalid":
            raise LearnerError(f"the room's message to {conn}", self.now,
                               f"the room sent {message[:40]!r}, not a y-protocols message")
        def what() -> str:
            return f"{editor.name}.receive({describe(message)})"
        editor._received.clear()
        out = self._client_out(what, self.call(what, editor.client.receive, message))
        changed = sum(editor._received)
        if kind in ("step2", "update") and reply_to[1] == "update":
            # a live edit relayed (what a sync brought the room is relayed too, and may be
            # old news to the others after a room lost its state: judged elsewhere)
            self.sync_bytes.append(SyncBytes(self.now, "room", editor.name, "relay",
                                             len(payload), changed))
        elif kind in ("step2", "update") and reply_to[1] == "join":  # unasked, on join
            self.sync_bytes.append(SyncBytes(self.now, "room", editor.name, "sent on join",
                                             len(payload), changed))
        if kind == "step1":
            for reply in out:
                rkind, rpayload = kind_of(reply)
                if rkind == "step2":
                    self.sync_bytes.append(SyncBytes(
                        self.now, editor.name, "room", "client step2 reply", len(rpayload),
                        len(editor.doc.get_update(payload))))
        self._client_sent(editor, out, "client reply")
        self.note(editor.name, lambda: f"{what()} -> {self._show_client(out)}")

    def _client_sent(self, editor: Editor, out: list[bytes], context: str) -> None:
        assert editor.conn is not None
        for message in out:
            kind, payload = kind_of(message)
            if kind == "update" or (kind == "step2" and context != "client reply"):
                self.sync_bytes.append(SyncBytes(self.now, editor.name, "room", "client update",
                                                 len(payload), 0, context))
            if kind == "update":
                editor.sent_on_conn.append(message)
            self.send_up(editor.conn, message)

    @staticmethod
    def _show(out: list[tuple[Hashable, bytes]]) -> str:
        if not out:
            return "[]"
        return "[" + ", ".join(f"{c}: {describe(m)}" for c, m in out) + "]"

    @staticmethod
    def _show_client(out: list[bytes]) -> str:
        return "[" + ", ".join(describe(m) for m in out) + "]"

    # -- editors -------------------------------------------------------------------------
    def connect(self, number: int) -> None:
        """Editor ``number`` opens a new connection (first time or again)."""
        editor = self.editors[number]
        if editor.online or editor.gone:
            return
        editor.connections += 1
        conn = f"{editor.name}#{editor.connections}"
        previous, editor.sent_on_conn = editor.sent_on_conn, []
        editor.conn, editor.connected_at = conn, self.now
        editor.spans.append((self.now, "open"))
        self._conns[conn] = editor
        self.member_conns.add(conn)
        what = f"Room.join({conn!r})"
        out = self._room_out(what, self.call(what, self.room.join, conn))
        self.note("room", lambda: f"{what} -> {self._show(out)}")
        self.send_down(out, (conn, "join"))
        call = f"{editor.name}.connect()"
        sent = self._client_out(call, self.call(call, editor.client.connect))
        self.note(editor.name, lambda: f"{call} on {conn} -> {self._show_client(sent)}")
        self._client_sent(editor, sent, "connect")
        # the provider: announce awareness with a new clock, maybe resend the old outbox
        editor.awareness.set_local_state(editor.awareness.get_local_state())
        self.send_up(conn, create_awareness_message(
            editor.awareness.encode_awareness_update([editor.number])))
        if previous and self.rng.random() < self.resend:
            again = previous[-4:]
            self.rng.shuffle(again)
            self.note(editor.name, lambda: f"outbox sends again {len(again)} update(s) of "
                      "its previous connection, shuffled: " + self._show_client(again))
            for message in again:
                self.send_up(conn, message)

    def _drop_link(self, editor: Editor, why: str) -> str:
        conn = editor.conn
        assert conn is not None
        editor.conn = None
        editor.spans.append((self.now, "closed"))
        what = f"{editor.name}.disconnect()"
        self.call(what, editor.client.disconnect)
        self.note(editor.name, f"{why}; {what}")
        others = [c for c in editor.awareness.states if c != editor.number]
        editor.awareness.remove_awareness_states(others, "link down")
        for client_id in others:  # forget their clocks too, or the states the room sends
            editor.awareness.meta.pop(client_id, None)  # on reconnect look old: ignored
        return conn

    def cut(self, number: int, notice: float | None = None) -> None:
        """Editor ``number``'s link drops: in-flight messages are lost both ways; the
        server notices ``notice`` seconds later (random up to 0.5 s by default)."""
        editor = self.editors[number]
        if not editor.online:
            return
        conn = self._drop_link(editor, "link cut (no goodbye)")
        delay = self.rng.uniform(0.0, 0.5) if notice is None else notice
        self.at(self.now + delay, lambda: self._server_leave(conn, "dropped"))

    def _server_leave(self, conn: str, how: str) -> None:
        if conn not in self.member_conns:
            return
        self.member_conns.discard(conn)
        what = f"Room.leave({conn!r})"
        out = self._room_out(what, self.call(what, self.room.leave, conn))
        self.note("room", lambda: f"{what} ({how}) -> {self._show(out)}")
        self.send_down(out, (conn, "leave"))
        editor = self._conns.get(conn)
        if editor is not None:
            self.at(self.now + 0.4, lambda: self._probe_after_leave(editor, conn, how))

    def reconnect(self, number: int) -> None:
        self.connect(number)

    def leave(self, number: int) -> None:
        """Editor ``number`` closes the document for good, cleanly: it says goodbye in
        awareness, and the server closes the connection once everything arrived."""
        editor = self.editors[number]
        if editor.gone:
            return
        if not editor.online:
            self.connect(number)
        editor.leaving = True
        self.at(self.now + 0.5, lambda: self._finish_leave(editor))

    def _finish_leave(self, editor: Editor) -> None:
        conn = editor.conn
        if conn is None:  # cut meanwhile: try again once back
            self.connect(editor.number)
            self.at(self.now + 0.5, lambda: self._finish_leave(editor))
            return
        editor.awareness.set_local_state(None)
        self.send_up(conn, create_awareness_message(
            editor.awareness.encode_awareness_update([editor.number])))
        closing = self._travel(conn, "up") + 1e-6
        self._drop_link(editor, "closes the document (goodbye sent)")
        editor.gone = True
        self.at(closing, lambda: self._server_leave(conn, "closed"))

    def edit(self, number: int, kind: str = "random", *args: Any) -> Edit | None:
        """Editor ``number`` edits its doc: ``("insert", index, text)``, ``("delete",
        index, length)``, ``("title", value)``, or ``"random"``."""
        editor = self.editors[number]
        if editor.gone or editor.leaving:
            return None
        size = len(editor.text)
        if kind == "random":
            roll = self.rng.random()
            if roll < 0.06:
                kind, args = "title", (self.rng.choice(WORDS).strip(),)
            elif roll < 0.35 and size > 12:
                length = self.rng.randint(1, 6)
                kind, args = "delete", (self.rng.randrange(size - length), length)
            else:
                kind, args = "insert", (self.rng.randint(0, size), self.rng.choice(WORDS))
        self._local_updates.clear()
        editor._local = True
        try:
            with editor.doc.transaction():
                if kind == "insert":
                    index, text = args
                    editor.text.insert(min(index, size), text)
                    what = f"insert {text!r} at {min(index, size)}"
                elif kind == "delete":
                    index, length = args
                    del editor.text[index:index + length]
                    what = f"delete {length} at {index}"
                else:
                    editor.meta["title"] = args[0]
                    what = f"title = {args[0]!r}"
        finally:
            editor._local = False
        if not self._local_updates:
            return None
        update = self._local_updates[0]
        self._truth_todo.append(update)
        record = Edit(number, self.now, what, update, editor.online)
        self.edits.append(record)
        call = f"{editor.name}.local_update({len(update)} B)"
        out = self._client_out(call, self.call(call, editor.client.local_update, update))
        record.sent = out
        online = editor.online
        self.note(editor.name, lambda: f"edits{'' if online else ' offline'}: {what}; "
                  f"{call} -> {self._show_client(out)}")
        if editor.online:
            self._client_sent(editor, out, "local update")
        elif out:
            self.note(editor.name, "  (offline: those messages go nowhere)")
        return record

    def move_cursor(self, number: int) -> None:
        """Editor ``number`` changes its awareness state (its cursor moved)."""
        editor = self.editors[number]
        if editor.gone or editor.leaving:
            return
        editor.awareness.set_local_state_field("cursor", self.rng.randrange(1000))
        if editor.conn is not None:
            self.send_up(editor.conn, create_awareness_message(
                editor.awareness.encode_awareness_update([editor.number])))

    # -- the server --------------------------------------------------------------------
    def restart(self, reconnect: tuple[float, float] = (0.3, 1.0)) -> None:
        """The server persists the room and restarts: every connection drops, and the
        editors that were online reconnect after a delay drawn from ``reconnect``."""
        saved = self.call("Room.save()", self.room.save)
        if not isinstance(saved, bytes | bytearray):
            raise LearnerError("Room.save()", self.now, f"returned {saved!r:.80}; expected bytes")
        dropped = []
        for conn in sorted(self.member_conns):
            editor = self._conns.get(conn)
            if editor is not None and editor.conn == conn:
                self._drop_link(editor, "server restarts")
                dropped.append(editor.number)
        self.member_conns.clear()
        for number in dropped:  # the clients' reconnect delay
            self.at(self.now + self.rng.uniform(*reconnect), partial(self.reconnect, number))
        self.room = self.call("Room(saved)", self.room_factory, bytes(saved))
        record = Restart(self.now, len(saved), "", None)
        self.restarts.append(record)
        self.note("room", f"restart: Room.save() -> {len(saved)} B; Room(saved)")
        newcomer = self.observe("newcomer", lambda text: setattr(record, "newcomer_text", text))
        self._expect_text[newcomer] = lambda text: setattr(record, "expected_text", text)
        self.at(self.now + 0.25, lambda: self._close_observer(newcomer))

    # -- observers: a fresh Yjs client, written by the harness -------------------------------
    def observe(self, name: str, synced: Callable[[str], None] | None = None) -> str:
        """A harness-written client opens the document (to see what the room serves)."""
        conn = f"{name}#{len(self._observer_docs) + 1}"
        doc: Doc[Any] = Doc(client_id=OBSERVER_ID)
        doc.get("text", type=Text)
        doc.get("meta", type=Map)
        awareness = Awareness(doc)
        awareness.set_local_state(None)
        self._observer_docs[conn], self._observer_awareness[conn] = doc, awareness
        self._conns[conn] = None
        self.member_conns.add(conn)
        if synced is not None:
            self._observer_synced[conn] = synced
        what = f"Room.join({conn!r})"
        out = self._room_out(what, self.call(what, self.room.join, conn))
        self.note("room", lambda: f"{what} -> {self._show(out)}")
        self.send_down(out, (conn, "join"))
        self.send_up(conn, create_sync_message(doc))
        return conn

    def _observer_receive(self, conn: str, kind: str, payload: bytes, message: bytes) -> None:
        doc, awareness = self._observer_docs[conn], self._observer_awareness[conn]
        if kind == "awareness":
            awareness.apply_awareness_update(payload, "room")
            return
        if kind == "invalid":
            raise LearnerError(f"the room's message to {conn}", self.now,
                               f"the room sent {message[:40]!r}, not a y-protocols message")
        reply = handle_sync_message(message[1:], doc)
        if reply is not None:
            self.send_up(conn, reply)
        elif kind == "step2" and conn in self._observer_synced:
            self._observer_synced.pop(conn)(str(doc.get("text", type=Text)))

    def _close_observer(self, conn: str) -> None:
        self._server_leave(conn, "closed")

    def observer_doc(self, conn: str) -> Doc[Any]:
        return self._observer_docs[conn]

    def observer_text(self, conn: str) -> str:
        return str(self._observer_docs[conn].get("text", type=Text))

    def observer_awareness(self, conn: str) -> dict[int, Any]:
        return dict(self._observer_awareness[conn].states)

    # -- garbage ---------------------------------------------------------------------
    def send_garbage(self, what: str, message: bytes) -> None:
        """A rogue connection sends ``message``: the room must raise ValueError, unchanged."""
        conn = f"rogue#{len(self.garbage) + 1}"
        self.member_conns.add(conn)
        self._conns[conn] = None
        before = self._saved_if_written()
        self.call(f"Room.join({conn!r})", self.room.join, conn)
        try:
            result = self.room.receive(conn, message)
            outcome, rejected = f"returned {result!r:.100}", False
        except ValueError as error:
            outcome, rejected = f"raised ValueError: {error}", True
        except (KeyboardInterrupt, SystemExit, SimulationAborted):
            raise
        except BaseException as error:  # pycrdt's PanicException is not an Exception
            outcome, rejected = f"raised {type(error).__name__}: {error}", False
        self.member_conns.discard(conn)
        self.call(f"Room.leave({conn!r})", self.room.leave, conn)
        after = self._saved_if_written()
        self.garbage.append(Garbage(self.now, what, message, outcome, rejected, before == after))
        self.note("room", f"Room.receive({conn!r}, {what}: {message!r}) {outcome}")

    def _saved_if_written(self) -> bytes | None:
        """``Room.save()``, or None while it is still a TODO (only a restart needs it)."""
        try:
            saved = self.room.save()
        except NotImplementedError:
            return None
        except (KeyboardInterrupt, SystemExit, SimulationAborted):
            raise
        except BaseException as error:
            raise LearnerError("Room.save()", self.now,
                               f"raised {type(error).__name__}: {error}", error) from error
        return bytes(saved) if isinstance(saved, bytes | bytearray) else None

    # -- awareness checks ---------------------------------------------------------------
    def _probe_after_leave(self, gone: Editor, conn: str, how: str) -> None:
        if gone.online:
            return  # back already: it is there again
        for editor in self.editors.values():
            if editor is gone or editor.conn is None or self.now - editor.connected_at < 0.6:
                continue
            self.probes.append(AwarenessProbe(
                self.now, editor.name, self.awareness_view(editor), {},
                f"0.4 s after the room's leave({conn!r}) ({gone.name}'s connection {how})",
                ghost=gone.number))

    def awareness_view(self, editor: Editor) -> dict[int, Any]:
        return {k: v for k, v in editor.awareness.states.items() if k != editor.number}

    def expected_awareness(self, viewer: int | None) -> dict[int, Any]:
        return {e.number: e.awareness.get_local_state() for e in self.editors.values()
                if e.online and e.number != viewer and e.awareness.get_local_state() is not None}

    # -- results -----------------------------------------------------------------------
    def start(self) -> None:
        """Connect every editor now."""
        for number in self.editors:
            self.connect(number)

    def finish(self) -> str:
        """Deliver everything, open the document with a fresh observer, deliver again,
        and record every member's awareness view; return the observer's connection."""
        self.settle()
        conn = self.observe("observer")
        self.settle()
        for editor in self.editors.values():
            if editor.conn is not None:
                self.probes.append(AwarenessProbe(
                    self.now, editor.name, self.awareness_view(editor),
                    self.expected_awareness(editor.number), "at the end, all delivered"))
        self.probes.append(AwarenessProbe(
            self.now, "a newcomer", self.observer_awareness(conn),
            self.expected_awareness(None), "at the end, right after it joined"))
        return conn

    @property
    def truth(self) -> Doc[Any]:
        """A doc with every edit anyone made: what every replica must end with."""
        return _caught_up(self._truth, self._truth_todo)

    @property
    def shadow(self) -> Doc[Any]:
        """A doc with every update the room received: all a room can know."""
        return _caught_up(self._shadow, self._shadow_todo)

    def texts(self) -> dict[int, str]:
        return {n: str(e.text) for n, e in self.editors.items()}

    def truth_content(self) -> tuple[str, dict[str, Any]]:
        truth = self.truth
        return str(truth.get("text", type=Text)), dict(truth.get("meta", type=Map))

    def content(self, number: int) -> tuple[str, dict[str, Any]]:
        editor = self.editors[number]
        return str(editor.text), dict(editor.meta)


def _caught_up(doc: Doc[Any], todo: list[bytes]) -> Doc[Any]:
    if todo:
        doc.apply_update(todo[0] if len(todo) == 1 else merge_updates(*todo))
        todo.clear()
    return doc


# -- the graded schedules ---------------------------------------------------------------


@dataclass
class Plan:
    """What a graded world does, drawn from its seed (for reports and tests)."""

    seed: int
    family: Literal["race", "reconnect"]
    editors: int
    until: float
    cuts: list[tuple[int, float, float]] = field(default_factory=list)  # (editor, at, back)
    late: dict[int, float] = field(default_factory=dict)  # editor -> first connect
    leaver: tuple[int, float] | None = None
    restarts: list[float] = field(default_factory=list)
    garbage: list[tuple[float, str, bytes]] = field(default_factory=list)


def initial_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(80)]
    return "".join(words)


def plan(seed: int) -> Plan:
    """Draw a graded world's schedule: even seeds race, odd seeds reconnect."""
    rng = random.Random(seed * 104729 + 7)
    family: Literal["race", "reconnect"] = "race" if seed % 2 == 0 else "reconnect"
    editors = rng.choice((2, 2, 3, 3, 4))
    p = Plan(seed, family, editors, until=5.0 if family == "reconnect" else 3.0)
    if family == "race":
        for _ in range(rng.randint(1, 2)):
            what, message = rng.choice(GARBAGE)
            p.garbage.append((rng.uniform(0.5, p.until), what, message))
        return p
    for n in range(1, editors + 1):
        t = rng.uniform(0.6, 1.5)
        for _ in range(rng.choice((0, 1, 1, 2))):
            if t > 3.8:
                break
            back = t + rng.uniform(0.7, 1.6)
            p.cuts.append((n, t, back))
            t = back + rng.uniform(0.8, 1.5)
    if rng.random() < 0.6:
        p.late[editors] = rng.uniform(0.8, 3.0)
        p.cuts = [c for c in p.cuts if c[0] != editors or c[1] > p.late[editors] + 0.5]
    if editors >= 3 and rng.random() < 0.5:
        p.leaver = (1, rng.uniform(2.5, 4.2))
        p.cuts = [c for c in p.cuts if c[0] != 1 or c[2] < p.leaver[1] - 0.1]
    if rng.random() < 0.5:
        p.restarts.append(rng.uniform(1.8, 4.2))
    return p


def graded_world(room_factory: RoomFactory, client_factory: ClientFactory,
                 seed: int) -> tuple[World, Plan]:
    """Build the world of graded seed ``seed`` with every action scheduled (not yet run)."""
    p = plan(seed)
    world = World(room_factory, client_factory, seed=seed, editors=p.editors,
                  initial=initial_text(random.Random(seed)))
    rng = random.Random(seed * 15485863 + 1)
    for n in world.editors:
        first = p.late.get(n, 0.0)
        world.at(first, partial(world.connect, n))
        world.at(first + rng.uniform(0.3, p.until), partial(world.move_cursor, n))
    t = 0.5 + rng.uniform(0.0, 0.3)
    while t < p.until:  # bursts of edits: concurrent ones are what can go wrong
        who = rng.sample(sorted(world.editors), min(p.editors, rng.choice((1, 2, 2, 3))))
        for n in who:
            world.at(t + rng.uniform(0.0, 0.06), partial(world.edit, n))
        t += rng.uniform(0.4, 1.0)
    for n, at, back in p.cuts:
        world.at(at, partial(world.cut, n))
        world.at(back, partial(world.reconnect, n))
    for n, back in [(n, back) for n, _, back in p.cuts] + list(p.late.items()):
        # someone types while n is still syncing (the window between its join and its step 2)
        other = rng.choice([o for o in sorted(world.editors) if o != n])
        world.at(back + rng.uniform(0.02, 0.15), partial(world.edit, other))
    if p.leaver is not None:
        n, at = p.leaver
        world.at(at, partial(world.leave, n))
    for at in p.restarts:
        world.at(at, world.restart)
    for at, what, message in p.garbage:
        world.at(at, partial(world.send_garbage, what, message))
    return world, p


# -- one graded world, run ---------------------------------------------------------------


@dataclass
class Run:
    """Graded world ``seed`` run to its end with the learner's code, or where it stopped."""

    seed: int
    plan: Plan | None = None
    world: World | None = None
    observer: str | None = None  # the connection of the newcomer who opened it at the end
    error: str | None = None
    error_at: float | None = None
    timed_out: bool = False

    @property
    def family(self) -> Literal["race", "reconnect"]:
        """The world's kind, even when it stopped before its plan was drawn."""
        if self.plan is not None:
            return self.plan.family
        return "race" if self.seed % 2 == 0 else "reconnect"


def scenario(module: CollabModule, seed: int) -> Run:
    """Run graded world ``seed`` with the learner's ``Room`` and ``Client``."""
    run = Run(seed)
    try:
        with time_limit(SCENARIO_SECONDS, f"world seed {seed}"):
            room, client = module.Room, module.Client
            run.world, run.plan = graded_world(room, client, seed)
            run.world.run_until(run.plan.until)
            run.observer = run.world.finish()
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except LearnerError as error:
        detail = (describe_error(error.error) if error.error is not None else error.detail)
        if error.error is not None and not isinstance(error.error, NotImplementedError):
            detail = f"raised {detail}"
        run.error, run.error_at = f"{error.call} at t={error.t:.3f} s {detail}", error.t
    except AttributeError as error:
        run.error = f"your module lacks something the grader needs: {error}"
    except Exception as error:  # something else went wrong: say what, never escape grade()
        run.error = f"the world stopped: {describe_error(error)}"
    return run
