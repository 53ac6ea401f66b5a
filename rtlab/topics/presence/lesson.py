"""Scaffolding of the presence lesson (``notebooks/06-presence``).

Plots, tables, the plumbing of the awareness demo, the learner's trial run and the
checks of what the lesson's prose claims live here, so that the lesson's cells show
only what they teach.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure
from pycrdt import Awareness

from rtlab.learner import describe_error, load_exercise
from rtlab.topics.presence.interface import Tracker
from rtlab.topics.presence.live import LiveRun, Plan, RosterView, roster_demo
from rtlab.topics.presence.sim import Costs, Schedule, presence_timeline, scenario

__all__ = ["AwarenessRoom", "check_roster", "check_tradeoff", "pick_users", "print_costs",
           "show_timelines", "throttle_table", "tradeoff_plot", "try_your_tracker"]

# Ten users worth watching: how many of each role the timeline shows.
SHOWN_ROLES = (("blipper", 3), ("handoff", 2), ("multitab", 1), ("leaver", 2), ("crasher", 2))


def pick_users(run: LiveRun, per_role: Sequence[tuple[str, int]] = SHOWN_ROLES) -> list[str]:
    """A few users of each role, in a stable order."""
    users: list[str] = []
    for role, count in per_role:
        users += sorted(u for u, r in run.roles.items() if r == role)[:count]
    return users


def show_timelines(runs: Sequence[LiveRun], users: Sequence[str], *, end: float,
                   title: str) -> Figure:
    """One panel per live run: the users' connections against what observers saw."""
    roles = runs[0].roles
    return presence_timeline(
        {run.label: (run.spans, run.events) for run in runs}, users, start=0, end=end,
        labels={u: f"{u} ({roles[u]})" for u in users}, title=title,
    )


LONGEST_BLIP = 0.6  # the live crowd's blippers are back within 0.1-0.6 s (crowd_plans)


def check_roster(run: LiveRun, immediate: LiveRun, *, grace: float, ttl: float) -> None:
    """Check a live run against the lesson's claims for it.

    A grace period longer than every blip absorbs them (at most a quarter of the flicker
    immediate removal showed); with a finite TTL there are no ghosts and every
    observer's roster ends equal to the truth, without one the crashed tabs stay. The
    flicker is only checked for a grace covering every blip, so that a learner who
    tries a shorter one is not stopped by an assert.
    """
    crashers = {user for user, role in run.roles.items() if role == "crasher"}
    if grace >= LONGEST_BLIP:
        assert run.flicker <= max(4, immediate.flicker // 4), "the grace period absorbs blips"
    if math.isinf(ttl):
        assert run.ghosts == crashers, "no heartbeat TTL: crashed tabs are still ghosts"
        return
    assert not run.ghosts, f"ghosts left: {sorted(run.ghosts)}"
    assert not run.missing, f"missing from a roster: {sorted(run.missing)}"
    assert all(roster == run.present for roster in run.rosters)


def print_costs(day: Schedule, costs: Sequence[tuple[float, Costs]]) -> None:
    """The grace-period table: flicker and linger for each grace period."""
    print(f"{len(day.users)} users, {len(day.departures)} real departures, "
          f"{len(day.conns)} connections in {day.until / 60:.0f} min")
    print(f"{'grace':>6} {'flicker events':>15} {'per user-hour':>14} "
          f"{'linger: closed':>15} {'linger: crashed':>16}")
    for grace, c in costs:
        print(f"{grace:>5g}s {c.flicker:>15,} {c.flicker_per_user_hour:>14.1f} "
              f"{c.linger_close:>14.1f}s {c.linger_crash:>15.1f}s")


def tradeoff_plot(costs: Sequence[tuple[float, Costs]], *, ttl: float) -> Figure:
    """Flicker per user-hour against how long departed users linger, one dot per grace."""
    graces = [grace for grace, _ in costs]
    linger = [(c.linger_close + c.linger_crash) / 2 for _, c in costs]
    flicker = [c.flicker_per_user_hour for _, c in costs]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(linger, flicker, marker="o", color="#0969da")
    for grace, x, y in zip(graces, linger, flicker, strict=True):
        ax.annotate(f"{grace:g} s", (x, y), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    if 5 in graces and 10 in graces:  # the usual advice for an online list
        five, ten = linger[graces.index(5)], linger[graces.index(10)]
        ax.axvspan(five, ten, color="#1a7f37", alpha=0.12, linewidth=0)
        ax.annotate("presence:\ngrace 5-10 s", (five + 0.3, max(flicker) * 0.75), fontsize=8,
                    color="#1a7f37")
    ax.set_xlabel("how long a departed user lingers on the list (s, mean of closed and crashed)")
    ax.set_ylabel("flicker events\nper user-hour")
    ax.set_title(f"The grace-period trade-off (labels: grace period; TTL {ttl:g} s)",
                 fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def check_tradeoff(costs: Sequence[tuple[float, Costs]], ttl: float) -> dict[float, float]:
    """Check the lesson's reading of the curve; return the share of flicker each grace removes.

    The prose says: 1 s of grace removes about a third of the flicker, 5 s more than
    two thirds, 10 s about nine tenths; crashed tabs linger a TTL longer than closed
    ones; nobody is left as a ghost.
    """
    by_grace = dict(costs)
    base = by_grace[0].flicker
    removed = {grace: 1 - c.flicker / base for grace, c in costs}
    assert 0.25 <= removed[1] <= 0.45, removed
    assert 0.67 <= removed[5] <= 0.8, removed
    assert 0.85 <= removed[10] <= 0.95, removed
    for _, c in costs:
        assert c.ghosts == 0
        assert abs(c.linger_crash - c.linger_close - ttl) < 1.0, (c.linger_crash, c.linger_close)
    return removed


class AwarenessRoom:
    """A room's pycrdt ``Awareness`` and its clients, with the relay a server would do."""

    def __init__(self, room: Awareness) -> None:
        self.room = room
        self.clients: dict[str, Awareness] = {}
        self.changes: list[tuple[dict[str, list[int]], str]] = []
        room.observe(self._seen)

    def _seen(self, topic: str, change: Any) -> None:
        if topic == "change":
            self.changes.append(change)

    def add(self, name: str, client: Awareness) -> None:
        """A client joins: its state reaches the room."""
        self.clients[name] = client
        self.relay(name)

    def relay(self, name: str) -> None:
        """What the server does with a client's awareness message: apply it to the room."""
        client = self.clients[name]
        self.room.apply_awareness_update(client.encode_awareness_update([client.client_id]), name)

    def show(self) -> None:
        for client_id, state in sorted(self.room.states.items()):
            user, cursor = state["user"], state["cursor"]["index"]
            print(f"  {client_id}: {user['name']:4} {user['colour']}  cursor at {cursor}")

    def print_changes(self) -> None:
        for change, origin in self.changes:
            print(f"  change from {origin}: {change}")

    async def time_ghost(self, silent: str, limit: float = 5.0) -> float:
        """Seconds until the room drops ``silent``, while every other client keeps renewing.

        Runs the awareness loops of the room and of the others (``Awareness.start``),
        then stops them.
        """
        for name in self.clients:  # everyone is fresh; then ``silent`` says nothing more
            self.clients[name].set_local_state(self.clients[name].get_local_state())
            self.relay(name)
        talking = [name for name in self.clients if name != silent]
        renewals = {name: self.clients[name].observe(self._renewal(name)) for name in talking}
        awake = [self.room, *(self.clients[name] for name in talking)]
        loops = [asyncio.create_task(a.start()) for a in awake]
        loop = asyncio.get_running_loop()
        gone = self.clients[silent].client_id
        started = loop.time()
        while gone in self.room.states and loop.time() - started < limit:
            await asyncio.sleep(0.02)
        lasted = loop.time() - started
        await asyncio.sleep(0.3)  # the others keep renewing meanwhile
        for awareness in awake:
            await awareness.stop()
        await asyncio.gather(*loops, return_exceptions=True)
        for name, subscription in renewals.items():
            self.clients[name].unobserve(subscription)
        return lasted

    def _renewal(self, name: str) -> Callable[[str, Any], None]:
        def renewed(topic: str, change: Any) -> None:
            if topic == "update":
                self.relay(name)
        return renewed

    def follow_presence(self, tracker: Tracker, user: str, client_of: dict[str, int],
                        calls: Iterable[tuple[float, str, str | None]]) -> None:
        """Replay ``calls`` (time, method, connection) through ``tracker`` for ``user``, and
        remove a user's awareness state when the tracker announces their leave."""
        for now, call, conn in sorted(calls, key=lambda c: c[0]):
            if call == "tick":
                events = tracker.tick(now)
            else:
                assert conn is not None
                events = getattr(tracker, call)(user, conn, now)
            if call in ("connect", "disconnect") or events:
                what = "tick" if call == "tick" else f"{call}({user!r}, {conn!r})"
                print(f"t={now:4.1f} s  {what} -> {events}")
            for kind, who in events:
                if kind == "leave":
                    self.room.remove_awareness_states([client_of[who]], "presence leave")
                    print(f"{'':10}removed {who}'s awareness state; the room now shows:")
                    self.show()


def throttle_table(rows: Sequence[tuple[str, int]], people: int) -> None:
    """Messages sent per person and delivered in a room where each goes to everyone else."""
    print(f"{'cursor channel':24}{'sent per person':>16}{'delivered in the room':>23}")
    for label, sent in rows:
        print(f"{label:24}{sent:>16,}{sent * people * (people - 1):>23,}")


async def try_your_tracker(plans: Sequence[Plan], *, grace: float, ttl: float, seed: int,
                           duration: float, heartbeat: float) -> LiveRun | None:
    """Run the learner's tracker on one graded schedule, then, if it holds, in the roster.

    Unfinished or crashing code gets a message instead of a broken demo.
    """
    problem = None
    try:
        learner = load_exercise("presence")
        trial = scenario(learner, seed=5000)  # one graded schedule, with a time limit
        problem = trial.error
        if problem is None and trial.trace is not None and trial.trace.error is not None:
            problem = f"{trial.trace.error_call} raised {describe_error(trial.trace.error)}"
    except Exception as error:  # a syntax error, a failing import...
        problem = describe_error(error)
    if problem:
        print("Your tracker is not ready for the live roster yet:")
        print(" ", problem)
        print("Keep going in exercises/presence.py, then run this cell again.")
        return None
    view = RosterView([plan.user for plan in plans], "your tracker")
    display(view)  # type: ignore[no-untyped-call]
    try:
        mine = await roster_demo(
            learner.PresenceTracker(grace=grace, ttl=ttl), label="your tracker",
            users=len(plans), seed=seed, duration=duration, heartbeat=heartbeat, view=view,
        )
    except Exception as error:
        print("Your tracker raised in the live roster:", describe_error(error))
        return None
    print(mine.summary())
    return mine

