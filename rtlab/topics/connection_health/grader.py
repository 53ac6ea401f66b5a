"""Grader of the heartbeat exercise (``exercises/heartbeat.py``).

It runs the learner's sans-I/O ``Heartbeat`` on both ends of simulated
WebSocket connections (``rtlab.sim``, virtual time) under seeded faults. A
small driver plays the part the live wrapper plays in the notebook: it feeds
every message to ``on_received``, calls ``on_sent`` after every send, polls at
``next_wakeup`` and carries out the actions. Heartbeat messages travel as
ordinary text messages on the link, so latency, stalls and the idle proxy treat
them like everything else.

Settings: each scenario uses either the learner's defaults (``INTERVAL`` and
``TIMEOUT``, read from a fresh ``Heartbeat()``) or one of ours, so the logic is
checked for any sound setting and the learner's choice is checked against the
30 s proxy and the slow link. Below, I is the interval and T the timeout.

``half-open-connection-ghost`` (110 scenarios)
    The link stalls (half-open: nothing arrives, no close) at a random moment
    1-4 (I + T) after opening, on an idle connection, under a server that
    streams updates into the void, a chatty client, or random bursts. *Both*
    sides must declare the connection dead within I + T + tolerance of the
    stall, where tolerance = 0.1 (I + T) + 0.25 s. A side that never checks
    (the classic "only the client pings, the server trusts the socket") keeps
    the ghost, and fails here. Closes before the stall are false alarms and
    judged below, not here.
``missing-heartbeat`` (90 scenarios)
    The heartbeat exists, is answered and is tracked, and is tuned:
    * idle (20 runs, 10 min, no application traffic): some message crosses the
      link at least every I + 0.1 I + 0.25 s; every ping is answered with a pong
      within min(1 s, T / 4); with the learner's settings, heartbeat overhead
      at most 60 frames per minute per connection (bytes/min are reported);
    * frozen peer (30 runs): the server program hangs (link fine, nothing is
      answered any more); the client must close within I + T + tolerance.
      Sending pings without tracking the answers fails here;
    * slow but healthy link (40 runs, 10 min): one-way latency 0.15-0.5 s, and
      spikes of 2-15 s during which the round trip rises to at most 0.75 T.
      Neither side may declare the connection dead. A timeout shorter than the
      link's normal latency (or its normal variation) flaps, and fails here:
      a false alarm is a heartbeat that cannot tell slow from dead.
``websocket-proxy-timeout`` (30 runs, 5 min)
    Behind a proxy that cuts any connection silent for 30 s (virtual time),
    an idle connection (or one with a burst, then silence) must never be cut.
    With the learner's defaults an interval at or above 30 s fails; our own
    settings (all below 30 s) check that pings go out when idle.

Margins, measured on the reference (I=20 s, T=10 s) and the known-good
variants (fixed schedule, missed-pong counting, Socket.IO style): every one
declares a stalled link or a hung peer dead within I + T itself (the latest at
I + T - 0.01 s), so the tolerance only serves coarser solutions; the
reference's median is 21-22 s against a bound of 33.25 s. On the slow link the
reference's longest silence is I + 0.36 T (its deadline: I + T), and the
fixed-schedule variant's longest round trip 0.75 T (its deadline: T). Idle,
the reference sends 11.6 heartbeat frames (93 bytes of WebSocket frames) per
minute; the budget is 60 frames. Each known-bad variant in
tests/known_bad/heartbeat_*.py fails exactly the IDs it declares; an ID's
scenarios stop at its first failure, which is the one reported.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import statistics
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from websockets.exceptions import ConnectionClosed

from rtlab.grading.report import Finding, Report, Status
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.plots import figure_to_png_base64
from rtlab.sim import Latency, SimConnection, SimLoop, SimServer
from rtlab.syllabus import reference_link
from rtlab.wire.websocket import Side, frame_size

MH = "missing-heartbeat"
HOG = "half-open-connection-ghost"
WPT = "websocket-proxy-timeout"
IDS = (MH, HOG, WPT)
TITLES = {
    MH: "A heartbeat that is sent, answered, tracked and tuned",
    HOG: "A half-open link is declared dead in time, on both sides",
    WPT: "An idle connection survives a proxy's idle timeout",
}
HINTS = {
    MH: "poll() must return ('send', PING) once this side has been silent for `interval`; "
    "on_received must answer a PING with ('send', PONG); and when nothing arrives for "
    "interval + timeout, poll() must return ('close', reason). Any message counts as proof "
    "of life, so a slow answer is not a dead link: keep TIMEOUT well above the round trip "
    "of a slow link (seconds, not milliseconds).",
    HOG: "Both ends run the same rule: remember when anything last arrived, and close once "
    "nothing has for interval + timeout. A side that only answers pings (or only sends "
    "data) never notices that its peer is gone; next_wakeup must return the moment that "
    "deadline passes, so poll() runs then even if nothing else happens.",
    WPT: "Proxies cut connections that are silent for 30 s. Pick INTERVAL well below that "
    "(20-25 s, as websockets and Socket.IO do) and send a ping whenever this side has been "
    "silent that long, whether or not the application talks.",
}

PROXY_IDLE = 30.0
OUR_SETTINGS: list[tuple[float, float]] = [(5.0, 5.0), (20.0, 20.0), (25.0, 20.0), (2.0, 8.0),
                                           (10.0, 2.0)]
HALF_OPEN_SEEDS = list(range(5000, 5110))
FROZEN_SEEDS = list(range(6000, 6030))
IDLE_SEEDS = list(range(7000, 7020))
PROXY_SEEDS = list(range(8000, 8030))
SLOW_SEEDS = list(range(9000, 9040))
IDLE_SECONDS, PROXY_SECONDS, SLOW_SECONDS = 600.0, 300.0, 600.0
MAX_FRAMES_PER_MINUTE = 60
SPIKE_SHARE = 0.375  # spike one-way latency <= this x T, so round trips stay <= 0.75 T
SCENARIO_SECONDS = 10.0
MAX_SPINS = 1000  # next_wakeup() at or before `now` this many times in a row: an endless loop
PATTERNS = ("idle", "server streams", "client chats", "bursts")


def tolerance(interval: float, timeout: float) -> float:
    return 0.1 * (interval + timeout) + 0.25


@dataclass(frozen=True)
class Settings:
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


class LearnerError(Exception):
    """Learner code raised or returned something the driver cannot use."""


def _settle(coro: Coroutine[Any, Any, Any]) -> None:
    """Run a simulated send()/close() to completion: they never wait, so one step does it."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a simulated send or close unexpectedly waited")


PING_PREFIXES = ("ping", b"ping")


def _kind(message: str | bytes) -> str:
    text = message if isinstance(message, str) else message.decode(errors="replace")
    if text.startswith("ping"):
        return "ping"
    if text.startswith("pong"):
        return "pong"
    return "heartbeat"


# -- one side of a connection, driven the way the live wrapper drives it ------------


class Endpoint:
    """Runs one learner ``Heartbeat`` on one end of a simulated connection."""

    def __init__(self, run: Run, side: Side, conn: SimConnection, hb: Any) -> None:
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
        actions = self._call("on_received", message, now)
        self.execute(actions, "on_received")
        self.poll()

    def poll(self) -> None:
        if self.stopped:
            return
        now = self.loop.now
        self.execute(self._call("poll", now), "poll")
        if self.stopped:
            return
        wake = self._call("next_wakeup", now)
        if self.stopped:
            return
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
    def execute(self, actions: Any, called: str) -> None:
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
                self.send(argument, _kind(argument))
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
        self._call("on_sent", now)

    def declare_dead(self, reason: str) -> None:
        self.declared_at, self.reason = self.loop.now, reason
        self.run.note(self.side, f"declared the connection dead: {reason}")
        self.stop()
        if not self.conn.closed:
            _settle(self.conn.close(1011, "heartbeat timeout"))

    # -- helpers -------------------------------------------------------------------
    def _call(self, name: str, *args: Any) -> Any:
        if self.stopped:
            return None
        try:
            return getattr(self.hb, name)(*args)
        except Exception as error:
            self.fail(f"{self.side} Heartbeat.{name} raised {describe_error(error)}", error)
            return None

    def fail(self, message: str, error: BaseException | None = None) -> None:
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


def _describe(message: str | bytes) -> str:
    kind = _kind(message)
    return repr(message) if kind != "heartbeat" or len(message) < 20 else f"{message[:17]!r}..."


# -- a scenario ---------------------------------------------------------------------


@dataclass
class Run:
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

    def heartbeat(self, side: Side, conn: SimConnection, module: ModuleType) -> Endpoint | None:
        try:
            hb = module.Heartbeat(*self.settings.args, side=side, now=self.loop.now)
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
    module: ModuleType, kind: str, seed: int, settings: Settings, until: float,
    *, latency: Latency, idle_timeout: float | None = None,
    configure: Callable[[Run], None] | None = None,
) -> Run:
    loop = SimLoop(seed)
    run = Run(kind, seed, settings, loop, until, latency=latency)

    async def handler(conn: SimConnection) -> None:
        end = run.heartbeat("server", conn, module)
        if end is not None:
            await end.read()

    async def client() -> None:
        conn = await server.connect("client")
        end = run.heartbeat("client", conn, module)
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


def half_open_scenario(module: ModuleType, seed: int, settings: Settings) -> Run:
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

    return scenario(module, "half-open", seed, settings, stall_at + settings.bound + 1.0,
                     latency=_normal_latency(rng), configure=configure)


def frozen_scenario(module: ModuleType, seed: int, settings: Settings) -> Run:
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

    return scenario(module, "frozen peer", seed, settings, freeze_at + settings.bound + 1.0,
                     latency=_normal_latency(rng), configure=configure)


def idle_scenario(module: ModuleType, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    return scenario(module, "idle", seed, settings, IDLE_SECONDS, latency=_normal_latency(rng))


def proxy_scenario(module: ModuleType, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    burst = rng.random() < 0.5

    def configure(run: Run) -> None:
        run.marks["proxy: cut after 30 s of silence"] = 0.0
        if burst:  # some talk first, then silence
            _traffic(run, "bursts", 0.5, rng.uniform(20, 120))
        else:
            run.pattern = "idle"

    return scenario(module, "proxy", seed, settings, PROXY_SECONDS,
                     latency=_normal_latency(rng), idle_timeout=PROXY_IDLE, configure=configure)


def slow_link_scenario(module: ModuleType, seed: int, settings: Settings) -> Run:
    rng = random.Random(seed)
    normal = Latency(rng.uniform(0.15, 0.35), rng.uniform(0.05, 0.15))
    pattern = rng.choice(PATTERNS)
    spikes = []
    t = rng.uniform(5, 60)
    while t < SLOW_SECONDS - 20:
        length = rng.uniform(2, 15)
        one_way = max(normal.base + normal.jitter,
                      rng.uniform(0.6, 1.0) * SPIKE_SHARE * settings.timeout)
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

    return scenario(module, "slow link", seed, settings, SLOW_SECONDS, latency=normal,
                     configure=configure)


# -- checks ---------------------------------------------------------------------------


@dataclass
class Verdict:
    status: Status
    observed: str = ""
    expected: str = ""
    side: str | None = None
    at: float | None = None  # the moment the figure should centre on


PASS = Verdict("passed")


def _crashed(run: Run) -> Verdict | None:
    if run.error is not None:
        return Verdict("failed", f"The scenario stopped: {run.error}", "the heartbeat runs")
    if run.client is None or run.server_side is None:
        return Verdict("failed", "The connection never got a heartbeat on both ends.",
                       "a Heartbeat per side")
    return None


def check_half_open(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    stall, s = run.marks["stall"], run.settings
    if any(e.declared_at is not None and e.declared_at < stall for e in run.ends()):
        return Verdict("not reached", "A side declared the healthy connection dead before the "
                       "stall (a false alarm, judged under missing-heartbeat).")
    for end in run.ends():
        if end.declared_at is None or end.declared_at - stall > s.bound:
            when = ("never (still 'connected' when the run ended "
                    f"{run.until - stall:.1f} s after the stall)" if end.declared_at is None
                    else f"only {end.declared_at - stall:.1f} s after the stall")
            return Verdict(
                "failed",
                f"The link went half-open at t={stall:.1f} s ({s}, {run.pattern}). "
                f"The {end.side} declared it dead {when}.",
                f"both sides declare it dead within interval + timeout = "
                f"{s.interval + s.timeout:g} s (+{tolerance(s.interval, s.timeout):.2f} s)",
                end.side, stall,
            )
    return PASS


def check_frozen_peer(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    frozen, s = run.marks["server hangs"], run.settings
    assert run.client is not None
    if run.client.declared_at is not None and run.client.declared_at < frozen:
        return Verdict("not reached", "The client declared the connection dead before the "
                       "server hung (a false alarm).")
    declared = run.client.declared_at
    if declared is None or declared - frozen > s.bound:
        when = (f"never (not within the {run.until - frozen:.1f} s the run lasted)"
                if declared is None else f"only after {declared - frozen:.1f} s")
        return Verdict(
            "failed",
            f"At t={frozen:.1f} s the server program hung: the link still worked, but no pong "
            f"(and nothing else) came back ({s}, {run.pattern}). The client noticed {when}.",
            f"the client tracks the pongs and closes within interval + timeout = "
            f"{s.interval + s.timeout:g} s (+{tolerance(s.interval, s.timeout):.2f} s)",
            "client", frozen,
        )
    return PASS


def _silences(run: Run, start: float, end: float) -> list[tuple[float, float]]:
    """(gap, started at) between consecutive messages on the link, in either direction."""
    times = [start, *sorted(t for t, _, _, _ in run.sent if start <= t <= end), end]
    return [(b - a, a) for a, b in itertools.pairwise(times)]


def overhead(run: Run) -> tuple[float, float]:
    """Heartbeat frames and bytes per minute on the connection (both directions)."""
    minutes = run.until / 60
    beats = [size for _, _, kind, size in run.sent if kind != "app"]
    return len(beats) / minutes, sum(beats) / minutes


def check_idle(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    s = run.settings
    for end in run.ends():
        if end.declared_at is not None:
            return Verdict(
                "failed",
                f"On a healthy idle link ({s}), the {end.side} declared the connection dead at "
                f"t={end.declared_at:.1f} s: {end.reason}",
                "no false alarm on a healthy link", end.side, end.declared_at,
            )
    allowed = s.interval * 1.1 + 0.25
    gap, since = max(_silences(run, 2.0, run.until))
    if gap > allowed:
        return Verdict(
            "failed",
            f"On an idle connection ({s}) nothing at all was sent for {gap:.1f} s "
            f"(from t={since:.1f} s).",
            f"traffic (a ping) at least every interval: a gap of at most {allowed:.1f} s",
            None, since + gap / 2,
        )
    answer_within = min(1.0, s.timeout / 4)
    pongs = {"client": [t for t, side, kind, _ in run.sent if side == "client" and kind == "pong"],
             "server": [t for t, side, kind, _ in run.sent if side == "server" and kind == "pong"]}
    for t, side in run.pings_in:
        if t > run.until - answer_within:
            break
        sent = pongs[side]
        first = bisect.bisect_left(sent, t)  # the first pong sent at or after the ping
        if first == len(sent) or sent[first] > t + answer_within:
            return Verdict(
                "failed",
                f"The {side} received a ping at t={t:.2f} s and sent no pong within "
                f"{answer_within:g} s ({s}).",
                "every PING is answered with a PONG right away (the confirmation the pinging "
                "side waits for)", side, t,
            )
    if s.yours:
        frames, _ = overhead(run)
        if frames > MAX_FRAMES_PER_MINUTE:
            return Verdict(
                "failed",
                f"On an idle connection with {s}, the heartbeat sent {frames:.0f} frames per "
                "minute.",
                f"a small overhead: at most {MAX_FRAMES_PER_MINUTE} heartbeat frames per minute "
                "per connection",
            )
    return PASS


def check_slow_link(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    for end in run.ends():
        if end.declared_at is not None:
            at = end.declared_at
            spike = next(((a, b, rtt) for a, b, rtt in run.spikes if a - 30 <= at <= b + 30),
                         None)
            context = (f"a latency spike to {spike[2]:.2f} s round trip ran from t={spike[0]:.1f} "
                       f"to {spike[1]:.1f} s" if spike else "no latency spike was under way")
            lat = run.latency
            return Verdict(
                "failed",
                f"On a slow but healthy link (one-way latency {lat.base:.2f}-"
                f"{lat.base + lat.jitter:.2f} s, {run.settings}, {run.pattern}), the {end.side} "
                f"declared the connection dead at t={at:.1f} s ({context}): {end.reason}",
                f"no false alarm while every round trip stays below 0.75 x timeout "
                f"({0.75 * run.settings.timeout:.2f} s)",
                end.side, at,
            )
    return PASS


KINDS: dict[Callable[[ModuleType, int, Settings], Run], str] = {
    half_open_scenario: "half-open", frozen_scenario: "frozen peer", idle_scenario: "idle",
    slow_link_scenario: "slow link", proxy_scenario: "proxy",
}


def check_mh(run: Run) -> Verdict:
    return {"idle": check_idle, "frozen peer": check_frozen_peer,
            "slow link": check_slow_link}[run.kind](run)


def check_proxy(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    assert run.server is not None
    if run.server.idle_cuts:
        cut = next((t for t, _, what, _ in run.events if what.startswith("connection closed")),
                   None)
        gap, since = max(_silences(run, 0.0, cut or run.until))
        return Verdict(
            "failed",
            f"The proxy cut the connection ({run.settings}, {run.pattern}) at about "
            f"t={cut or 0:.1f} s: nothing had crossed it for {gap:.1f} s (from t={since:.1f} s).",
            f"traffic more often than the proxy's idle timeout of {PROXY_IDLE:g} s",
            None, cut,
        )
    return PASS


# -- figures and timelines of a failing run ---------------------------------------------


def _window(run: Run, verdict: Verdict) -> tuple[float, float]:
    centre = verdict.at if verdict.at is not None else run.until / 2
    span = 1.5 * (run.settings.interval + run.settings.timeout)
    if run.kind == "proxy":
        span = 1.5 * PROXY_IDLE
    return max(0.0, centre - span), min(run.until, centre + span)


def _text_timeline(run: Run, verdict: Verdict, rows: int = 18) -> list[str]:
    start, end = _window(run, verdict)
    shown = [(t, side, f"{what} {_describe(message)}" if message else what)
             for t, side, what, message in run.events if start <= t <= end]
    if verdict.at is not None:
        before = [e for e in shown if e[0] <= verdict.at]
        after = [e for e in shown if e[0] > verdict.at]
        shown = before[-(rows // 2):] + after[: rows - min(len(before), rows // 2)]
    else:
        shown = shown[:rows]
    return [f"t={t:9.3f} s  {side:<6}  {what}" for t, side, what in shown]


def _figure(run: Run, verdict: Verdict) -> str:
    import matplotlib.pyplot as plt

    start, end = _window(run, verdict)
    fig, ax = plt.subplots(figsize=(8, 2.4))
    styles = {"app": ("|", "#8c959f"), "ping": ("^", "#0969da"), "pong": ("v", "#1a7f37"),
              "heartbeat": ("o", "#8250df")}
    rows = {"client": 1, "server": 0}
    labelled: set[str] = set()
    for kind, (marker, colour) in styles.items():
        for side, row in rows.items():
            ts = [t for t, sd, k, _ in run.sent if sd == side and k == kind and start <= t <= end]
            if ts:
                ax.plot(ts, [row] * len(ts), marker, color=colour, linestyle="none",
                        label=None if kind in labelled else f"{kind} sent")
                labelled.add(kind)
    for endpoint in run.ends():
        if endpoint.declared_at is not None and start <= endpoint.declared_at <= end:
            ax.plot(endpoint.declared_at, rows[endpoint.side], "X", color="#cf222e",
                    markersize=10)
    for name, t in run.marks.items():
        if start <= t <= end:
            ax.axvline(t, color="#57606a", linestyle=":", linewidth=1)
            ax.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"), fontsize=8,
                        va="top", color="#57606a")
            if name in ("stall", "server hangs"):
                ax.axvline(t + run.settings.bound, color="#cf222e", linestyle="--", linewidth=1)
    for a, b, _ in run.spikes:
        if b >= start and a <= end:
            ax.axvspan(max(a, start), min(b, end), color="#bf8700", alpha=0.15, linewidth=0)
    ax.set_yticks([0, 1], ["server", "client"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlim(start, end)
    ax.set_xlabel("time (s)   X: declared dead   dashed: latest allowed   shaded: latency spike")
    ax.set_title(f"seed {run.seed}: {run.kind}, {run.settings}", fontsize=10, loc="left")
    if labelled:
        ax.legend(fontsize=7, loc="lower right", ncol=4, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return figure_to_png_base64(fig)


# -- the grader ----------------------------------------------------------------------------


def learner_settings(module: ModuleType) -> Settings | str:
    """The learner's INTERVAL and TIMEOUT, read from a fresh ``Heartbeat()``; or a problem."""
    try:
        hb = module.Heartbeat(side="client", now=0.0)
        interval, timeout = hb.interval, hb.timeout
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
    return Settings(float(interval), float(timeout), True)


def _settings_for(seed: int, yours: Settings) -> Settings:
    """Every other scenario uses the learner's settings; the rest cycle through ours."""
    if seed % 2 == 0:
        return yours
    interval, timeout = OUR_SETTINGS[(seed // 2) % len(OUR_SETTINGS)]
    return Settings(interval, timeout, False)


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    if not callable(getattr(module, "Heartbeat", None)):
        return Report("heartbeat", "", error="The file has no class named Heartbeat.")
    yours = learner_settings(module)
    plan: list[tuple[str, Callable[[ModuleType, int, Settings], Run], list[int]]] = [
        (HOG, half_open_scenario, HALF_OPEN_SEEDS),
        (MH, idle_scenario, IDLE_SEEDS),
        (MH, frozen_scenario, FROZEN_SEEDS),
        (MH, slow_link_scenario, SLOW_SEEDS),
        (WPT, proxy_scenario, PROXY_SEEDS),
    ]
    checks: dict[str, Callable[[Run], Verdict]] = {
        HOG: check_half_open, MH: check_mh, WPT: check_proxy,
    }
    runs: dict[str, list[Run]] = {id: [] for id in IDS}
    failed: set[str] = set()
    hung: Run | None = None
    for id, scenario, all_seeds in plan:
        for seed in all_seeds:
            if id in failed:
                break  # the first failure is the one reported: spare the rest
            if seeds is not None and seed not in seeds:
                continue
            if isinstance(yours, str):
                settings = Settings(20.0, 20.0, True)
                run = Run(KINDS[scenario], seed, settings, SimLoop(seed), 0.0, error=yours)
            elif hung is not None:  # code that hangs would hang again: one wait is enough
                run = Run(hung.kind, seed, hung.settings, hung.loop, 0.0, error=hung.error,
                          timed_out=True)
            else:
                run = scenario(module, seed, _settings_for(seed, yours))
                if run.timed_out:
                    hung = run
            runs[id].append(run)
            if checks[id](run).status == "failed":
                failed.add(id)
    findings = [_judge(id, checks[id], runs[id]) for id in IDS]
    if not isinstance(yours, str):
        _add_measurements(findings, runs, yours)
    return Report("heartbeat", "", findings, scenarios=sum(len(r) for r in runs.values()))


def _judge(id: str, check: Callable[[Run], Verdict], runs: list[Run]) -> Finding:
    finding = Finding(id, TITLES[id], "passed", scenarios=len(runs), hint=HINTS[id],
                      reference=reference_link(id))
    if not runs:
        finding.status, finding.observed = "not reached", "no scenario for this seed"
        return finding
    not_reached: tuple[Run, Verdict] | None = None
    passed = 0
    for run in runs:
        verdict = check(run)
        if verdict.status == "failed":
            finding.status, finding.seed = "failed", run.seed
            finding.observed, finding.expected = verdict.observed, verdict.expected
            if run.error is None:
                finding.timeline = _text_timeline(run, verdict)
                finding.figure_png = _figure(run, verdict)
            return finding
        if verdict.status == "not reached" and not_reached is None:
            not_reached = (run, verdict)
        passed += verdict.status == "passed"
    if not_reached is not None and passed == 0:
        run, verdict = not_reached
        finding.status, finding.seed = "not reached", run.seed
        finding.observed, finding.expected = verdict.observed, verdict.expected
    return finding


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


def _add_measurements(findings: list[Finding], runs: dict[str, list[Run]], yours: Settings) -> None:
    """Passed findings say what was measured, with the learner's own settings."""
    by_id = {f.id: f for f in findings}
    mine = [r for r in runs[HOG] if r.settings == yours and r.error is None]
    hog = by_id[HOG]
    if hog.passed and mine:
        times = detection_times(mine, "stall")
        parts = [f"{side} median {statistics.median(ts):.1f} s, worst {max(ts):.1f} s"
                 for side, ts in times.items() if ts]
        hog.observed = (f"With {yours}, a half-open link was declared dead after: "
                        f"{'; '.join(parts)} (bound {yours.bound:.1f} s).")
    idle = [r for r in runs[MH] if r.kind == "idle" and r.settings == yours and r.error is None]
    mh = by_id[MH]
    if mh.passed and idle:
        frames = statistics.mean(overhead(r)[0] for r in idle)
        size = statistics.mean(overhead(r)[1] for r in idle)
        mh.observed = (f"With {yours}, an idle connection carried {frames:.1f} heartbeat frames "
                       f"({size:.0f} bytes of WebSocket frames) per minute, both directions "
                       "together; no false alarm on the slow link.")
    wpt = by_id[WPT]
    proxied = [r for r in runs[WPT] if r.settings == yours and r.error is None]
    if wpt.passed and proxied:
        gap = max(max(_silences(r, 0.0, r.until))[0] for r in proxied)
        wpt.observed = (f"With {yours}, no connection was cut in {len(proxied)} runs of "
                        f"{PROXY_SECONDS / 60:.0f} min behind a {PROXY_IDLE:g} s proxy; the "
                        f"longest silence was {gap:.1f} s.")
