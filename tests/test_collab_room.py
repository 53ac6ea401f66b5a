"""The reference room, on what a real y-websocket client does (beyond the grader's worlds)."""

from __future__ import annotations

from rtlab import course
from rtlab.learner import load_module
from rtlab.wire.yjs import (
    AwarenessEntry,
    awareness,
    decode_awareness,
    encode_awareness,
    parse,
)

solution = load_module(course.root() / "solutions" / "collab.py", "collab_room_solution")


def announce(client_id: int, clock: int, name: str) -> bytes:
    return awareness(encode_awareness([AwarenessEntry(client_id, clock, {"user": name})]))


def states_sent_on_join(room: object, client: str) -> dict[int, dict | None]:
    states = {}
    for to, message in room.join(client):  # type: ignore[attr-defined]
        parsed = parse(message)
        if to == client and parsed.kind == "awareness":
            states |= {e.client_id: e.state for e in decode_awareness(parsed.payload)}
    return states


def test_a_client_back_with_its_old_awareness_clock_is_visible_to_newcomers():
    # y-websocket 3.1 re-announces after a reconnect with the clock it had; the room's
    # removal bumped that client's clock, so without care the comeback is ignored.
    room = solution.Room()
    room.join("tab-1")
    room.receive("tab-1", announce(42, 3, "ada"))
    room.leave("tab-1")  # the link dropped: everyone is told ada is gone
    room.join("tab-1-again")
    room.receive("tab-1-again", announce(42, 3, "ada"))
    assert states_sent_on_join(room, "newcomer") == {42: {"user": "ada"}}


def test_a_departed_client_is_not_shown_to_newcomers():
    room = solution.Room()
    room.join("tab-1")
    room.receive("tab-1", announce(42, 1, "ada"))
    room.leave("tab-1")
    assert 42 not in states_sent_on_join(room, "newcomer")


def test_a_first_state_at_clock_0_is_ignored_as_yjs_does_and_its_leave_is_quiet():
    room = solution.Room()
    room.join("tab-1")
    room.join("other")
    room.receive("tab-1", announce(7, 0, "bob"))
    assert room.leave("tab-1") == []
    assert 7 not in states_sent_on_join(room, "newcomer")
