"""Scaffolding of the reconnection lesson (``notebooks/04-reconnection.py``).

The lesson shows the ideas; the plumbing lives here: one live restart watched
from outside (:func:`restart_storm`), the same storm in the simulation at
10,000 clients (:func:`simulate_storm`), the small simulations of the reset,
cap and refusal sections, the storm plot, and the lesson's checks of its own
claims. Every function takes the policy and the client loop as arguments, so
the notebook decides what runs: its own broken policies, a working one
(``rtlab.learner.load_working``), or the learner's code.

Two jittered policies the lesson compares, :class:`EqualJitter` and
:class:`DecorrelatedJitter` (Brooker, AWS, 2015), live here too: they are
correct answers to the exercise written differently, so the lesson shows
what they do, not their code.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rtlab.learner import describe_error, load_exercise
from rtlab.live import LiveServer
from rtlab.plots import arrival_histograms, peak_in_window
from rtlab.sim import Latency, SimLoop, SimServer
from rtlab.topics.reconnection.interface import (
    Backoff,
    BackoffClass,
    StayConnected,
    learner_code,
)
from rtlab.topics.reconnection.live import Fleet
from rtlab.topics.reconnection.sim import client_scenario

__all__ = ["DecorrelatedJitter", "EqualJitter", "LiveWorld", "Storm", "attempts_during_outage",
           "back_after_outage", "blip_after_outage", "check_herd", "check_live_storms",
           "check_simulated",
           "describe", "restart_storm", "show", "simulate_storm", "storm_of_your_code"]

NETWORK = Latency(0.02, 0.03)  # simulated one-way latency: 20-50 ms


# -- two more jittered policies (same constructor as the exercise's Backoff) -------------


class EqualJitter:
    """Half of the exponential ceiling fixed, plus a random half."""

    def __init__(self, base: float = 0.5, cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.base, self.cap, self.rng = base, cap, rng or random.Random()
        self.failures = 0

    def next_delay(self) -> float:
        ceiling: float = min(self.cap, self.base * 2.0 ** min(self.failures, 64))
        self.failures += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


class DecorrelatedJitter:
    """Random between ``base`` and three times the previous delay, capped."""

    def __init__(self, base: float = 0.5, cap: float = 30.0,
                 rng: random.Random | None = None) -> None:
        self.base, self.cap, self.rng = base, cap, rng or random.Random()
        self.delay = base

    def next_delay(self) -> float:
        self.delay = min(self.cap, self.rng.uniform(self.base, self.delay * 3))
        return self.delay

    def reset(self) -> None:
        self.delay = self.base


# -- one restart, seen from outside --------------------------------------------------------


@dataclass
class Storm:
    """One restart as seen from outside: times in seconds after the restart."""

    label: str
    attempts: list[float]  # every connection attempt, refused or not
    accepted: list[float]  # the attempts that got a connection
    crashes: list[float]  # when the server fell over
    clients: int
    connected: int  # clients connected when we stopped watching
    back_up: float  # when the restart was over

    def peak_after_back_up(self, window: float = 0.1) -> int:
        """Most attempts in any ``window`` seconds once the server was listening again."""
        return peak_in_window([t for t in self.attempts if t >= self.back_up], window)

    def during_restart(self) -> int:
        return sum(t < self.back_up for t in self.attempts)


@dataclass(frozen=True)
class LiveWorld:
    """The world of a restart storm, in seconds: the cold server, the restart, the
    backoff's settings. Scaled down for the live demos; the simulation reuses it."""

    clients: int = 200
    capacity: int = 60  # handshakes per 100 ms the freshly restarted server survives
    downtime: float = 1.2  # a restart: connections refused for this long
    crash_downtime: float = 0.7  # after falling over: refused for this long
    observe: float = 2.8  # how long to watch after the restart
    base: float = 0.5
    cap: float = 1.5
    seed: int = 7


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: on a busy kernel one of its passes can
    freeze the event loop for a few hundred ms, and every client timer that falls due
    meanwhile fires at once afterwards, a small herd that is not the lesson's."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _restart_and_watch(label: str, server: LiveServer, fleet: Fleet,
                             world: LiveWorld) -> Storm:
    server.capacity = (world.capacity, 0.1)  # cold from now on
    # The server and the fleet keep separate clocks: read both at the restart.
    since_server, since_fleet = server.elapsed(), fleet.elapsed()
    with _collector_paused():
        await server.restart(downtime=world.downtime)  # returns once every connection closed
        back_up = fleet.elapsed() - since_fleet + world.downtime
        await asyncio.sleep(world.observe)
    mine = [a for a in fleet.attempts if a.time >= since_fleet]
    return Storm(
        label,
        attempts=[a.time - since_fleet for a in mine],
        accepted=[a.time - since_fleet for a in mine if a.outcome == "open"],
        crashes=[t - since_server for t in server.crashes if t >= since_server],
        clients=fleet.count, connected=fleet.connected, back_up=back_up,
    )


async def restart_storm(label: str, policy: BackoffClass, stay_connected: StayConnected,
                        world: LiveWorld) -> Storm:
    """Connect ``world.clients`` real clients that use ``policy``, restart the server
    (every connection closed with 1001, refused for ``downtime``, then cold), watch,
    and stop everything. Names are fixed, so a re-run replaces the previous storm."""
    server = await LiveServer.start("storm-server", crash_downtime=world.crash_downtime,
                                    backlog=1024)  # the OS queue of not-yet-accepted connects
    fleet = await Fleet.start(
        server.url, stay_connected,
        lambda rng: policy(base=world.base, cap=world.cap, rng=rng),
        count=world.clients, ramp=0.1, seed=world.seed, name="storm-clients",
    )
    try:
        if not await fleet.wait_connected(timeout=15):
            raise RuntimeError(f"only {fleet.connected} of {world.clients} clients connected")
        return await _restart_and_watch(label, server, fleet, world)
    finally:
        await fleet.stop()  # raises what the clients' code raised, if anything
        await server.stop()


async def storm_of_your_code(world: LiveWorld) -> Storm | str:
    """The learner's Backoff and stay_connected in the live storm, or why not yet.

    A quick simulation first (4 clients, with a time limit), so code that is
    unfinished, raises or never awaits gets a message instead of hanging the kernel.
    """
    try:
        learner = learner_code(load_exercise("reconnection"))  # re-read on every run
        trial = client_scenario(learner, seed=1000)
        errors = trial.client_errors()
        problem = trial.error or (describe_error(errors[0][1]) if errors else None)
    except Exception as error:  # a syntax error, a failing import...
        problem = describe_error(error)
    if problem:
        return (f"Your code is not ready for the live storm yet:\n  {problem}\n"
                "Keep going in exercises/reconnection.py, then run this cell again.")
    try:
        return await restart_storm("your code", learner.Backoff, learner.stay_connected, world)
    except Exception as error:  # raised by the learner's code while it ran live
        return f"Your code raised while it ran live: {describe_error(error)}"


def describe(storm: Storm) -> str:
    back = "everyone back" if storm.connected == storm.clients else (
        f"{storm.connected:,} of {storm.clients:,} connected")
    return (f"{storm.label:24} crashes {len(storm.crashes)}   peak "
            f"{storm.peak_after_back_up():5,} per 100 ms once back up   attempts "
            f"{len(storm.attempts):7,}   {back}")


def check_herd(herd: Storm, capacity: int) -> None:
    """A crowd larger than the cold server's capacity, coming straight back, knocks it
    over; a smaller one does not, but still hammers it while it restarts."""
    if herd.clients > capacity:
        assert herd.crashes, "the immediate herd should have knocked the cold server over"
        assert herd.peak_after_back_up() > capacity, herd.peak_after_back_up()
    assert herd.during_restart() > 10 * herd.clients, "no pause: many attempts per client"


def check_live_storms(lockstep: list[Storm], jittered: Storm, capacity: int) -> None:
    """The live section's claims: every lockstep policy crashed the cold server; full
    jitter did not, stayed under its capacity, and brought (nearly) everyone back."""
    for storm in lockstep:
        if storm.clients > capacity:  # a crowd the cold server cannot take at once
            assert storm.crashes, f"{storm.label}: the herd should have crashed the server"
    assert not jittered.crashes, f"full jitter crashed the server at {jittered.crashes}"
    assert jittered.peak_after_back_up() < capacity, jittered.peak_after_back_up()
    assert jittered.connected >= 0.95 * jittered.clients, f"only {jittered.connected} back"


# -- the storm plot ----------------------------------------------------------------------------


def show(storms: list[Storm], title: str, *, capacity: int, crash_downtime: float,
         end: float, start: float = -0.2, clip: int = 5) -> None:
    """One panel per storm: attempts per 100 ms (light), accepted (dark), the capacity
    line, the restart (grey) and the time on the floor after each crash (red)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = arrival_histograms({s.label: s.attempts for s in storms}, start=start, end=end,
                             bin_width=0.1, title=title, capacity=capacity)
    bins = [start + 0.1 * i for i in range(round((end - start) / 0.1) + 1)]
    for ax, storm in zip(fig.axes, storms, strict=True):
        for bars in ax.patches:
            bars.set_color("#9ecbff")
        accepted = np.array([t for t in storm.accepted if start <= t <= end])
        ax.hist(accepted, bins=bins, color="#0550ae", histtype="stepfilled", linewidth=0)
        # Outages: a band behind the bars, and a strip along the top that bars cannot hide.
        outages = [(0.0, storm.back_up, "#d0d7de", "#8c959f")]
        outages += [(c, c + crash_downtime, "#ffcecb", "#cf222e") for c in storm.crashes]
        for begin, stop, light, strong in outages:
            ax.axvspan(begin, stop, color=light, linewidth=0, zorder=0)
            ax.axvspan(begin, stop, ymin=0.95, color=strong, linewidth=0, zorder=3)
        heading = f"{storm.label}: peak {storm.peak_after_back_up():,} per 100 ms once back up"
        top = ax.get_ylim()[1]
        if top > clip * capacity:  # a wall of retries would flatten everything else
            ax.set_ylim(0, clip * capacity)
            heading += f" (bars cut off at {clip * capacity:,})"
        else:
            ax.set_ylim(0, max(top, 1.3 * capacity))
        ax.set_title(heading, fontsize=9, loc="left")
        ax.set_ylabel("attempts\nper 100 ms", fontsize=8)
        ax.set_xlim(start, end)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()  # replaced by the figure's legend below
    fig.legend(
        handles=[Patch(color="#9ecbff", label="connection attempts"),
                 Patch(color="#0550ae", label="got a connection"),
                 Line2D([], [], color="#cf222e", linestyle="--", label="server capacity"),
                 Patch(color="#8c959f", label="restarting"),
                 Patch(color="#cf222e", label="crashed")],
        fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5, frameon=False,
    )
    plt.show()


# -- simulations -------------------------------------------------------------------------------


def _spawn_dropped(loop: SimLoop, server: SimServer, name: str, backoff: Backoff,
                   stay_connected: StayConnected) -> None:
    """A client whose connection a restart has just closed: its loop would now sleep
    ``backoff.next_delay()`` and go round. Starting its task that much later does the
    same, one coroutine frame cheaper (it adds up over 10,000 clients)."""
    connect = server.connector(name)
    loop.spawn(stay_connected(connect, backoff, loop.sleep), name,
               at=loop.now + backoff.next_delay())


def simulate_storm(label: str, policy: BackoffClass, stay_connected: StayConnected, *,
                   clients: int, capacity: int, until: float, world: LiveWorld) -> Storm:
    """The live storm in virtual time: ``clients`` clients, a cold server that survives
    ``capacity`` handshakes per 100 ms, the restart of ``world``, 20-50 ms latency."""
    loop = SimLoop(world.seed)
    server = SimServer(loop, latency=NETWORK, capacity=(capacity, 0.1),
                       crash_downtime=world.crash_downtime)
    server.restart(world.downtime)  # t = 0: every connection is gone, refused until downtime
    rng = random.Random(world.seed)  # one generator shared by all clients: every draw differs
    with _collector_paused():  # speed only: 10,000 coroutines would make it rescan them
        for i in range(clients):
            backoff = policy(base=world.base, cap=world.cap, rng=rng)
            _spawn_dropped(loop, server, f"client-{i}", backoff, stay_connected)
        loop.run(until)
        attempts = server.attempts
        storm = Storm(label, attempts=[a.time for a in attempts],
                      accepted=[a.time for a in attempts if a.outcome == "accepted"],
                      crashes=list(server.crashes), clients=clients,
                      connected=server.connections, back_up=world.downtime)
        loop.close()
    return storm


def check_simulated(no_jitter: Storm, jittered: list[Storm], cap: float) -> None:
    """The 10,000-client claims: no jitter crashes the server again and again and leaves
    clients out; every jittered crowd is back without a crash, within about ``cap`` of
    the server being up, for fewer attempts."""
    assert len(no_jitter.crashes) >= 2 and no_jitter.connected < no_jitter.clients
    for storm in jittered:
        assert not storm.crashes and storm.connected == storm.clients, describe(storm)
        last = max(storm.accepted)
        assert last <= storm.back_up + cap + 0.2, f"{storm.label}: last back at {last:.2f} s"
    assert len(no_jitter.attempts) > max(len(s.attempts) for s in jittered)


def _cut_everyone(server: SimServer, names: list[str]) -> None:
    for name in names:
        link = server.link_of(name)
        assert link is not None, f"{name} should have been connected before the blip"
        link.drop()  # no close frame: each side sees 1006 after one network delay


def blip_after_outage(policy: BackoffClass, stay_connected: StayConnected, *, cap: float,
                      clients: int = 100, seed: int = 7) -> list[float]:
    """Seconds until each client is back after a one-off cut, three minutes after a
    2-minute outage (sorted). A backoff that forgets to reset still counts the outage."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=NETWORK)
    rng = random.Random(seed)
    names = [f"client-{i}" for i in range(clients)]
    for name in names:
        backoff = policy(base=0.5, cap=cap, rng=rng)
        loop.spawn(stay_connected(server.connector(name), backoff, loop.sleep), name,
                   at=rng.uniform(0, 1))
    loop.call_at(5, server.go_down)  # a 2-minute outage...
    loop.call_at(125, server.go_up)
    blip = 305.0  # ...and, three minutes after it, one cut per connection
    loop.call_at(blip, _cut_everyone, server, names)
    loop.run(blip + 4 * cap + 60)
    back: dict[str, float] = {}
    for a in server.attempts:
        if a.outcome == "accepted" and a.time > blip:
            back.setdefault(a.client, a.time - blip)
    loop.close()
    assert len(back) == clients, "everyone comes back after the blip"
    return sorted(back.values())


def back_after_outage(policy: BackoffClass, stay_connected: StayConnected, *, outage: float,
                      cap: float, clients: int = 100, seed: int = 7) -> list[float]:
    """Seconds after an outage of ``outage`` s until each client is back (sorted)."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=NETWORK)
    rng = random.Random(seed)
    for i in range(clients):
        backoff = policy(base=0.5, cap=cap, rng=rng)
        _spawn_dropped(loop, server, f"client-{i}", backoff, stay_connected)
    server.restart(outage)
    loop.run(outage + 24 * 3600)  # a day: nothing is left running by then
    back: dict[str, float] = {}
    for a in server.attempts:
        if a.outcome == "accepted":
            back.setdefault(a.client, a.time - outage)
    loop.close()
    return sorted(back.values())


def attempts_during_outage(policy: BackoffClass, stay_connected: StayConnected, *,
                           outage: float = 60.0, seed: int = 7) -> int:
    """Connection attempts one client makes while the server is down for ``outage`` s."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=NETWORK)
    backoff = policy(base=0.5, cap=30.0, rng=random.Random(seed))
    _spawn_dropped(loop, server, "client", backoff, stay_connected)
    server.restart(outage)
    loop.run(outage)
    loop.close()
    return len(server.attempts)
