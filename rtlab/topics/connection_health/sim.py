"""The connection-health module's simulated world: heartbeats on both ends, in virtual time.

The learner's sans-I/O ``Heartbeat`` runs on both ends of a simulated WebSocket
connection (``rtlab.sim``, seeded). An :class:`Endpoint` plays the part the live
wrapper plays in the lesson: it feeds every message to ``on_received``, calls
``on_sent`` after every send, polls at ``next_wakeup`` and carries out the
actions. Heartbeat messages travel as ordinary text messages on the link, so
latency, stalls and the idle proxy treat them like everything else. Whatever
learner code raises or returns that a driver cannot use ends the run with
``Run.error`` (one sentence for the learner), never with a crash.

:func:`scenario` is the harness (the lesson builds its own experiments on it);
the grader's five kinds build on it, each a function of ``(code, seed, settings)``
listed in :data:`SCENARIOS`:

- ``half-open``: the link stalls (nothing arrives, no close) 1-4 (I + T) after
  opening, under one of the traffic :data:`PATTERNS` (I: interval, T: timeout);
- ``frozen peer``: the server program hangs; the link itself still works;
- ``idle``: 10 minutes, no application traffic;
- ``slow link``: 10 minutes of 0.15-0.5 s one-way latency with spikes of 2-15 s.
  With the learner's own settings the spikes are those of the exercise's mobile link:
  round trips of 0.6-1 x :data:`SLOW_LINK_RTT` (5 s), whatever the timeout, so the
  choice of ``TIMEOUT`` is tested; with ours, the round trip rises to at most 0.75 T,
  which tests the logic (slow is not dead) at any setting;
- ``proxy``: 5 minutes behind a proxy that cuts a link silent for 30 s, idle or
  after a few bursts.

A run records every message sent (with its WebSocket frame size), every ping
received, each side's verdict and a timeline of events; :func:`overhead`,
:func:`silences` and :func:`detection_times` measure it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from websockets.exceptions import ConnectionClosed

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.sim import Latency, SimConnection, SimLoop, SimServer
from rtlab.topics.connection_health.interface import Heartbeat, HeartbeatCode
from rtlab.wire.websocket import Side, frame_size

__all__ = ["PATTERNS", "PROXY_IDLE", "PROXY_SECONDS", "SCENARIOS", "SLOW_LINK_RTT", "Endpoint",
           "Run", "Settings", "detection_times", "frozen_scenario", "half_open_scenario",
           "idle_scenario", "learner_settings", "message_kind", "overhead", "proxy_scenario",
           "scenario", "silences", "slow_link_scenario", "tolerance"]

T = TypeVar("T")

PROXY_IDLE = 30.0  # the idle proxy cuts a link silent this long (s)
IDLE_SECONDS, PROXY_SECONDS, SLOW_SECONDS = 600.0, 300.0, 600.0
SPIKE_SHARE = 0.375  # our settings: spike one-way latency <= this x T (round trips <= 0.75 T)
SLOW_LINK_RTT = 5.0  # the learner's settings: spike round trips reach this (s), the spec's figure
SCENARIO_SECONDS = 10.0  # wall-clock limit of one scenario
MAX_SPINS = 1000  # next_wakeup() at or before `now` this many times in a row: an endless loop
PATTERNS = ("idle", "server streams", "client chats", "bursts")
PING_PREFIXES = ("ping", b"ping")


# -- settings -------------------------------------------------------------------------


def tolerance(interval: float, timeout: float) -> float:
    """Slack granted beyond interval + timeout, for coarser but sound schedules."""
    return 0.1 * (interval + timeout) + 0.25


@dataclass(frozen=True)
class Settings:
    """The interval and timeout a scenario's heartbeats are made with."""

    interval: float
    timeout: float
    yours: bool  # the learner's INTERVAL / TIMEOUT

    @property
    def bound(self) -> float:
        """Latest acceptable detection, seconds after the link died."""
        return self.interval + self.timeout + tolerance(self.interval, self.timeout)

    @property
    def args(self) -> tuple[float, ...]:
        return () if self.yours else (self.interval, self.timeout)

    def __str__(self) -> str:
        which = "your settings" if self.yours else "settings"
        return f"{which} interval={self.interval:g} s, timeout={self.timeout:g} s"


def learner_settings(code: HeartbeatCode) -> Settings | str:
    """The learner's INTERVAL and TIMEOUT, read from a fresh ``Heartbeat()``; or a problem."""
    try:
        hb = code.Heartbeat(side="client", now=0.0)
        interval: object = hb.interval  # checked below: learner code may store anything
        timeout: object = hb.timeout
    except AttributeError as error:
        if "interval" in str(error) or "timeout" in str(error):
            return ("Heartbeat() must keep its settings as the attributes `interval` and "
                    f"`timeout` (the grader reads them): {error}")
        return f"Heartbeat(side='client', now=0.0) raised {describe_error(error)}"
    except Exception as error:
        return f"Heartbeat(side='client', now=0.0) raised {describe_error(error)}"
    for name, value in (("interval", interval), ("timeout", timeout)):
        if not isinstance(value, int | float) or not 0 < value < math.inf:
            return f"Heartbeat().{name} is {value!r}; expected a positive number of seconds"
    assert isinstance(interval, int | float) and isinstance(timeout, int | float)
    return Settings(float(interval), float(timeout), True)


# -- one side of a connection, driven the way the live wrapper drives it ------------


def _settle(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a simulated send()/close() to completion: they never wait, so one step does it."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a simulated send or close unexpectedly waited")


def message_kind(message: str | bytes) -> str:
    text = message if isinstance(message, str) else message.decode(errors="replace")
    if text.startswith("ping"):
        return "ping"
    if text.startswith("pong"):
        return "pong"
    return "heartbeat"


class Endpoint:
    """Runs one learner ``Heartbeat`` on one end of a simulated connection."""

    def __init__(self, run: Run, side: Side, conn: SimConnection, hb: Heartbeat) -> None:
        self.run = run
        self.loop = run.loop
        self.side = side
        self.conn = conn
        self.hb = hb
        self.declared_at: float | None = None  # the heartbeat said ("close", ...)
        self.reason = ""
        self.ended_at: float | None = None  # the connection ended some other way
        self.frozen_at: float | None = None
        self.stopped = False
        self._timer: int | None = None
        self._wake_at: float | None = None
        self._spins = 0

    # -- events in ---------------------------------------------------------------
    async def read(self) -> None:
        try:
            async for message in self.conn:
                if not self.stopped:
                    self.received(message)
        except ConnectionClosed:
            pass
        if self.declared_at is None and self.ended_at is None:
            self.ended_at = self.loop.now
            self.run.note(self.side, f"connection closed ({self.conn.close_code})")
        self.stop()

    def received(self, message: str | bytes) -> None:
        now = self.loop.now
        self.run.events.append((now, self.side, "got", message))
        if message[:4] in PING_PREFIXES:
            self.run.pings_in.append((now, self.side))
        actions = self._call("on_received", lambda: self.hb.on_received(message, now))
        self.execute(actions, "on_received")
        self.poll()

    def poll(self) -> None:
        if self.stopped:
            return
        now = self.loop.now
        self.execute(self._call("poll", lambda: self.hb.poll(now)), "poll")
        if self.stopped:
            return
        wake: object = self._call("next_wakeup", lambda: self.hb.next_wakeup(now))
        if not self.stopped:
            self._wake_up_at(wake, now)

    def _wake_up_at(self, wake: object, now: float) -> None:
        """Set the timer for the next poll, after checking what next_wakeup returned."""
        if wake is None:
            self.loop.cancel(self._timer)
            self._timer, self._wake_at = None, None
            return
        if not isinstance(wake, int | float) or math.isnan(wake):
            self.fail(f"next_wakeup({now:.3f}) returned {wake!r}; expected a time (a float) "
                      "or None")
            return
        if wake <= now:
            self._spins += 1
            if self._spins >= MAX_SPINS:
                self.fail(
                    f"next_wakeup({now:.3f}) returned {wake:g}, not a time after now, "
                    f"{MAX_SPINS} times in a row: poll() would run in an endless loop. "
                    "Return an absolute time (now + seconds), not a delay."
                )
                return
            wake = now + 1e-3
        else:
            self._spins = 0
        if wake != self._wake_at:  # most polls keep the same wakeup: keep its timer
            self.loop.cancel(self._timer)
            self._timer = None if wake == math.inf else self.loop.call_at(wake, self._tick)
            self._wake_at = wake

    def _tick(self) -> None:
        self._timer, self._wake_at = None, None
        self.poll()

    # -- actions out --------------------------------------------------------------
    def execute(self, actions: object, called: str) -> None:
        if not actions or self.stopped:
            return
        called = f"{called}(..., now={self.loop.now:.3f})"
        if not isinstance(actions, list | tuple):
            self.fail(f"{called} returned {actions!r}; expected a list of actions, e.g. "
                      "[('send', PING)] or []")
            return
        for action in actions:
            if self.stopped:
                return
            if not (isinstance(action, tuple | list) and len(action) == 2):
                self.fail(f"{called} returned the action {action!r}; expected ('send', PING), "
                          "('send', PONG) or ('close', reason)")
                return
            verb, argument = action
            if verb == "send" and isinstance(argument, str | bytes):
                self.send(argument, message_kind(argument))
            elif verb == "close":
                self.declare_dead(str(argument))
            else:
                self.fail(f"{called} returned the action {action!r}; expected ('send', PING), "
                          "('send', PONG) or ('close', reason)")
                return

    def send(self, message: str | bytes, kind: str) -> None:
        if self.stopped or self.conn.closed:
            return
        now = self.loop.now
        _settle(self.conn.send(message))
        self.run.sent.append((now, self.side, kind, frame_size(message, self.side)))
        self.run.events.append((now, self.side, "sent", message))
        self._call("on_sent", lambda: self.hb.on_sent(now))

    def declare_dead(self, reason: str) -> None:
        self.declared_at, self.reason = self.loop.now, reason
        self.run.note(self.side, f"declared the connection dead: {reason}")
        self.stop()
        if not self.conn.closed:
            _settle(self.conn.close(1011, "heartbeat timeout"))

    # -- helpers -------------------------------------------------------------------
    def _call(self, name: str, call: Callable[[], T]) -> T | None:
        """``call()`` (the learner's ``Heartbeat.<name>``); if it raises, the run ends."""
        if self.stopped:
            return None
        try:
            return call()
        except Exception as error:
            self.fail(f"{self.side} Heartbeat.{name} raised {describe_error(error)}")
            return None

    def fail(self, message: str) -> None:
        if self.run.error is None:
            self.run.error = message
        self.stop()

    def freeze(self) -> None:
        self.frozen_at = self.loop.now
        self.run.note(self.side, "program hangs: nothing is read or sent any more")
        self.stop()

    def stop(self) -> None:
        self.stopped = True
        self.loop.cancel(self._timer)
        self._timer, self._wake_at = None, None


# -- a scenario ---------------------------------------------------------------------


@dataclass
class Run:
    """One scenario: its settings, what was sent and seen, each side's driver, or the error."""

    kind: str
    seed: int
    settings: Settings
    loop: SimLoop
    until: float
    pattern: str = "idle"
    server: SimServer | None = None
    client: Endpoint | None = None
    server_side: Endpoint | None = None
    marks: dict[str, float] = field(default_factory=dict)
    spikes: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, rtt
    sent: list[tuple[float, str, str, int]] = field(default_factory=list)  # t, side, kind, B
    pings_in: list[tuple[float, str]] = field(default_factory=list)
    # (time, side, what, message): "got"/"sent" keep the message, notes keep ""
    events: list[tuple[float, str, str, str | bytes]] = field(default_factory=list)
    latency: Latency = field(default_factory=Latency)
    error: str | None = None
    timed_out: bool = False

    def note(self, side: str, what: str) -> None:
        self.events.append((self.loop.now, side, what, ""))

    def ends(self) -> list[Endpoint]:
        return [e for e in (self.client, self.server_side) if e is not None]

    def heartbeat(self, side: Side, conn: SimConnection, code: HeartbeatCode) -> Endpoint | None:
        """Make this side's Heartbeat and its driver (None, and the run's error, if it raised)."""
        try:
            hb = code.Heartbeat(*self.settings.args, side=side, now=self.loop.now)
        except Exception as error:
            if self.error is None:
                self.error = f"Heartbeat(side={side!r}, now=...) raised {describe_error(error)}"
            return None
        end = Endpoint(self, side, conn, hb)
        if side == "client":
            self.client = end
        else:
            self.server_side = end
        end.poll()
        return end


def scenario(
    code: HeartbeatCode, kind: str, seed: int, settings: Settings, until: float,
    *, latency: Latency, idle_timeout: float | None = None,
    configure: Callable[[Run], None] | None = None,
) -> Run:
    """One connection with a ``code.Heartbeat`` on each end, run until ``until`` (virtual s).

    ``configure(run)`` schedules the faults and the application's traffic before the
    run starts; ``idle_timeout`` puts an idle-cutting proxy in front of the server.
    """
    loop = SimLoop(seed)
    run = Run(kind, seed, settings, loop, until, latency=latency)

    async def handler(conn: SimConnection) -> None:
        end = run.heartbeat("server", conn, code)
        if end is not None:
            await end.read()

    async def client() -> None:
        conn = await server.connect("client")
        end = run.heartbeat("client", conn, code)
        if end is not None:
            await end.read()

    server = SimServer(loop, latency=latency, handler=handler, idle_timeout=idle_timeout)
    run.server = server
    random.seed(seed)  # learners who use the random module directly stay reproducible
    try:
        with time_limit(SCENARIO_SECONDS, f"{kind} scenario seed {seed}"):
            loop.spawn(client(), "client")
            if configure is not None:
                configure(run)
            loop.run(until)
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except Exception as error:
        run.error = describe_error(error)
    finally:
        loop.close()
    return run


def _traffic(run: Run, pattern: str, start: float, end: float) -> None:
    """Schedule the application's own messages."""
    run.pattern = pattern
    loop, rng = run.loop, run.loop.rng

    def app_send(side: str, text: str) -> None:
        endpoint = run.client if side == "client" else run.server_side
        if endpoint is not None and not endpoint.stopped:
            endpoint.send(text, "app")

    if pattern == "server streams":
        every = rng.uniform(1.0, 5.0)
        t, n = start + every, 0
        while t < end:
            n += 1
            loop.call_at(t, app_send, "server", f"update {n}")
            t += every
    elif pattern == "client chats":
        t, n = start + rng.uniform(0.5, 5.0), 0
        while t < end:
            n += 1
            loop.call_at(t, app_send, "client", f"chat {n}")
            t += rng.uniform(0.5, 8.0)
    elif pattern == "bursts":
        t = start + rng.expovariate(1 / 30)
        while t < end:
            side = rng.choice(("client", "server"))
            for i in range(rng.randint(1, 8)):
                loop.call_at(t + 0.05 * i, app_send, side, f"burst {i}")
            t += rng.expovariate(1 / 30)


def _normal_latency(rng: random.Random) -> Latency:
    return Latency(rng.uniform(0.01, 0.08), rng.uniform(0.0, 0.05))


def half_open_scenario(code: HeartbeatCode, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    cycle = settings.interval + settings.timeout
    stall_at = rng.uniform(1.0, 4.0) * cycle
    pattern = rng.choice(PATTERNS)

    def configure(run: Run) -> None:
        run.marks["stall"] = stall_at
        _traffic(run, pattern, 0.5, run.until)

        def stall() -> None:
            assert run.server is not None
            link = run.server.link_of("client")
            if link is not None:
                link.stall()
                run.note("link", "the link stalls: half-open, nobody is told")

        run.loop.call_at(stall_at, stall)

    return scenario(code, "half-open", seed, settings, stall_at + settings.bound + 1.0,
                     latency=_normal_latency(rng), configure=configure)


def frozen_scenario(code: HeartbeatCode, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    cycle = settings.interval + settings.timeout
    freeze_at = rng.uniform(1.0, 4.0) * cycle
    pattern = rng.choice(PATTERNS)

    def configure(run: Run) -> None:
        run.marks["server hangs"] = freeze_at
        _traffic(run, pattern, 0.5, run.until)

        def freeze() -> None:
            if run.server_side is not None and not run.server_side.stopped:
                run.server_side.freeze()

        run.loop.call_at(freeze_at, freeze)

    return scenario(code, "frozen peer", seed, settings, freeze_at + settings.bound + 1.0,
                     latency=_normal_latency(rng), configure=configure)


def idle_scenario(code: HeartbeatCode, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    return scenario(code, "idle", seed, settings, IDLE_SECONDS, latency=_normal_latency(rng))


def proxy_scenario(code: HeartbeatCode, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    burst = rng.random() < 0.5

    def configure(run: Run) -> None:
        run.marks["proxy: cut after 30 s of silence"] = 0.0
        if burst:  # some talk first, then silence
            _traffic(run, "bursts", 0.5, rng.uniform(20, 120))
        else:
            run.pattern = "idle"

    return scenario(code, "proxy", seed, settings, PROXY_SECONDS,
                     latency=_normal_latency(rng), idle_timeout=PROXY_IDLE, configure=configure)


def slow_link_scenario(code: HeartbeatCode, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    normal = Latency(rng.uniform(0.15, 0.35), rng.uniform(0.05, 0.15))
    pattern = rng.choice(PATTERNS)
    spikes = []
    t = rng.uniform(5, 60)
    while t < SLOW_SECONDS - 20:
        length = rng.uniform(2, 15)
        # The learner's settings face the spec's mobile link, in absolute seconds: a
        # timeout too short for it must raise false alarms. Ours scale with the timeout.
        worst = SLOW_LINK_RTT / 2 if settings.yours else SPIKE_SHARE * settings.timeout
        one_way = max(normal.base + normal.jitter, rng.uniform(0.6, 1.0) * worst)
        spikes.append((t, t + length, 2 * one_way))
        t += length + rng.expovariate(1 / 60)

    def configure(run: Run) -> None:
        run.spikes = spikes
        _traffic(run, pattern, 0.5, run.until)

        def set_latency(latency: Latency) -> None:
            assert run.server is not None
            link = run.server.link_of("client")
            if link is not None:
                link.latency = latency

        for start, end, rtt in spikes:
            run.loop.call_at(start, set_latency, Latency(rtt / 2, 0.0))
            run.loop.call_at(end, set_latency, normal)

    return scenario(code, "slow link", seed, settings, SLOW_SECONDS, latency=normal,
                     configure=configure)


Scenario = Callable[[HeartbeatCode, int, Settings], Run]
SCENARIOS: dict[str, Scenario] = {
    "half-open": half_open_scenario, "frozen peer": frozen_scenario, "idle": idle_scenario,
    "slow link": slow_link_scenario, "proxy": proxy_scenario,
}


# -- measurements -----------------------------------------------------------------


def silences(run: Run, start: float, end: float) -> list[tuple[float, float]]:
    """(gap, started at) between consecutive messages on the link, in either direction."""
    times = [start, *sorted(t for t, _, _, _ in run.sent if start <= t <= end), end]
    return [(b - a, a) for a, b in itertools.pairwise(times)]


def overhead(run: Run) -> tuple[float, float]:
    """Heartbeat frames and bytes per minute on the connection (both directions)."""
    minutes = run.until / 60
    beats = [size for _, _, kind, size in run.sent if kind != "app"]
    return len(beats) / minutes, sum(beats) / minutes


def detection_times(runs: list[Run], mark: str) -> dict[str, list[float]]:
    """Seconds from the fault to each side's verdict, for runs where it came."""
    times: dict[str, list[float]] = {"client": [], "server": []}
    for run in runs:
        if mark not in run.marks:
            continue
        for end in run.ends():
            if end.declared_at is not None and end.declared_at >= run.marks[mark]:
                times[end.side].append(end.declared_at - run.marks[mark])
    return times


