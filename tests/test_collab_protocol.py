"""The y-protocols helpers: the bytes pycrdt (and so Yjs) builds, strict and clear on garbage."""

from __future__ import annotations

import pytest
from pycrdt import (
    Awareness,
    Doc,
    Text,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    write_var_uint,
)

from rtlab.wire import yjs as protocol
from rtlab.wire.yjs import AwarenessEntry, ProtocolError


@pytest.mark.parametrize("number", [0, 1, 127, 128, 255, 16_383, 16_384, 2**32, 2**53 - 1])
def test_varuints_round_trip_and_match_pycrdt(number):
    encoded = protocol.encode_varuint(number)
    assert encoded == write_var_uint(number)
    assert protocol.read_varuint(encoded + b"rest") == (number, len(encoded))


def test_varuint_errors_say_what_is_wrong():
    with pytest.raises(ProtocolError, match="truncated varint at byte 0"):
        protocol.read_varuint(b"\x80\x80")
    with pytest.raises(ProtocolError, match="longer than 8 bytes"):
        protocol.read_varuint(b"\xff" * 9 + b"\x01")
    with pytest.raises(ProtocolError, match="larger than 2\\^53"):
        protocol.read_varuint(b"\xff" * 7 + b"\x7f")
    with pytest.raises(ValueError, match="negative"):
        protocol.encode_varuint(-1)


def edited_doc(client_id: int, words: str) -> Doc:
    doc: Doc = Doc(client_id=client_id)
    doc.get("text", type=Text).insert(0, words)
    return doc


def test_sync_messages_are_the_bytes_pycrdt_builds_and_parse_back():
    doc = edited_doc(5, "hello")
    step1 = protocol.sync_step1(doc.get_state())
    assert step1 == create_sync_message(doc)
    assert protocol.parse(step1) == protocol.Message("step1", doc.get_state())

    update = doc.get_update()
    assert protocol.sync_update(update) == create_update_message(update)
    assert protocol.parse(protocol.sync_update(update)).payload == update

    other = edited_doc(6, "world")
    reply = handle_sync_message(create_sync_message(other)[1:], doc)  # pycrdt's own step 2
    assert reply is not None
    assert reply == protocol.sync_step2(doc.get_update(other.get_state()))
    assert protocol.parse(reply).kind == "step2"


def test_awareness_entries_round_trip_with_pycrdts_awareness():
    doc = edited_doc(9, "x")
    awareness = Awareness(doc)
    awareness.set_local_state({"name": "Ada", "cursor": 3})
    payload = awareness.encode_awareness_update([9])
    message = create_awareness_message(payload)
    parsed = protocol.parse(message)
    assert parsed.kind == "awareness" and not parsed.is_sync
    entries = protocol.decode_awareness(parsed.payload)
    assert entries == [AwarenessEntry(9, 1, {"name": "Ada", "cursor": 3})]
    assert protocol.awareness(protocol.encode_awareness(entries)) == message
    gone = protocol.encode_awareness([AwarenessEntry(9, 2, None)])
    other = Awareness(Doc(client_id=10))
    other.apply_awareness_update(payload, "test")
    other.apply_awareness_update(gone, "test")
    assert 9 not in other.states


def test_state_vectors_decode():
    doc = edited_doc(3, "abc")
    assert protocol.decode_state_vector(doc.get_state()) == {3: 3}
    assert protocol.decode_state_vector(b"\x00") == {}


BAD = [
    (b"", "empty message"),
    (b"\x02\x00", "unknown message type 2"),
    (b"\x00\x03\x00", "unknown sync step 3"),
    (b"\x00\x00\x85", "truncated varint at byte 2"),
    (b"\x00\x02\x09abc", "says 9 bytes but only 3 follow"),
    (b"\x00\x02\x02\x00\x00!", "1 unexpected bytes after the update message"),
    (b"\x00\x02\x04\xff\xff\xff\xff", "not a valid Yjs update"),
    (b"\x00\x00\x02\x01\x05", "truncated varint"),  # a state vector cut short
    (b"\x01\x07\x01\x01\x01\x03abc", "not UTF-8 JSON"),
    (b"\x01\x06\x01\x01\x01\x02[]", "not an object or null"),
    (b"\x01\x03\x02\x01\x01", "truncated varint"),  # says 2 entries, holds less than 1
]


@pytest.mark.parametrize(("data", "reason"), BAD)
def test_garbage_is_refused_with_a_reason(data, reason):
    with pytest.raises(ProtocolError, match=reason):
        protocol.parse(data)


def test_not_bytes_is_refused():
    with pytest.raises(ProtocolError, match="expected bytes, got str"):
        protocol.parse("hello")  # type: ignore[arg-type]


def test_payload_checks_can_be_skipped_for_trusted_bytes():
    message = b"\x00\x02\x03abc"
    with pytest.raises(ProtocolError):
        protocol.parse(message)
    assert protocol.parse(message, check_update=False).payload == b"abc"


def test_describe_makes_timeline_lines():
    doc = edited_doc(4, "hi")
    assert protocol.describe(create_sync_message(doc)) == "sync step 1: state vector {4: 2}"
    assert protocol.describe(protocol.sync_step2(b"\x00\x00")) == (
        "sync step 2: update of 2 B (nothing missing)"
    )
    update = doc.get_update()
    assert protocol.describe(protocol.sync_update(update)) == f"sync update: {len(update)} B"
    entries = [AwarenessEntry(4, 1, {"name": "Bo"}), AwarenessEntry(5, 3, None)]
    line = protocol.describe(protocol.awareness(protocol.encode_awareness(entries)))
    assert line == 'awareness: 4 -> {"name":"Bo"}; 5 -> gone'
    assert protocol.describe(b"\x09").startswith("invalid (1 B): unknown message type 9")


def test_a_checked_message_is_remembered_and_a_refused_one_never_is():
    """The server checks each frame and its room parses it again: the second parse is a
    lookup, and it must give the same answer the check would."""
    update = protocol.sync_update(edited_doc(7, "hi").get_update())
    first = protocol.parse(update)
    assert protocol.parse(bytes(update)) is first
    broken = update[:-1]
    for _ in range(2):
        with pytest.raises(ProtocolError):
            protocol.parse(broken)
