"""The reconnection module's simulated world: seeded, in virtual time.

Two ways to run the learner's ``Backoff`` and ``stay_connected``:

- :func:`client_scenario` and :func:`herd_scenario`, the grader's scenarios
  (also used by the lesson to try the learner's code before the live storm).
  Each client gets a ``connect`` that logs every attempt, failure and open in a
  :class:`ClientTrace`, and parks a client that retries in a tight loop or far
  too often (it has made its point; the herd check reports it). A scenario ends
  in a :class:`Run`: the traces, the server's attempt log and the named moments
  (restart, outage), or the error that stopped it.
- :func:`storm`, the lean path for lessons and benchmarks: learner code gets the
  server's own ``connect`` (no per-attempt bookkeeping; the server's attempt
  log says it all), so 10,000 clients through a restart simulate in a couple
  of seconds.
"""

from __future__ import annotations

import gc
import inspect
import random
import time
from dataclasses import dataclass, field

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.sim import Latency, SimConnection, SimLoop, SimServer, SimTask
from rtlab.sim.network import Attempt
from rtlab.topics.reconnection.interface import (
    Connect,
    MakeBackoff,
    ReconnectionCode,
    StayConnected,
)

__all__ = ["BASE", "CAP", "CLIENT_COUNT", "HERD_CLIENTS", "MAX_ATTEMPTS_WITHOUT_SUCCESS",
           "TIGHT_LOOP", "ClientTrace", "Run", "Storm", "client_scenario", "herd_scenario",
           "storm"]

BASE, CAP = 0.5, 30.0  # the Backoff every scenario client gets
HERD_CLIENTS = 300
CLIENT_COUNT = 4
TIGHT_LOOP = (5, 0.01)  # this many attempts in a row, each within this many s of a failure
MAX_ATTEMPTS_WITHOUT_SUCCESS = 100  # sound policies make ~25 in a 5-minute outage
SCENARIO_SECONDS = 10.0  # wall-clock limit of one scenario


# -- one client's life, as a scenario records it ----------------------------------


@dataclass
class ClientTrace:
    name: str
    events: list[tuple[float, str]] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    gaps: list[tuple[float, int, float]] = field(default_factory=list)  # (time, k, gap)
    tight_loop_at: float | None = None  # parked: retried in a tight loop, or far too often
    hammering: bool = False  # parked for too many attempts (not for zero delays)
    task: SimTask | None = None
    _k: int = 0
    _last_failure: float | None = None
    _hasty: int = 0  # attempts in a row made (almost) at once after a failure

    def failed(self, t: float, what: str) -> None:
        self.events.append((t, what))
        self._last_failure = t

    def opened(self, t: float) -> None:
        self.events.append((t, "open"))
        self._k, self._last_failure = 0, None

    def first_open_after(self, t: float) -> float | None:
        return next((et for et, kind in self.events if kind == "open" and et >= t), None)

    def connected_at(self, t: float) -> bool:
        state = False
        for et, kind in self.events:
            if et > t:
                break
            if kind == "open":
                state = True
            elif kind.startswith("closed"):
                state = False
        return state


def _connector(loop: SimLoop, server: SimServer, trace: ClientTrace) -> Connect:
    """The ``connect`` handed to learner code: the server's, plus bookkeeping."""
    limit, hasty = TIGHT_LOOP

    async def connect() -> SimConnection:
        now = loop.now
        trace._k += 1
        if trace._last_failure is not None:
            gap = now - trace._last_failure
            trace.gaps.append((now, trace._k, gap))
            trace._hasty = trace._hasty + 1 if gap < hasty else 0
        trace.attempts.append(now)
        trace.events.append((now, "attempt"))
        if trace._hasty >= limit or trace._k > MAX_ATTEMPTS_WITHOUT_SUCCESS:
            trace.tight_loop_at = now
            trace.hammering = trace._hasty < limit
            await loop.future()  # park this client for good: it has made its point
        try:
            conn = await server.connect(trace.name)
        except ConnectionRefusedError:
            trace.failed(loop.now, "refused")
            raise
        trace.opened(loop.now)
        conn.add_close_listener(lambda t, code: trace.failed(t, f"closed {code or 1006}"))
        return conn

    return connect


# -- scenarios ----------------------------------------------------------------------


@dataclass
class Run:
    seed: int
    loop: SimLoop
    server: SimServer
    traces: list[ClientTrace]
    until: float
    marks: dict[str, float]  # named moments, e.g. "restart", "back up"
    back_up: list[float]  # when the server was up again after each mass disconnection
    blips: list[tuple[str, float]]  # (client, time of a brief drop)
    outage: tuple[float, float] = (0.0, 0.0)
    error: str | None = None  # the scenario could not run at all
    timed_out: bool = False

    def client_errors(self) -> list[tuple[ClientTrace, BaseException]]:
        return [(t, t.task.error) for t in self.traces if t.task and t.task.error is not None]

    def returned(self) -> list[ClientTrace]:
        return [t for t in self.traces if t.task and t.task.done and t.task.error is None]


def _start_clients(code: ReconnectionCode, run: Run, count: int, spread: float) -> None:
    loop, server = run.loop, run.server
    for i in range(count):
        trace = ClientTrace(f"client-{i}")
        backoff = code.Backoff(base=BASE, cap=CAP, rng=random.Random(run.seed * 100_003 + i))
        coro = code.stay_connected(_connector(loop, server, trace), backoff, loop.sleep)
        if not inspect.iscoroutine(coro):
            raise TypeError(
                "stay_connected(...) must be an `async def` function; calling it returned "
                f"{coro!r} instead of a coroutine"
            )
        start = loop.rng.uniform(0, spread)
        trace.task = loop.spawn(coro, f"stay_connected of {trace.name}", at=start)
        run.traces.append(trace)


def _execute(code: ReconnectionCode, run: Run, count: int, spread: float) -> Run:
    random.seed(run.seed)  # learners who use the random module directly stay reproducible
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {run.seed}"):
            _start_clients(code, run, count, spread)
            run.loop.run(run.until)
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except Exception as error:
        run.error = describe_error(error)
    finally:
        run.loop.close()
    return run


def herd_scenario(code: ReconnectionCode, seed: int, clients: int = HERD_CLIENTS) -> Run:
    """Many clients; one restart (3-20 s down), then a 90-120 s outage."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=Latency(0.02, 0.03))
    restart_at, downtime = 20.0, loop.rng.uniform(3, 20)
    outage_at = restart_at + downtime + 60
    outage_end = outage_at + loop.rng.uniform(90, 120)
    loop.call_at(restart_at, server.restart, downtime)
    loop.call_at(outage_at, server.go_down)
    loop.call_at(outage_end, server.go_up)
    run = Run(
        seed, loop, server, [], outage_end + 90,
        marks={"restart": restart_at, "back up": restart_at + downtime,
               "outage": outage_at, "outage over": outage_end},
        back_up=[restart_at + downtime, outage_end], blips=[], outage=(outage_at, outage_end),
    )
    return _execute(code, run, clients, spread=5.0)


def client_scenario(code: ReconnectionCode, seed: int) -> Run:
    """A few clients through a restart, a long outage, drops and a quick restart."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=Latency(0.02, 0.05))
    rng = loop.rng
    restart_at, downtime = rng.uniform(5, 15), rng.uniform(0.5, 10)
    outage_at = restart_at + downtime + 60
    outage_end = outage_at + rng.uniform(120, 300)
    blips_from = outage_end + 60
    quick_restart = blips_from + 120
    quick_downtime = rng.uniform(0.2, 2.0)
    loop.call_at(restart_at, server.restart, downtime)
    loop.call_at(outage_at, server.go_down)
    loop.call_at(outage_end, server.go_up)
    loop.call_at(quick_restart, server.restart, quick_downtime)
    blips: list[tuple[str, float]] = []
    for i in range(CLIENT_COUNT):
        for j, offset in enumerate((rng.uniform(0, 40), rng.uniform(60, 100))):
            name, at = f"client-{i}", blips_from + offset
            clean = (i + j) % 2 == 1  # alternate abrupt drops (1006) and going-away closes
            blips.append((name, at))
            loop.call_at(at, _blip, server, name, clean)
    run = Run(
        seed, loop, server, [], quick_restart + quick_downtime + 60,
        marks={"restart": restart_at, "outage": outage_at, "outage over": outage_end,
               "quick restart": quick_restart},
        back_up=[restart_at + downtime, outage_end, quick_restart + quick_downtime],
        blips=blips, outage=(outage_at, outage_end),
    )
    return _execute(code, run, CLIENT_COUNT, spread=2.0)


def _blip(server: SimServer, client: str, clean: bool) -> None:
    link = server.link_of(client)
    if link is None:
        return
    if clean:
        link.close_from(link.server_end, 1001, "going away")
    else:
        link.drop()


# -- a storm: many clients, one restart, the server's view only ---------------------

@dataclass
class Storm:
    """What happened in one storm, as the server saw it."""

    clients: int
    seed: int
    restart_at: float
    back_up_at: float
    until: float
    attempts: list[Attempt]
    crashes: list[float]
    events: int
    errors: list[BaseException] = field(default_factory=list)
    # Wall-clock cost of the simulation itself (for benchmarks, never for lessons'
    # printed output): connecting everyone first, then restart -> settled.
    setup_seconds: float = 0.0
    storm_seconds: float = 0.0

    def times(self, outcome: str, since: float | None = None) -> list[float]:
        """Times of attempts with ``outcome`` ("accepted", "refused", "overload")."""
        start = self.restart_at if since is None else since
        return [a.time for a in self.attempts if a.outcome == outcome and a.time >= start]

    def back_times(self) -> dict[str, float]:
        """For each client that reconnected after the restart: when it did."""
        back: dict[str, float] = {}
        for a in self.attempts:
            if a.outcome == "accepted" and a.time >= self.restart_at and a.client not in back:
                back[a.client] = a.time
        return back

    @property
    def all_back_after(self) -> float | None:
        """Seconds from the server being up until the last client was back (None: not all)."""
        back = self.back_times()
        if len(back) < self.clients:
            return None
        return max(back.values()) - self.back_up_at

    @property
    def attempts_after_restart(self) -> int:
        return sum(1 for a in self.attempts if a.time >= self.restart_at)


def storm(
    stay_connected: StayConnected,
    make_backoff: MakeBackoff,
    *,
    clients: int = 10_000,
    seed: int = 0,
    downtime: float = 5.0,
    capacity: tuple[int, float] | None = None,
    crash_downtime: float = 5.0,
    latency: Latency | None = None,
    settle: float = 60.0,
) -> Storm:
    """Connect ``clients`` (spread over 5 s), restart the server at t=10 s for
    ``downtime`` s, and run ``settle`` s more. Deterministic for a given seed."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=latency or Latency(0.02, 0.03), capacity=capacity,
                       crash_downtime=crash_downtime)
    restart_at = 10.0
    until = restart_at + downtime + settle
    state = random.getstate()
    random.seed(seed)  # code that uses the random module directly stays reproducible
    collecting = gc.isenabled()
    gc.disable()  # the loop has no cycles left at close(): nothing for the GC to do
    started = time.perf_counter()
    try:
        for i in range(clients):
            backoff = make_backoff(random.Random(seed * 100_003 + i))
            coro = stay_connected(server.connector(f"client-{i}"), backoff, loop.sleep)
            loop.spawn(coro, f"client-{i}", at=loop.rng.uniform(0, 5.0))
        loop.call_at(restart_at, server.restart, downtime)
        loop.run(restart_at - 1e-9)
        connected = time.perf_counter()
        loop.run(until)
        errors = [t.error for t in loop.tasks if t.error is not None]
        result = Storm(clients, seed, restart_at, restart_at + downtime, until,
                       server.attempts, server.crashes, loop.events_run, errors,
                       setup_seconds=connected - started,
                       storm_seconds=time.perf_counter() - connected)
    finally:
        loop.close()
        random.setstate(state)
        if collecting:
            gc.enable()
    return result
