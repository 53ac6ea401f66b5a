"""Module 08 live: real loopback WebSockets, a stalled reader, bad input, a learner's room."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

from rtlab.learner import load_module
from rtlab.topics.backpressure.live import SqliteStore, feed_demo, room_demo

ROOT = Path(__file__).resolve().parent.parent


def test_a_stalled_reader_is_resynced_bad_input_is_closed_and_the_rest_get_everything():
    reference = load_module(ROOT / "solutions" / "backpressure.py", "bp_live_reference")
    report = asyncio.run(room_demo(reference.Room, seconds=2.0))
    assert report.codes["stalled"] == 4000, report.summary()
    assert (report.codes["big"], report.codes["garbage"], report.codes["flooder"]) == (
        1009, 1007, 4029), report.summary()
    viewers = {name: kinds for name, kinds in report.received.items()
               if name.startswith("viewer")}
    events = {kinds.get("event") for kinds in viewers.values()}
    assert len(events) == 1 and events.pop() >= report.sent["event"], report.summary()
    assert all(report.last_cursor[name] == report.final_cursor for name in viewers)
    cursors = max(kinds.get("cursor", 0) for kinds in viewers.values())
    assert cursors <= report.sent["cursor"] / 3, "cursors should be throttled to ~20/s"
    assert report.queries <= len(report.received) + 3, "queries should not grow per message"
    assert report.encodes <= report.publishes and not report.errors


def test_the_untouched_stub_runs_live_and_its_todo_is_reported_not_raised():
    stub = load_module(ROOT / "exercises" / "backpressure.py", "bp_live_stub")
    report = asyncio.run(room_demo(stub.Room, seconds=0.5, bad_input=False))
    assert report.errors and all("TODO" in error for error in report.errors), report.errors


def test_broadcast_to_a_stalled_reader_grows_memory_and_a_bounded_outbox_does_not():
    async def both():  # type: ignore[no-untyped-def]
        grown = await feed_demo("broadcast", seconds=1.5)
        bounded = await feed_demo("outbox-drop-oldest", seconds=1.5, max_bytes=256 * 1024)
        return grown, bounded

    grown, bounded = asyncio.run(both())
    assert grown.growth()[2] > 1.5 * 2**20, grown.summary()  # ~1.6 MB/s for 1.5 s unsent
    assert bounded.growth()[2] < 0.8 * 2**20, bounded.summary()
    assert bounded.received == grown.received == 5 * grown.published
    # The demo traces allocations while it runs, and must not leave tracing on: it slows
    # everything after it several times over (the capstone grade went from 5 s to 36 s).
    assert not tracemalloc.is_tracing()


def test_a_send_loop_waits_for_the_stalled_reader_and_starves_everyone():
    report = asyncio.run(feed_demo("send-loop", seconds=1.5))
    assert report.published < 0.3 * 1.5 * 200, report.summary()


def test_the_sqlite_store_counts_every_query():
    store = SqliteStore({"ana": True, "bo": False})
    assert store.can_read("ana") and not store.can_read("bo") and not store.can_read("cy")
    store.allow("bo", True)
    assert store.readers() == {"ana", "bo"} and store.queries == 4
