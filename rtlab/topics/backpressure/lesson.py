"""Helpers of lesson 08 (backpressure): the sums behind its prose, printed from the run,
so that the lesson's cells stay about the server and its numbers never go stale."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence

from rtlab.topics.backpressure.live import FanoutCost, FeedReport
from rtlab.topics.backpressure.sim import CursorTraffic

__all__ = [
    "PING_WINDOW", "describe_backlog", "describe_cursors", "describe_fanout",
    "stop_tracing_memory",
]

MiB = 2**20
# websockets' defaults: a ping every 20 s, 20 s to answer it. A stalled client whose
# socket stays open is noticed this long after it stopped reading, at worst.
PING_WINDOW = 40.0


def describe_backlog(feed: FeedReport) -> str:
    """How fast the stalled client's backlog grew, and what that costs until a ping
    timeout would close it."""
    unsent = feed.growth()[2]
    per_second = unsent / max(feed.seconds, 1e-9)
    return (f"the stalled client's backlog grew {per_second / MiB:.1f} MiB/s; over the "
            f"{PING_WINDOW:.0f} s a ping timeout takes to notice, that is "
            f"{per_second * PING_WINDOW / MiB:.0f} MiB for one client")


def describe_fanout(costs: Sequence[FanoutCost]) -> str:
    """The largest room, both ways: queries, serialisations, time, and the naive cost
    per member."""
    largest = max(c.members for c in costs)
    naive = next(c for c in costs if c.members == largest and c.how == "per recipient")
    once = next(c for c in costs if c.members == largest and c.how == "once")
    per_member_us = naive.ms_per_broadcast * 1000 / largest
    return (f"{largest:,} members: per recipient {naive.queries_per_broadcast:,.0f} queries, "
            f"{naive.encodes_per_broadcast:,.0f} serialisations, "
            f"{naive.ms_per_broadcast:.0f} ms; once: {once.queries_per_broadcast:.0f} query, "
            f"{once.encodes_per_broadcast:.0f} serialisation, {once.ms_per_broadcast:.1f} ms "
            f"({naive.ms_per_broadcast / once.ms_per_broadcast:.0f}x less); the naive "
            f"broadcast costs {per_member_us:.0f} us per member")


def describe_cursors(rows: Sequence[CursorTraffic]) -> str:
    """Each throttle against sending every move: share of the traffic, lag, final position."""
    every = next(r for r in rows if r.policy == "every move")
    lines = []
    for r in rows:
        if r is every:
            continue
        share = every.messages_per_s / max(r.messages_per_s, 1e-9)
        final = "ends where the mouse stopped" if r.final_shown else "never shows where it stopped"
        lines.append(f"{r.policy}: 1/{share:.1f} of the messages, lag {r.lag_mean_ms:.0f} ms "
                     f"on average and {r.lag_max_ms:.0f} ms at worst; {final}")
    return "\n".join(lines)


def stop_tracing_memory() -> None:
    """End the allocation tracing the feed demos started: it slows every allocation
    several times over, and would inflate the timings measured after it."""
    if tracemalloc.is_tracing():
        tracemalloc.stop()
