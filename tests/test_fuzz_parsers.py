"""Every parser a client can reach, fuzzed with Hypothesis (unit level, no sockets).

The property is the same everywhere: whatever the input, the parser returns a value
within its stated bounds or refuses with its own error type and a reason; nothing
else ever comes out (no RecursionError, UnicodeError, IndexError, OverflowError...).
`make fuzz` runs these with 10x the examples (see tests/fuzzing.py).
"""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import HTTPBadRequest
from fuzzing import fuzz, hostile_json_bytes, hostile_json_text, json_values, nested_json
from hypothesis import event, example, given
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, Text

from rtlab.topics.ordering_and_rooms.live import _parse as parse_room_request
from rtlab.topics.presence.live import MAX_USER_LENGTH, parse_hello
from rtlab.topics.scaling_out.live import is_stream_id
from rtlab.topics.server_sent_events.live import MAX_LAST_EVENT_ID, refuse_last_event_id
from rtlab.topics.transports.live import _after
from rtlab.wire import yjs
from rtlab.wire.bounded_json import JSONRefused, depth, loads_bounded
from rtlab.wire.sse import EventParser, format_event, normalize_newlines
from rtlab.wire.websocket import MAX_CLOSE_REASON, close_reason

# -- bounded JSON ------------------------------------------------------------------------


@fuzz(200)
@given(st.one_of(hostile_json_text, hostile_json_bytes))
def test_loads_bounded_returns_portable_bounded_json_or_refuses(data: str | bytes) -> None:
    try:
        value = loads_bounded(data, max_depth=16, max_bytes=4096)
    except JSONRefused as error:
        assert str(error) and error.problem in ("syntax", "size", "depth", "number", "encoding")
        event(f"refused: {error.problem}")
        return
    event("parsed")
    assert depth(value) <= 16
    json.dumps(value, allow_nan=False)  # what a browser's JSON.parse can read back


@fuzz(100)
@given(json_values)
def test_loads_bounded_reads_back_any_json_within_the_bounds(value: object) -> None:
    text = json.dumps(value)
    assert loads_bounded(text, max_depth=64, max_bytes=1 << 20) == value


@fuzz(50)
@given(nested_json(min_depth=17, max_depth=5000))
def test_anything_deeper_than_the_bound_is_refused_as_too_deep(text: str) -> None:
    with pytest.raises(JSONRefused) as refused:
        loads_bounded(text, max_depth=16, max_bytes=1 << 20)
    assert refused.value.problem == "depth"


# -- y-protocols -------------------------------------------------------------------------

V = yjs.encode_varuint


@st.composite
def yjs_updates(draw: st.DrawFn) -> bytes:
    """A real Yjs update: a few random edits by a random client."""
    doc: Doc = Doc(client_id=draw(st.integers(0, 2**32)))
    text = doc.get("text", type=Text)
    for insert, at, chunk in draw(st.lists(
            st.tuples(st.booleans(), st.integers(0, 50),
                      st.text(alphabet="abc ", min_size=1, max_size=5)),
            max_size=5)):
        if insert or not len(text):
            text.insert(min(at, len(text)), chunk)
        else:
            start = min(at, len(text) - 1)
            del text[start:start + 1]
    # Map and array contents too: lib0 "any" values, nested types (check_clocks skips them).
    shared = doc.get("map", type=Map)
    for key, value in draw(st.dictionaries(st.text(max_size=3), any_values, max_size=2)).items():
        shared[key] = value
    if draw(st.booleans()):
        doc.get("list", type=Array).append(Map({"nested": draw(any_values)}))
    return doc.get_update()


# What pycrdt stores as lib0 "any": JSON-like values, integers of up to 64 bits, bytes.
any_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False), st.text(max_size=5), st.binary(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8,
)


awareness_entries = st.lists(
    st.builds(yjs.AwarenessEntry, st.integers(0, 2**53 - 1), st.integers(0, 2**53 - 1),
              st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_values,
                                                   max_size=3))),
    max_size=4,
)

valid_messages = st.one_of(
    yjs_updates().map(yjs.sync_update),
    yjs_updates().map(yjs.sync_step2),
    st.dictionaries(st.integers(0, 2**53 - 1), st.integers(0, 2**53 - 1), max_size=4).map(
        lambda sv: yjs.sync_step1(V(len(sv)) + b"".join(V(c) + V(k) for c, k in sv.items()))),
    awareness_entries.map(lambda entries: yjs.awareness(yjs.encode_awareness(entries))),
)


@st.composite
def mutated(draw: st.DrawFn, messages: st.SearchStrategy[bytes]) -> bytes:
    """A valid message, then truncated, with a byte changed, inserted or appended."""
    data = bytearray(draw(messages))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["truncate", "flip", "insert", "append"]))
        at = draw(st.integers(0, len(data)))
        if how == "truncate":
            del data[at:]
        elif how == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            data.insert(at, draw(st.integers(0, 255)))
        else:
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


huge_varints = st.one_of(
    st.integers(2**53, 2**70).map(V),
    st.integers(9, 40).map(lambda n: b"\xff" * n + b"\x01"),
    st.integers(1, 40).map(lambda n: b"\x80" * n),  # never ends
)


@st.composite
def awareness_with_state(draw: st.DrawFn) -> bytes:
    """An awareness message whose one state is hostile JSON (deep, NaN, not UTF-8...)."""
    state = draw(hostile_json_bytes)
    entry = V(draw(st.integers(0, 2**53 - 1))) + V(draw(st.integers(0, 10))) + yjs.varbytes(state)
    return yjs.awareness(V(draw(st.integers(1, 2))) + entry)


frames = st.one_of(
    st.binary(max_size=64),
    valid_messages,
    mutated(valid_messages),
    st.tuples(st.sampled_from([b"", b"\x00", b"\x00\x00", b"\x00\x01", b"\x01"]), huge_varints,
              st.binary(max_size=8)).map(b"".join),
    awareness_with_state(),
    st.tuples(st.integers(0, 2), st.binary(max_size=40)).map(
        lambda sp: bytes((0, sp[0])) + yjs.varbytes(sp[1])),  # sync, random payload
)


@fuzz(500)
@given(frames)
@example(b"\x01" + yjs.varbytes(V(1) + V(7) + V(1) + yjs.varbytes(b"[" * 1000 + b"]" * 1000)))
def test_yjs_parse_returns_a_message_or_a_protocol_error(frame: bytes) -> None:
    try:
        message = yjs.parse(frame)
    except yjs.ProtocolError as error:
        assert str(error)
        event("refused: " + ("awareness state" if "awareness entry" in str(error)
                             else "update" if "Yjs update" in str(error)
                             else "framing"))
    else:
        event(f"parsed: {message.kind}")
        if message.kind == "awareness":
            entries = yjs.decode_awareness(message.payload)
            assert len(entries) <= yjs.MAX_AWARENESS_ENTRIES
            for entry in entries:
                assert entry.state is None or depth(entry.state) <= yjs.MAX_STATE_DEPTH
    assert isinstance(yjs.describe(frame), str)  # timelines never fail on a frame


@fuzz(100)
@given(valid_messages)
def test_every_message_pycrdt_and_the_encoders_build_parses(frame: bytes) -> None:
    yjs.parse(frame)


@fuzz(100)
@given(awareness_entries)
def test_awareness_entries_round_trip(entries: list[yjs.AwarenessEntry]) -> None:
    parsed = yjs.decode_awareness(yjs.encode_awareness(entries))
    assert [(e.client_id, e.clock) for e in parsed] == [(e.client_id, e.clock) for e in entries]
    for got, sent in zip(parsed, entries, strict=True):
        assert json.dumps(got.state, sort_keys=True) == json.dumps(sent.state, sort_keys=True)


# -- Server-Sent Events --------------------------------------------------------------------


@fuzz(200)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)), st.data())
def test_the_sse_parser_takes_any_bytes_in_any_chunks(stream: str | bytes, data: st.DataObject
                                                      ) -> None:
    whole = EventParser().feed(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    parser = EventParser()
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    chunked = [event for piece in pieces for event in parser.feed(piece)]
    assert chunked == whole


@fuzz(100)
@given(st.text(max_size=50), st.text(max_size=10).filter(lambda s: not set(s) & set("\r\n\0")))
def test_sse_events_arrive_as_sent_newlines_normalised(data: str, event_id: str) -> None:
    events = EventParser().feed(format_event(data, event_id=event_id))
    assert [(e.data, e.id) for e in events] == [(normalize_newlines(data), event_id)]


@fuzz(200)
@given(st.one_of(st.text(max_size=2000), st.binary(max_size=50).map(
    lambda b: b.decode("utf-8", "surrogateescape"))))  # what aiohttp makes of non-UTF-8 bytes
@example("9" * 8000)
def test_last_event_id_is_refused_with_a_reason_or_passed_on_sendable(last_id: str) -> None:
    why = refuse_last_event_id(last_id)
    if not why:
        assert len(last_id) <= MAX_LAST_EVENT_ID
        last_id.encode("utf-8")  # the log may echo it in a response


# -- routing messages of later modules -------------------------------------------------------


@fuzz(200)
@given(st.one_of(hostile_json_text, hostile_json_bytes,
                 st.fixed_dictionaries({"type": st.sampled_from(["join", "send", "leave", 1]),
                                        "room": st.one_of(st.text(max_size=5), json_values),
                                        "id": json_values, "body": json_values,
                                        "since": json_values}).map(json.dumps)))
def test_room_requests_parse_or_are_refused_with_a_reason(frame: str | bytes) -> None:
    request, why = parse_room_request(frame)
    if request is None:
        assert why
    else:
        assert request["type"] in ("join", "send") and isinstance(request["room"], str)


@fuzz(200)
@given(st.one_of(hostile_json_text, hostile_json_bytes,
                 st.fixed_dictionaries({"hello": json_values}).map(json.dumps),
                 st.fixed_dictionaries({"watch": json_values}).map(json.dumps)))
def test_presence_hellos_parse_or_are_refused_with_a_reason(frame: str | bytes) -> None:
    hello, why = parse_hello(frame)
    if hello is None:
        assert why
    elif not hello.get("watch"):
        user = hello["hello"]
        assert isinstance(user, str) and 1 <= len(user) <= MAX_USER_LENGTH


@fuzz(150)
@given(st.one_of(st.text(max_size=20), st.integers(-5, 10**14).map(str)))
@example("²")
@example("١٢")
def test_transports_after_is_a_small_ascii_number_or_a_400(after: str) -> None:
    request = make_mocked_request("GET", "/poll", headers={})
    request = request.clone(rel_url=request.rel_url.with_query(after=after))
    try:
        number = _after(request)
    except HTTPBadRequest:
        return
    assert 0 <= number < 10**12 and after.isascii()


@fuzz(150)
@given(st.one_of(st.text(max_size=30),
                 st.tuples(st.integers(0, 2**70), st.integers(0, 2**70)).map(
                     lambda t: f"{t[0]}-{t[1]}")))
@example("١-١")
def test_stream_ids_are_ascii_and_fit_redis(text: str) -> None:
    if is_stream_id(text):
        ms, _, seq = text.partition("-")
        assert text.isascii() and int(ms) < 2**64 and int(seq) < 2**64


@fuzz(150)
@given(st.text(max_size=400))
def test_close_reasons_always_fit_a_close_frame(reason: str) -> None:
    cut = close_reason(reason)
    assert len(cut.encode("utf-8")) <= MAX_CLOSE_REASON
    if len(reason.encode("utf-8", "replace")) <= MAX_CLOSE_REASON:
        assert cut == reason.encode("utf-8", "replace").decode("utf-8")
