"""Server-Sent Events in virtual time: resumable streams and retry floods, seeded.

Two kinds of scenario, both run on :class:`rtlab.sim.SimLoop` (seeded rng,
virtual clock); learner objects are sans-I/O, so they are called directly.
:func:`run_resume` and :func:`run_flood` run one under a time limit and turn
what the learner's code raised into a sentence; the grader judges the runs.

**Resume** (:func:`resume_scenario`): one publisher calls ``log.publish`` about
three times a second; every open stream gets the returned text, fed to its own
:class:`rtlab.wire.sse.EventParser`, so what a client "receives" is exactly what a
browser's ``EventSource`` would dispatch. Clients behave like browsers: a cut
stream is reopened ``retry:`` ms later (Chromium's 3 s if the server never
said), with ``Last-Event-ID`` set to the parser's last event ID; attempts while
their link is down fail and are retried after ``retry:`` again; HTTP 400 (a
``ValueError`` from ``open``) stops a browser for good. Faults, all seeded:

- the log keeps 32, 64 or 128 events; at the start a burst of ``capacity + 4``
  events passes within seconds (a busy moment), then about 3 per second;
- two boundary clients, cut just before the burst so that exactly
  ``capacity`` (replay) or ``capacity + 1`` (resync) events are published
  while they are away; they leave 3 s after coming back;
- three clients arrive after the burst and are cut again and again: short
  (0.2-3 s), medium (3-15 s) or long (20-40 s) outages; with ``retry: 10000``
  the short ones usually replay and the long ones overflow the log; 40 % of
  cuts land in the middle of an event, which the client then drops half-read;
- in 3 runs out of 4 a server restart (16-22 s in, 0.5-4 s down) that loses
  the log: a new ``EventLog`` with a new epoch; nothing is published while down.

Theory of operation (how the grader knows the truth): every payload starts
with ``#<serial>``, its index in the global list of publishes, so a received
event names the publish it came from whatever the learner's ids look like.
Each client expects serials in order from where its state is: after a fresh
first visit, everything published since; after a ``resync`` event (the client
reloaded the whole state), everything published since; otherwise the serial
after the last it received. Less is a loss, a repeat a duplicate. A ``resync``
is a needless reload when the ``Last-Event-ID`` it answered is one that
``publish`` gave an event of the current log, and every event published after
that one is still among the last ``capacity``.

**Flood** (:func:`flood_scenario`): 50 clients with the learner's
``RetryPolicy`` (one each, own seeded rng, base 1 s, cap 30 s) hold streams;
the endpoint then fails for 120-180 s (503, 500 or refused connections),
comes back, blips for 0.5-2 s, and finally answers 204 to everyone. Every
attempt and every wait is recorded for the grader's bounds.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.sim.loop import SimLoop
from rtlab.topics.server_sent_events.interface import EventLog, LearnerModule, RetryPolicy
from rtlab.wire.sse import Event, EventParser, normalize_newlines

__all__ = [
    "BROWSER_RETRY_MS",
    "FLOOD_BASE",
    "FLOOD_CAP",
    "FLOOD_CLIENTS",
    "MAX_RETRY_MS",
    "MIN_RETRY_MS",
    "SCENARIO_SECONDS",
    "FixedDelay",
    "FloodClient",
    "FloodRun",
    "PolicyFactory",
    "Problem",
    "Published",
    "ResumeRun",
    "back_after",
    "flood_scenario",
    "resume_scenario",
    "run_flood",
    "run_resume",
]

SCENARIO_SECONDS = 5.0  # of real time for one scenario, learner code included
BROWSER_RETRY_MS = 3000  # Chromium's reconnection time when the stream never says
MIN_RETRY_MS = 1_000  # see the grader's docstring for why these bounds
MAX_RETRY_MS = 60_000
RESUME_SECONDS = 36.0  # publishing time; then DRAIN_SECONDS for the last reconnects
DRAIN_SECONDS = 150.0
PUBLISH_GAP = (0.06, 0.6)  # seconds between publishes (about 3 per second)
BURST_GAP = (0.01, 0.05)  # in the burst that overflows the log around the boundary clients
CAPACITIES = (32, 64, 128)
RANDOM_CLIENTS = 3
TIMELINE_ROWS = 14

RETRY = "sse-missing-retry"
EVENT_ID = "sse-missing-event-id"
STATE = "reconnection-state-loss"

# Payload shapes after the serial: multi-line data of every kind a parser splits on.
# No continuation line starts with a field name, so a formatter that forgets to split
# mangles the data (caught as such) without also forging ids or events.
SHAPES = (
    "",
    " plain",
    " two\nlines",
    " windows\r\nline ending",
    " old mac\rline ending",
    " trailing newline\n",
    " blank\n\nline inside",
    " ünïcödé ✓",
    "  two leading spaces",
    ' {"json": [1, 2]}',
)
TYPES = (None, None, "update", "note")
_SERIAL = re.compile(r"#(\d+)")


@dataclass
class Problem:
    """The first violation of one property in a scenario."""

    id: str
    at: float
    client: str
    observed: str
    expected: str
    timeline: list[str] = field(default_factory=list)


@dataclass
class Published:
    serial: int  # index in the global list of publishes
    epoch: int  # which life of the server (0 before the first restart)
    seq: int  # 1-based count within that life
    at: float
    data: str
    event: str | None
    text: str  # what publish() returned
    id: str | None  # the id the learner gave it (None: no id line)
    arrives_as: str = ""  # the data a client should see (line breaks become LF)


@dataclass
class Client:
    name: str
    expected: int = 0  # the serial this client should receive next
    received_any: bool = False
    parser: EventParser | None = None  # the open stream's parser; None while not connected
    last_event_id: str = ""
    retry_ms: int = BROWSER_RETRY_MS
    link_down_until: float = 0.0
    cut_mid_event: float | None = None  # cut during the next publish, link down this long
    scheduled_open: float | None = None  # boundary clients reopen at a chosen moment
    stopped: str | None = None  # why this browser gave up for good
    history: list[tuple[float, str]] = field(default_factory=list)  # (time, what), readable
    # Every event received: (time, serial, id, replayed). Cheap to record; turned into
    # readable lines (runs of consecutive events as one) only for a problem's timeline.
    got: list[tuple[float, int, str, bool]] = field(default_factory=list)
    spans: list[tuple[float, str]] = field(default_factory=list)  # (time, "open"/"closed")
    attempt_handle: int | None = None
    last_open: tuple[float, str | None] = (0.0, None)  # (when, Last-Event-ID sent)
    # Every stream it opened: (when, Last-Event-ID sent, events replayed, resynced).
    opens: list[tuple[float, str | None, int, bool]] = field(default_factory=list)


@dataclass
class ResumeRun:
    seed: int
    capacity: int
    epochs: list[str]
    restart: tuple[float, float] | None  # (down at, up at)
    published: list[Published] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    problems: dict[str, Problem] = field(default_factory=dict)
    opens: int = 0
    replayed: int = 0
    resyncs: int = 0
    error: str | None = None  # learner code raised: what, where
    log: EventLog | None = None  # the learner's EventLog of the current life
    epoch: int = 0
    up: bool = True
    ids: dict[str, int] = field(default_factory=dict)  # learner id -> serial, current life
    server_notes: list[tuple[float, str]] = field(default_factory=list)

    published_in_epoch: int = 0  # how many events the current log has published

    def in_epoch(self) -> int:
        return self.published_in_epoch


def _s(t: float) -> str:
    return f"t={t:.2f} s"


def _short(text: str, limit: int = 90) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


class _Resume:
    """Drives one resume scenario; learner calls may raise (the caller catches)."""

    def __init__(self, module: LearnerModule, seed: int) -> None:
        self.module = module
        self.loop = loop = SimLoop(seed)
        rng = loop.rng
        self.rng = rng
        capacity = rng.choice(CAPACITIES)
        epochs: list[str] = []
        while len(epochs) < 3:  # distinct short tokens of letters and digits
            token = f"{rng.getrandbits(32):08x}"
            if token not in epochs:
                epochs.append(token)
        # A restart in most runs, placed by schedule() after the boundary clients are done.
        self.restart_after = rng.uniform(16.0, 22.0) if rng.random() < 0.75 else None
        self.downtime = rng.uniform(0.5, 4.0)
        self.run = ResumeRun(seed, capacity, epochs, None)

    # -- the server ---------------------------------------------------------------
    def _new_log(self) -> EventLog:
        run = self.run
        return self.module.EventLog(run.capacity, epoch=run.epochs[run.epoch])

    def _log(self) -> EventLog:
        assert self.run.log is not None, "go() makes the first log before anything runs"
        return self.run.log

    def _problem(self, pid: str, client: Client, observed: str, expected: str) -> None:
        run = self.run
        if pid in run.problems:
            return
        rows = sorted(client.history + _received_lines(client.got) + [
            (t, f"server: {what}") for t, what in run.server_notes
        ], key=lambda row: row[0])[-TIMELINE_ROWS:]  # by time only: ties keep their order
        timeline = [f"{_s(t):>10}  {what}" for t, what in rows]
        run.problems[pid] = Problem(pid, self.loop.now, client.name, observed, expected, timeline)

    def publish(self, data: str, event: str | None) -> None:
        run = self.run
        if not run.up:
            return
        text = self._log().publish(data, event)
        if not isinstance(text, str):
            raise TypeError(f"publish() returned {text!r}, not the str to send")
        serial = len(run.published)
        # Feed every listening client first. The first one whose parser holds nothing
        # half-read tells us the id the learner gave this event (saves parsing it twice).
        fed: list[tuple[Client, list[Event]]] = []
        cut_now: list[Client] = []
        learner_id: str | None = None
        id_known = False
        for client in run.clients:
            parser = client.parser
            if parser is None:
                continue
            if client.cut_mid_event is not None:
                cut_now.append(client)
                continue
            clean = not parser.pending
            events = parser.feed(text)
            if clean and not id_known:
                learner_id = events[0].id if events and events[0].has_own_id else None
                id_known = True
            fed.append((client, events))
        if not id_known:
            learner_id = _id_of(text)
        pub = Published(serial, run.epoch, run.in_epoch() + 1, self.loop.now, data, event,
                        text, learner_id, normalize_newlines(data))
        run.published.append(pub)
        run.published_in_epoch += 1
        if learner_id is not None:
            run.ids.setdefault(learner_id, serial)
        for client, events in fed:
            for received in events:
                self._receive(client, received, answered=None)
        for client in cut_now:
            # The network dies halfway through this event: the client reads a prefix.
            cut = self.rng.randint(1, max(1, len(text) - 2))
            self._deliver(client, text[:cut])
            client.history.append((self.loop.now, f"cut in the middle of #{serial}: dropped"))
            self._cut(client, client.cut_mid_event or 0.0)

    def restart_down(self) -> None:
        run = self.run
        run.up = False
        run.server_notes.append((self.loop.now, "restarts: the log is lost"))
        for client in run.clients:
            if client.parser is not None:
                self._close(client, "stream closed: server restarting")
                self._schedule_attempt(client)

    def restart_up(self) -> None:
        run = self.run
        run.epoch += 1
        run.published_in_epoch = 0
        run.ids = {}
        run.log = self._new_log()
        run.up = True
        run.server_notes.append((self.loop.now, f"up again, epoch {run.epochs[run.epoch]!r}"))

    # -- clients ------------------------------------------------------------------
    def _close(self, client: Client, why: str) -> None:
        if client.parser is not None and client.parser.last_event_id:
            client.last_event_id = client.parser.last_event_id
        client.parser = None
        client.cut_mid_event = None
        client.spans.append((self.loop.now, "closed"))
        client.history.append((self.loop.now, why))

    def _cut(self, client: Client, down: float) -> None:
        client.cut_mid_event = None
        client.link_down_until = max(client.link_down_until, self.loop.now + down)
        if client.parser is not None:
            if client.scheduled_open is not None:
                self._close(client, f"network cut until {_s(client.scheduled_open)}, when "
                            "this boundary client comes back")
            else:
                self._close(client, f"network cut for {down:.1f} s; the browser retries "
                            f"every {client.retry_ms} ms (retry:)")
            if client.scheduled_open is None:
                self._schedule_attempt(client)

    def cut(self, client: Client, down: float, mid_event: bool) -> None:
        if client.stopped:
            return
        if mid_event and client.parser is not None:
            client.cut_mid_event = down
        else:
            self._cut(client, down)

    def _schedule_attempt(self, client: Client) -> None:
        client.attempt_handle = self.loop.call_later(client.retry_ms / 1000, self.attempt, client)

    def attempt(self, client: Client) -> None:
        if client.stopped or client.parser is not None:
            return
        now = self.loop.now
        if now < client.link_down_until or not self.run.up:
            client.history.append((now, "reconnect failed (network error)"))
            client.spans.append((now, "refused"))
            self._schedule_attempt(client)
            return
        self.open(client)

    def scheduled(self, client: Client) -> None:
        client.scheduled_open = None
        client.link_down_until = self.loop.now
        self.attempt(client)

    def open(self, client: Client) -> None:
        run = self.run
        now = self.loop.now
        header = client.last_event_id or None
        run.opens += 1
        try:
            text = self._log().open(header)
        except ValueError as error:
            client.stopped = "HTTP 400"
            client.history.append((now, f"open({header!r}) raised ValueError: HTTP 400"))
            ours = header in run.ids
            self._problem(
                STATE, client,
                f"{client.name} {'reconnected' if header else 'opened its first stream'} "
                f"with Last-Event-ID {header!r} and open() raised "
                f"ValueError({str(error)[:80]!r}), so the server answered 400 and the browser "
                "stopped for good: it will never see another event."
                + (" Your own log gave out that id." if ours else
                   " A first visit (no Last-Event-ID) gets retry: and then new events."
                   if header is None else
                   " (An id from before a restart, or too old: answer it with a resync.)"),
                "a resumable id gets its missed events; an id from before a restart or too "
                "old for the log gets a resync event; only garbage raises ValueError",
            )
            return
        if not isinstance(text, str):
            raise TypeError(f"open({header!r}) returned {text!r}, not the str to send")
        parser = EventParser(last_event_id=client.last_event_id)
        client.parser = parser
        client.spans.append((now, "open"))
        client.last_open = (now, header)
        client.history.append((now, f"stream opened, Last-Event-ID {header!r}"))
        events = parser.feed(text)
        self._check_retry(client, text, parser, events)
        if parser.retry is not None:
            client.retry_ms = parser.retry
        if header is None and not client.received_any:
            client.expected = len(run.published)  # a first visit: new events from now on
        for event in events:
            self._receive(client, event, answered=header)
        resync = any(e.event == "resync" for e in events)
        client.opens.append((now, header, len(events) - resync, resync))

    def _check_retry(self, client: Client, text: str, parser: EventParser,
                     events: list[Event]) -> None:
        header = client.last_event_id or None
        shown = f"open({header!r}) returned {_short(text)}"
        if parser.retry is None:
            self._problem(RETRY, client, f"{shown}: no retry: line, so browsers reconnect after "
                          "their own default (Chromium 3 s, Firefox 5 s).",
                          f"every stream starts with retry: {MIN_RETRY_MS}-{MAX_RETRY_MS} (ms)")
        elif not MIN_RETRY_MS <= parser.retry <= MAX_RETRY_MS:
            self._problem(RETRY, client, f"{shown}: retry: {parser.retry}, outside the sane "
                          f"range.",
                          f"retry: between {MIN_RETRY_MS} and {MAX_RETRY_MS} ms on every stream")
        elif events and events[0].retry is None:
            self._problem(RETRY, client, f"{shown}: retry: comes after the first event.",
                          "retry: first thing on every stream, before any event")

    def _deliver(self, client: Client, text: str) -> None:
        assert client.parser is not None
        for event in client.parser.feed(text):
            self._receive(client, event, answered=None)

    def _receive(self, client: Client, event: Event, *, answered: str | None) -> None:
        run = self.run
        now = self.loop.now
        if not event.has_own_id or not event.id:
            what = "no id: line" if not event.has_own_id else "an empty id"
            self._problem(EVENT_ID, client,
                          f"{client.name} received an event ({event.event}, data "
                          f"{_short(event.data, 50)}) with {what}; its lastEventId stayed "
                          f"{event.id!r}, so a reconnect cannot resume after it.",
                          "every event, resync included, carries an id of its own")
        if event.event == "resync":
            run.resyncs += 1
            client.history.append((now, f"resync (id {event.id!r}): the client reloads"))
            served = run.ids.get(answered) if answered is not None else None
            if served is not None:
                missed = run.in_epoch() - run.published[served].seq
                if missed <= run.capacity:
                    self._problem(
                        STATE, client,
                        f"{client.name} came back with Last-Event-ID {answered!r}; the log "
                        f"(capacity {run.capacity}) still held all {missed} events after it, "
                        "yet open() answered resync: a needless full reload.",
                        "replay the missed events when the log still holds them all; resync "
                        "only when some are gone")
            client.expected = len(run.published)
            client.received_any = True
            return
        match = _SERIAL.match(event.data)
        if match is None or int(match.group(1)) >= len(run.published):
            self._problem(STATE, client,
                          f"{client.name} received an event that was never published: "
                          f"type {event.event!r}, data {_short(event.data, 60)}.",
                          "only the published events, each once")
            return
        serial = int(match.group(1))
        pub = run.published[serial]
        seen_before, client.received_any = client.received_any, True
        if answered is not None:
            run.replayed += 1
        client.got.append((now, serial, event.id, answered is not None))
        self._check_whole(client, event, pub)
        if serial != client.expected:
            if serial < client.expected and not seen_before:
                observed = (f"{client.name} opened its first stream at {_s(client.spans[0][0])} "
                            f"and received #{serial}, published earlier at {_s(pub.at)}: a "
                            "first visit gets only new events (its page loaded the rest).")
            elif serial < client.expected:
                observed = (f"{client.name} received #{serial} (id {event.id!r}) again: it had "
                            f"already got everything up to #{client.expected - 1}.")
            else:
                missing = serial - client.expected
                first = run.published[client.expected]
                observed = (f"{client.name} received #{serial} (id {event.id!r}) but never "
                            f"#{client.expected} (id {first.id!r}, published at "
                            f"{_s(first.at)})" + (f" nor the {missing - 1} after it"
                                                  if missing > 1 else "")
                            + ": a silent gap, and no resync event said so."
                            + self._since_open(client, first))
            self._problem(STATE, client, observed,
                          "every event exactly once, in order, across reconnects (or a resync "
                          "when some were lost)")
        client.expected = max(client.expected, serial + 1)

    def _since_open(self, client: Client, first_missed: Published) -> str:
        when, header = client.last_open
        if header is None:
            return ""
        restart = self.run.restart
        before = (", from before the server restarted (the log was lost)"
                  if restart is not None and first_missed.at < restart[0] <= when else "")
        return f" It had reopened at {_s(when)} with Last-Event-ID {header!r}{before}."

    def _check_whole(self, client: Client, event: Event, pub: Published) -> None:
        want_type = pub.event or "message"
        if event.data != pub.arrives_as or event.event != want_type:
            self._problem(EVENT_ID, client,
                          f"publish({pub.data!r}, event={pub.event!r}) returned "
                          f"{_short(pub.text, 120)}; a browser reads it as type "
                          f"{event.event!r} with data {event.data!r}.",
                          f"type {want_type!r}, data {pub.arrives_as!r} "
                          "(a data: line per line, split at \\r\\n, \\r and \\n)")
        elif event.id != pub.id:
            self._problem(EVENT_ID, client,
                          f"#{pub.serial} had id {pub.id!r} when published but "
                          f"{event.id!r} when {client.name} received it.",
                          "an event keeps its id (the one publish() gave it) when replayed")
        elif pub.id is not None:
            owner = self.run.ids.get(pub.id)
            if owner is not None and owner != pub.serial and pub.epoch == self.run.epoch:
                other = self.run.published[owner]
                self._problem(EVENT_ID, client,
                              f"#{other.serial} and #{pub.serial} both have id {pub.id!r}: a "
                              "client resuming from it cannot say which one it saw.",
                              "a different id for every event of the log")

    # -- the schedule -------------------------------------------------------------
    def schedule(self) -> None:
        run, loop, rng = self.run, self.loop, self.rng
        times: list[float] = []
        t = 1.0
        for _ in range(8):
            times.append(t)
            t += rng.uniform(*PUBLISH_GAP)
        # A burst while the boundary clients are away, so that capacity + 1 events pass
        # quickly; the other clients arrive after it (nobody is listening: it costs little).
        for _ in range(run.capacity + 4):
            times.append(t)
            t += rng.uniform(*BURST_GAP)
        burst_end = t
        while t < RESUME_SECONDS:
            times.append(t)
            t += rng.uniform(*PUBLISH_GAP)
        edges_done = 0.0
        for missed, name in ((run.capacity, "edge-replay"), (run.capacity + 1, "edge-resync")):
            client = Client(name)
            run.clients.append(client)
            loop.call_at(rng.uniform(0.0, 0.9), self.attempt, client)
            first = rng.randint(3, 6)
            cut_at = (times[first] + times[first + 1]) / 2
            back = (times[first + missed] + times[first + missed + 1]) / 2
            loop.call_at(cut_at, self.edge_cut, client, back)
            edges_done = max(edges_done, back)
        if self.restart_after is not None:
            down = max(self.restart_after, edges_done + 0.5)
            run.restart = (down, down + self.downtime)
            loop.call_at(run.restart[0], self.restart_down)
            loop.call_at(run.restart[1], self.restart_up)
            # The publisher lives in the server: nothing is published while it is down.
            times = [t for t in times if not down <= t < down + self.downtime]
        for i, at in enumerate(times):
            loop.call_at(at, self.publish, f"#{i}{SHAPES[i % len(SHAPES)]}",
                         TYPES[rng.randrange(len(TYPES))])
        for i in range(RANDOM_CLIENTS):
            client = Client(f"client-{i}")
            run.clients.append(client)
            arrive = burst_end + rng.uniform(0.0, 0.9)
            loop.call_at(arrive, self.attempt, client)
            t = arrive + rng.uniform(1.0, 6.0)
            while t < RESUME_SECONDS - 5:
                kind = rng.random()
                down = (rng.uniform(0.2, 3.0) if kind < 0.45 else
                        rng.uniform(3.0, 15.0) if kind < 0.85 else rng.uniform(20.0, 40.0))
                loop.call_at(t, self.cut, client, down, rng.random() < 0.4)
                t += down + rng.uniform(3.0, 12.0)

    def edge_cut(self, client: Client, back: float) -> None:
        client.scheduled_open = back
        self._cut(client, back - self.loop.now)
        self.loop.call_at(back, self.scheduled, client)
        # Its job is done once the boundary replay has been seen: leave (saves time).
        self.loop.call_at(back + 3.0, self.leave, client)

    def leave(self, client: Client) -> None:
        if client.parser is not None:
            self._close(client, "leaves (tab closed)")
        client.stopped = "left"

    def go(self) -> ResumeRun:
        self.run.log = self._new_log()
        self.schedule()
        # Publishing stops at RESUME_SECONDS; then let every client come back (after
        # however long its retry: says, up to a minute) before the final account.
        self.loop.run(RESUME_SECONDS + DRAIN_SECONDS)
        self.final_account()
        return self.run

    def final_account(self) -> None:
        """Every client still there must hold every event by now (or have been resynced)."""
        run = self.run
        for client in run.clients:
            if client.stopped is not None or client.expected >= len(run.published):
                continue
            first = run.published[client.expected]
            state = ("connected" if client.parser is not None else "still not reconnected")
            self._problem(
                STATE, client,
                f"At the end ({_s(self.loop.now)}, {state}), {client.name} had never received "
                f"#{first.serial} (id {first.id!r}, published at {_s(first.at)})"
                + (f" nor the {len(run.published) - first.serial - 1} after it"
                   if len(run.published) - first.serial > 1 else "")
                + ", and no resync said it was gone." + self._since_open(client, first),
                "every event reaches every client that stays, exactly once (or a resync)")


def _received_lines(got: list[tuple[float, int, str, bool]]) -> list[tuple[float, str]]:
    """Timeline lines for received events, a run of consecutive ones as one line."""
    lines: list[tuple[float, str]] = []
    i = 0
    while i < len(got):
        at, first, first_id, replayed = got[i]
        j = i
        while (j + 1 < len(got) and got[j + 1][1] == got[j][1] + 1
               and got[j + 1][3] == replayed):
            j += 1
        how = " (replayed)" if replayed else ""
        if j == i:
            lines.append((at, f"got #{first} (id {first_id!r}){how}"))
        else:
            until = got[j][0]
            span = f", until {_s(until)}" if until > at else ""
            lines.append((at, f"got #{first}-#{got[j][1]} (ids {first_id!r}-{got[j][2]!r})"
                          f"{how}{span}"))
        i = j + 1
    return lines


def _id_of(text: str) -> str | None:
    events = EventParser().feed(text)
    return events[0].id if events and events[0].has_own_id else None


def resume_scenario(module: LearnerModule, seed: int) -> ResumeRun:
    """Run resume scenario ``seed`` against ``module.EventLog``.

    Learner exceptions are not caught here except ``ValueError`` from ``open``
    (HTTP 400); the grader wraps the call in a time limit and describes errors.
    """
    driver = _Resume(module, seed)
    try:
        return driver.go()
    finally:
        driver.loop.close()


# -- retry floods -----------------------------------------------------------------

FLOOD_CLIENTS = 50
FLOOD_BASE, FLOOD_CAP = 1.0, 30.0
MAX_FLOOD_ATTEMPTS = 200  # a sound policy makes about 20 in a whole scenario


PolicyFactory = Callable[[random.Random], RetryPolicy]  # one policy per client, its own rng


@dataclass
class FloodClient:
    name: str
    policy: RetryPolicy
    attempts: list[tuple[float, int | None]] = field(default_factory=list)  # (time, status)
    waits: list[tuple[float, int | None, float | None]] = field(default_factory=list)
    opens: list[float] = field(default_factory=list)
    connected: bool = False
    stopped_at: float | None = None  # failed(204) returned None
    parked: bool = False  # too many attempts: stopped by the simulation


def back_after(client: FloodClient, t: float) -> float | None:
    """When ``client`` next had a stream open at or after ``t`` (None: never)."""
    return next((opened for opened in client.opens if opened >= t), None)


@dataclass
class FloodRun:
    seed: int
    clients: list[FloodClient]
    outage: tuple[float, float]  # endpoint failing from, to
    blip: tuple[float, float]
    goodbye: float  # from here on the endpoint answers 204
    until: float
    bad_delay: tuple[FloodClient, int | None, object] | None = None  # a wait that is no number

    def all_attempts(self) -> list[float]:
        return sorted(t for c in self.clients for t, _ in c.attempts)

    def attempts_between(self, start: float, end: float) -> list[float]:
        """Times of every client's attempts in [start, end), sorted."""
        return sorted(t for c in self.clients for t, _ in c.attempts if start <= t < end)


class _Flood:
    def __init__(self, policy_factory: PolicyFactory, seed: int, count: int) -> None:
        self.loop = loop = SimLoop(seed)
        rng = loop.rng
        outage_at = 10.0
        outage_end = outage_at + rng.uniform(120.0, 180.0)
        blip_at = outage_end + rng.uniform(60.0, 90.0)
        blip_end = blip_at + rng.uniform(0.5, 2.0)
        goodbye = blip_end + 60.0
        clients = [
            FloodClient(f"client-{i}", policy_factory(random.Random(seed * 1_000_003 + i)))
            for i in range(count)
        ]
        self.run = FloodRun(seed, clients, (outage_at, outage_end), (blip_at, blip_end),
                            goodbye, goodbye + 120.0)

    def status(self) -> int | None:
        """What an attempt gets now: 200, 204, 500/503, or None (refused)."""
        run, now = self.run, self.loop.now
        if now >= run.goodbye:
            return 204
        if run.outage[0] <= now < run.outage[1]:
            roll = self.loop.rng.random()
            return 503 if roll < 0.5 else 500 if roll < 0.75 else None
        if run.blip[0] <= now < run.blip[1]:
            return 503
        return 200

    def attempt(self, client: FloodClient) -> None:
        now = self.loop.now
        status = self.status()
        client.attempts.append((now, status))
        if status == 200:
            client.connected = True
            client.opens.append(now)
            client.policy.opened()
            return
        self.failed(client, status)

    def failed(self, client: FloodClient, status: int | None) -> None:
        now = self.loop.now
        delay = client.policy.failed(status)
        ok_number = (isinstance(delay, int | float) and not isinstance(delay, bool)
                     and math.isfinite(delay) and delay >= 0)
        if delay is not None and not ok_number:
            if self.run.bad_delay is None:
                self.run.bad_delay = (client, status, delay)
            client.waits.append((now, status, None))
            return
        client.waits.append((now, status, None if delay is None else float(delay)))
        if delay is None:
            client.stopped_at = now
            return
        if len(client.attempts) >= MAX_FLOOD_ATTEMPTS:
            client.parked = True
            return
        self.loop.call_later(float(delay), self.attempt, client)

    def drop_all(self) -> None:
        for client in self.run.clients:
            if client.connected:
                client.connected = False
                self.failed(client, None)  # the stream broke: a network error

    def go(self) -> FloodRun:
        run, loop = self.run, self.loop
        for client in run.clients:
            loop.call_at(loop.rng.uniform(0.0, 2.0), self.attempt, client)
        for at in (run.outage[0], run.blip[0], run.goodbye):
            loop.call_at(at, self.drop_all)
        loop.run(run.until)
        return run


def flood_scenario(
    policy_factory: PolicyFactory, seed: int, count: int = FLOOD_CLIENTS
) -> FloodRun:
    """Run flood scenario ``seed``: ``policy_factory(rng)`` makes each client's policy."""
    driver = _Flood(policy_factory, seed, count)
    try:
        return driver.go()
    finally:
        driver.loop.close()


class FixedDelay:
    """What a naive client (or EventSource, if it retried errors) does: the same wait."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def opened(self) -> None:
        pass

    def failed(self, status: int | None) -> float | None:
        return None if status == 204 else self.seconds


# -- the learner's code, in a sandbox ------------------------------------------------


def run_resume(module: LearnerModule, seed: int) -> ResumeRun | str:
    """Resume scenario ``seed`` under the time limit, or why it stopped (learner-facing)."""
    random.seed(seed)  # learners who use the random module directly stay reproducible
    try:
        with time_limit(SCENARIO_SECONDS, f"resume scenario seed {seed}"):
            return resume_scenario(module, seed)
    except LearnerTimeout as error:
        return str(error)
    except Exception as error:
        return describe_error(error)


def run_flood(module: LearnerModule, seed: int) -> FloodRun | str:
    """Flood scenario ``seed`` with the learner's ``RetryPolicy``, or why it stopped."""

    def policy(rng: random.Random) -> RetryPolicy:
        return module.RetryPolicy(rng, base=FLOOD_BASE, cap=FLOOD_CAP)

    random.seed(seed)
    try:
        with time_limit(SCENARIO_SECONDS, f"flood scenario seed {seed}"):
            return flood_scenario(policy, seed)
    except LearnerTimeout as error:
        return str(error)
    except Exception as error:
        return describe_error(error)
