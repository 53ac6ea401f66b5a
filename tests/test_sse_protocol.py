"""rtlab.wire.sse writes and reads text/event-stream the way the WHATWG HTML standard says.

The expected values come from the standard's "interpreting an event stream"
algorithm and its worked examples, not from our own formatter.
"""

from __future__ import annotations

import random

import pytest

from rtlab.wire.sse import (
    Event,
    EventParser,
    format_comment,
    format_event,
    format_retry,
    normalize_newlines,
    parse_stream,
)


def feed_in_pieces(text: str | bytes, cuts: list[int]) -> list[Event]:
    parser = EventParser()
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        events += parser.feed(text[start:cut])
        start = cut
    return events


# --- the standard's own examples ---------------------------------------------------


def test_standard_example_multi_line_data_is_joined_with_newlines():
    stream = "data: YHOO\ndata: +2\ndata: 10\n\n"
    assert parse_stream(stream) == [Event(data="YHOO\n+2\n10")]


def test_standard_example_ids_persist_and_an_empty_id_resets_them():
    stream = (
        ": test stream\n\n"
        "data: first event\nid: 1\n\n"
        "data:second event\nid\n\n"
        "data:  third event\n\n"
    )
    first, second, third = parse_stream(stream)
    assert first == Event(data="first event", id="1", has_own_id=True)
    assert second == Event(data="second event", id="", has_own_id=True)
    # Only ONE leading space is removed.
    assert third == Event(data=" third event", id="", has_own_id=False)


def test_standard_example_data_fields_without_values():
    stream = "data\n\ndata\ndata\n\ndata:"
    events = parse_stream(stream)
    # An unterminated last block is never dispatched.
    assert [e.data for e in events] == ["", "\n"]


def test_standard_example_space_after_colon_is_optional():
    assert parse_stream("data:test\n\ndata: test\n\n") == [Event("test"), Event("test")]


# --- line endings and chunking -----------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_every_line_ending_works(newline):
    stream = newline.join(["event: tick", "id: 7", "data: a", "data: b", "", ""])
    assert parse_stream(stream) == [Event("a\nb", event="tick", id="7", has_own_id=True)]


def test_a_crlf_split_across_chunks_is_one_line_break():
    parser = EventParser()
    assert parser.feed("data: a\r") == []
    assert parser.feed("\ndata: b\r") == []
    assert parser.feed("\n\r") == [Event("a\nb")]
    # A CR then CR is two line breaks (an empty line), not one.
    assert parser.feed("data: c\r\r") == [Event("c")]


def test_any_chunking_gives_the_same_events():
    stream = format_event("x\ny", event_id="1", event="e", retry_ms=500) + format_comment("hb")
    stream += "data: é ✓\r\n\r\n" + format_event("z", event_id="2")
    whole = parse_stream(stream)
    assert len(whole) == 3
    rng = random.Random(3)
    for _ in range(200):
        cuts = rng.sample(range(1, len(stream)), rng.randint(1, 8))
        assert feed_in_pieces(stream, cuts) == whole


def test_bytes_split_inside_a_multi_byte_character_decode_correctly():
    raw = "\ufeffdata: héllo ✓\n\n".encode()
    whole = parse_stream(raw)
    assert whole == [Event("héllo ✓")]  # and the BOM is dropped
    for cut in range(1, len(raw)):
        assert feed_in_pieces(raw, [cut]) == whole


def test_invalid_utf8_is_replaced_not_fatal():
    assert parse_stream(b"data: a\xffb\n\n") == [Event("a\ufffdb")]


def test_only_the_first_bom_is_dropped():
    assert parse_stream("\ufeff\ufeffdata: x\n\n") == []  # field name "\ufeffdata" is unknown


# --- fields ------------------------------------------------------------------------


def test_comments_and_unknown_fields_are_ignored():
    stream = ": keep-alive\nfoo: bar\ndata: x\n:another\n\n"
    assert parse_stream(stream) == [Event("x")]


def test_a_field_without_colon_has_an_empty_value():
    assert parse_stream("data\n\n") == [Event("")]
    assert parse_stream("event\ndata: x\n\n") == [Event("x", event="message")]


def test_only_the_first_colon_splits_the_field():
    assert parse_stream("data: a: b:c\n\n") == [Event("a: b:c")]


def test_an_id_containing_nul_is_ignored():
    parser = EventParser()
    events = parser.feed("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n")
    assert [(e.id, e.has_own_id) for e in events] == [("1", True), ("1", False)]
    assert parser.last_event_id == "1"


def test_the_last_event_id_persists_and_is_set_even_without_data():
    parser = EventParser()
    parser.feed("id: 5\n\n")
    assert parser.last_event_id == "5"
    (event,) = parser.feed("data: no id line\n\n")
    assert event.id == "5" and not event.has_own_id


def test_the_last_event_id_changes_only_when_an_event_is_dispatched():
    parser = EventParser()
    parser.feed("id: 9\ndata: half")
    assert parser.last_event_id == "" and parser.pending


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3000", 3000),
        ("0", 0),
        ("007", 7),
        (" 3000", 3000),
        ("  3000", None),
        ("3e3", None),
        ("-1", None),
        ("3000 ", None),
        ("", None),
        ("١٢", None),
        ("9" * 30, None),
    ],
)
def test_retry_takes_ascii_digits_only(value, expected):
    parser = EventParser()
    parser.feed(f"retry:{value}\n\n")
    assert parser.retry == expected
    assert parser.retry_lines == (expected is not None)


def test_a_later_retry_replaces_the_earlier_and_events_carry_it():
    parser = EventParser()
    first, second = parser.feed("data: a\n\nretry: 100\n\nretry: 10000\ndata: b\n\n")
    assert first.retry is None and second.retry == 10000
    assert parser.retry_lines == 2


def test_event_type_resets_after_each_event():
    events = parse_stream("event: add\ndata: 1\n\ndata: 2\n\n")
    assert [e.event for e in events] == ["add", "message"]


def test_a_blank_line_without_data_dispatches_nothing_and_clears_the_type():
    events = parse_stream("event: add\n\ndata: 2\n\n")
    assert events == [Event("2")]


# --- formatting ----------------------------------------------------------------------


def test_format_event_writes_fields_and_ends_with_a_blank_line():
    text = format_event("hi", event_id="42", event="chat", retry_ms=10000)
    assert text == "retry: 10000\nid: 42\nevent: chat\ndata: hi\n\n"
    assert format_event("") == "data: \n\n"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "one",
        "two\nlines",
        "crlf\r\nlines",
        "cr\rline",
        "\n",
        "trailing\n",
        "\n\nleading",
        " space",
        ":colon",
        "data: nested",
        "id: 3",
        "é ✓",
    ],
)
def test_data_round_trips_through_format_and_parse(data):
    (event,) = parse_stream(format_event(data, event_id="1"))
    assert event.data == normalize_newlines(data)
    assert event.id == "1" and event.has_own_id


def test_format_refuses_what_the_stream_cannot_carry():
    with pytest.raises(ValueError, match="line break"):
        format_event("x", event_id="1\n2")
    with pytest.raises(ValueError, match="line break"):
        format_event("x", event="a\rb")
    with pytest.raises(ValueError, match="NUL"):
        format_event("x", event_id="a\0")
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(ValueError, match="retry"):
            format_retry(bad)  # type: ignore[arg-type]


def test_comments_are_ignored_by_the_parser_and_keep_lines_separate():
    assert format_comment("ping") == ": ping\n\n"
    assert format_comment() == ":\n\n"
    assert format_comment("a\nb") == ": a\n: b\n\n"
    parser = EventParser()
    assert parser.feed(format_comment("a\nb\r\nc") + format_retry(5)) == []
    assert not parser.pending and parser.retry == 5


def test_an_empty_id_is_legal_and_resets_the_last_event_id():
    parser = EventParser()
    parser.feed(format_event("a", event_id="1") + format_event("b", event_id=""))
    assert parser.last_event_id == ""


def test_a_parser_for_a_reconnected_stream_starts_from_the_previous_last_event_id():
    parser = EventParser(last_event_id="41")
    (event,) = parser.feed("data: no id\n\n")
    assert event.id == "41" and not event.has_own_id
    assert parser.last_event_id == "41"


def test_feed_takes_bytes_like_chunks_and_refuses_other_types():
    parser = EventParser()
    assert parser.feed(bytearray(b"data: a\n")) == []
    assert parser.feed(memoryview(b"\n")) == [Event("a")]
    with pytest.raises(TypeError, match="str or bytes"):
        parser.feed(42)  # type: ignore[arg-type]
    assert parser.feed("data: still fine\n\n") == [Event("still fine")]
