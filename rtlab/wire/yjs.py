"""The y-protocols wire format (what Yjs's y-websocket speaks), built and checked strictly.

Every WebSocket message is one binary y-protocols message::

    varuint type          0 = sync, 1 = awareness
    sync:      varuint step (0 = step 1, 1 = step 2, 2 = update), varbytes payload
    awareness: varbytes payload = varuint count, then per entry:
               varuint client id, varuint clock, varstring JSON state ("null" = gone)

A varuint is little-endian base 128: seven bits per byte, the high bit says
"more bytes follow". pycrdt can build these messages but reads them leniently
(a truncated varint raises IndexError, trailing bytes are ignored); a server
facing the network needs the opposite, so :func:`parse` rejects anything that
is not exactly one well-formed message and says why, with a
:class:`ProtocolError` (a ``ValueError``).

Bounds, so that no message a client can send costs the server more than a
frame's worth of work or raises anything but :class:`ProtocolError`:

- a varuint has at most 8 bytes and is at most 2^53 - 1 (lib0's limit);
- every length must fit in what follows it (a truncated message is refused
  before anything is allocated for it);
- an awareness message has at most :data:`MAX_AWARENESS_ENTRIES` entries, and
  each state is at most :data:`MAX_STATE_BYTES` of UTF-8 JSON, nested at most
  :data:`MAX_STATE_DEPTH` deep, an object or ``null``, with no ``NaN`` or
  ``Infinity`` (see :func:`rtlab.wire.bounded_json.loads_bounded`): a state
  nested 1,000 deep is a :class:`ProtocolError`, not a ``RecursionError``;
- a step 2 or update payload must decode as a Yjs update (pycrdt's decoder),
  and none of its items or deleted ranges may end past clock :data:`MAX_CLOCK`
  (2^30): yrs keeps clocks in 32 bits and panics on valid updates near 2^31
  (:func:`check_clocks`, 1-2 us per keystroke's update).

The whole frame's size is the WebSocket library's ``max_size`` (1 MiB by
default), checked before any of this runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pycrdt import get_state

from rtlab.wire.bounded_json import JSONRefused, loads_bounded

__all__ = [
    "MAX_AWARENESS_ENTRIES",
    "MAX_CLOCK",
    "MAX_STATE_BYTES",
    "MAX_STATE_DEPTH",
    "AwarenessEntry",
    "Message",
    "ProtocolError",
    "awareness",
    "check_clocks",
    "decode_awareness",
    "decode_state_vector",
    "describe",
    "encode_awareness",
    "encode_varuint",
    "parse",
    "read_varuint",
    "sync_step1",
    "sync_step2",
    "sync_update",
]

SYNC, AWARENESS = 0, 1
STEP1, STEP2, UPDATE = 0, 1, 2
Kind = Literal["step1", "step2", "update", "awareness"]
SYNC_KINDS: dict[int, Kind] = {STEP1: "step1", STEP2: "step2", UPDATE: "update"}
# Yjs numbers are JavaScript-safe integers (lib0 refuses more than 53 bits).
MAX_VARUINT_BYTES = 8
MAX_SAFE_INTEGER = 2**53 - 1
EMPTY_UPDATE = b"\x00\x00"
# Awareness bounds. A client announces itself (1 entry); a server tells a newcomer
# about everyone in the room (one entry each). A state is a name, a colour, a cursor.
MAX_AWARENESS_ENTRIES = 10_000
MAX_STATE_BYTES = 64 * 1024
MAX_STATE_DEPTH = 32


class ProtocolError(ValueError):
    """A message that is not valid y-protocols; the text says what is wrong and where."""


# -- varuint and varbytes ----------------------------------------------------
def encode_varuint(number: int) -> bytes:
    """Encode a non-negative integer as a varuint (7 bits per byte, high bit = more)."""
    if number < 0:
        raise ValueError(f"a varuint cannot be negative: {number}")
    out = bytearray()
    while number > 0x7F:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    out.append(number)
    return bytes(out)


def read_varuint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """Read a varuint at ``pos``; return ``(value, position after it)``."""
    value, shift, start = 0, 0, pos
    while True:
        if pos >= len(data):
            raise ProtocolError(f"truncated varint at byte {start}: the data ends inside it")
        if pos - start >= MAX_VARUINT_BYTES:
            raise ProtocolError(f"varint at byte {start} is longer than {MAX_VARUINT_BYTES} bytes")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            break
        shift += 7
    if value > MAX_SAFE_INTEGER:
        raise ProtocolError(f"varint at byte {start} is larger than 2^53 - 1")
    return value, pos


def varbytes(payload: bytes) -> bytes:
    return encode_varuint(len(payload)) + payload


def read_varbytes(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    length, pos = read_varuint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolError(
            f"{what} says {length} bytes but only {len(data) - pos} follow (truncated message)"
        )
    return data[pos:end], end


# -- messages ------------------------------------------------------------------
class Message(NamedTuple):
    """One parsed y-protocols message: its kind and its payload (without framing).

    A named tuple rather than a dataclass: a relay makes one per message, and a
    tuple is the cheapest immutable object to build.
    """

    kind: Kind
    payload: bytes

    @property
    def is_sync(self) -> bool:
        return self.kind != "awareness"


def sync_step1(state_vector: bytes) -> bytes:
    """"Here is what I have" (a state vector): the peer answers with step 2."""
    return bytes((SYNC, STEP1)) + varbytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    """The answer to step 1: everything the asker lacks, as one update."""
    return bytes((SYNC, STEP2)) + varbytes(update)


def sync_update(update: bytes) -> bytes:
    """A live change, relayed as it happens."""
    return bytes((SYNC, UPDATE)) + varbytes(update)


def awareness(payload: bytes) -> bytes:
    """Wrap an encoded awareness update (see :func:`encode_awareness`)."""
    return bytes((AWARENESS,)) + varbytes(payload)


def parse(message: bytes, *, check_update: bool = True) -> Message:
    """Parse exactly one y-protocols message, or raise :class:`ProtocolError` saying why.

    With ``check_update`` (the default) the payload of step 2 and update
    messages must decode as a Yjs update, and an awareness payload must decode
    as awareness entries, so nothing malformed gets past this point.
    """
    if type(message) is bytes:
        data = message
    elif isinstance(message, (bytes, bytearray, memoryview)):
        data = bytes(message)
    else:
        raise ProtocolError(f"expected bytes, got {type(message).__name__}")
    if check_update:
        seen = _verified.get(data)
        if seen is not None:  # the server checked it, now its room parses it again
            return seen
    size = len(data)
    if size > 3 and data[2] == size - 3 < 0x80 and data[1] == UPDATE and data[0] == SYNC:
        parsed = Message("update", data[3:])  # a keystroke: a one-byte length, no varint
    else:
        parsed = Message(*_split(data))
    if check_update:
        kind, payload = parsed
        if kind == "update" or kind == "step2":
            check_yjs_update(payload)
        elif kind == "step1":
            decode_state_vector(payload)
        else:
            decode_awareness(payload)
        if size <= _VERIFIED_SIZE:
            if len(_verified) >= _VERIFIED_COUNT:
                _verified.clear()  # cheaper than evicting one by one; it refills at once
            _verified[data] = parsed
    return parsed


def _split(data: bytes) -> tuple[Kind, bytes]:
    """The kind and payload of one message: the framing checks of :func:`parse`."""
    if not data:
        raise ProtocolError("empty message: expected a varuint message type")
    kind: Kind
    mtype, pos = read_varuint(data)
    if mtype == SYNC:
        step, pos = read_varuint(data, pos)
        if step not in SYNC_KINDS:
            raise ProtocolError(f"unknown sync step {step} (expected 0 step 1, 1 step 2, 2 update)")
        kind = SYNC_KINDS[step]
        payload, pos = read_varbytes(data, pos, f"the {kind} payload length")
    elif mtype == AWARENESS:
        kind = "awareness"
        payload, pos = read_varbytes(data, pos, "the awareness payload length")
    else:
        raise ProtocolError(f"unknown message type {mtype} (expected 0 sync or 1 awareness)")
    if pos != len(data):
        raise ProtocolError(f"{len(data) - pos} unexpected bytes after the {kind} message")
    return kind, payload


# Messages that passed the strict check, so that the second parse of one message
# (the server's, then its room's) costs a dict lookup. Small ones only (keystrokes):
# at most _VERIFIED_COUNT * _VERIFIED_SIZE bytes held.
_VERIFIED_COUNT, _VERIFIED_SIZE = 64, 1024
_verified: dict[bytes, Message] = {}


def check_yjs_update(update: bytes) -> None:
    """Raise :class:`ProtocolError` unless ``update`` decodes as a Yjs (v1) update."""
    if update == EMPTY_UPDATE:
        return
    try:
        get_state(update)  # decodes every struct; the document is not touched
    except ValueError as error:
        raise ProtocolError(f"not a valid Yjs update ({len(update)} bytes): {error}") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # a panic in the Rust decoder (pyo3's PanicException)
        raise ProtocolError(
            f"not a valid Yjs update ({len(update)} bytes): the decoder failed "
            f"({type(error).__name__})"
        ) from None
    check_clocks(update)


# -- clocks of an update -----------------------------------------------------------
# Yjs numbers each client's items with a clock (0, 1, 2, ...: one per character).
# yrs, the Rust core under pycrdt, keeps clocks in 32 bits, and a *valid* update
# whose clocks or lengths reach 2^31 and beyond (nobody types two billion characters)
# makes it panic when applied after others (found by tests/test_fuzz_servers.py).
# So every struct and every deleted range must end at or below MAX_CLOCK. The walk
# below reads only the structs' headers and skips their content.
MAX_CLOCK = 2**30
MAX_ANY_DEPTH = 64  # nesting of lib0 "any" values inside one item (a map in a list...)
_ITEM_ORIGIN, _ITEM_RIGHT_ORIGIN, _ITEM_PARENT_SUB = 0x80, 0x40, 0x20
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_XML_ELEMENT, _XML_HOOK = 3, 5  # type refs followed by a name


def _skip_string(data: bytes, pos: int) -> tuple[int, int]:
    """Skip a varstring; return (its length in bytes, position after it)."""
    length, pos = read_varuint(data, pos)
    if pos + length > len(data):
        raise ProtocolError("truncated string in a Yjs update")
    return length, pos + length


def _skip_any(data: bytes, pos: int) -> int:
    """Skip one lib0 "any" value, iteratively: nesting is bounded, never recursed."""
    # One entry per open array or object: [values left to skip, 1 if a key precedes each].
    stack = [[1, 0]]
    while stack:
        top = stack[-1]
        if top[0] == 0:
            stack.pop()
            continue
        top[0] -= 1
        if top[1]:
            _, pos = _skip_string(data, pos)
        if pos >= len(data):
            raise ProtocolError("truncated value in a Yjs update")
        kind = data[pos]
        pos += 1
        if kind in (127, 126, 121, 120):  # undefined, null, false, true
            continue
        if kind == 125:  # a signed varint
            while pos < len(data) and data[pos] & 0x80:
                pos += 1
            pos += 1
        elif kind in (124, 123, 122):  # float32, float64, bigint
            pos += 4 if kind == 124 else 8
        elif kind in (119, 116):  # string, bytes
            _, pos = _skip_string(data, pos)
        elif kind in (118, 117):  # object (key, value per entry), array
            count, pos = read_varuint(data, pos)
            if len(stack) > MAX_ANY_DEPTH:
                raise ProtocolError(f"a value nests deeper than {MAX_ANY_DEPTH} in a Yjs update")
            stack.append([count, int(kind == 118)])
        else:
            raise ProtocolError(f"unknown value type {kind} in a Yjs update")
        if pos > len(data):
            raise ProtocolError("truncated value in a Yjs update")
    return pos


def _content_length(data: bytes, pos: int, ref: int) -> tuple[int, int]:
    """Skip an item's content; return (its length in clock ticks, position after it).

    A string counts UTF-16 units in Yjs; its UTF-8 byte length is an upper bound.
    """
    if ref == _DELETED:
        return read_varuint(data, pos)
    if ref == _JSON:
        count, pos = read_varuint(data, pos)
        for _ in range(count):
            _, pos = _skip_string(data, pos)
        return count, pos
    if ref in (_BINARY, _STRING, _EMBED):
        return _skip_string(data, pos) if ref == _STRING else (1, _skip_string(data, pos)[1])
    if ref == _FORMAT:
        _, pos = _skip_string(data, pos)
        return 1, _skip_string(data, pos)[1]
    if ref == _TYPE:
        type_ref, pos = read_varuint(data, pos)
        if type_ref in (_XML_ELEMENT, _XML_HOOK):
            _, pos = _skip_string(data, pos)
        return 1, pos
    if ref == _ANY:
        count, pos = read_varuint(data, pos)
        for _ in range(count):
            pos = _skip_any(data, pos)
        return count, pos
    if ref == _DOC:
        _, pos = _skip_string(data, pos)
        return 1, _skip_any(data, pos)
    raise ProtocolError(f"unknown content type {ref} in a Yjs update")


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    """:func:`read_varuint`, with numbers under 2^21 (clocks, lengths) decoded inline."""
    byte = data[pos]  # IndexError past the end: check_clocks says "truncated"
    if byte < 0x80:
        return byte, pos + 1
    second = data[pos + 1]
    if second < 0x80:
        return (byte & 0x7F) | second << 7, pos + 2
    third = data[pos + 2]
    if third < 0x80:
        return (byte & 0x7F) | (second & 0x7F) << 7 | third << 14, pos + 3
    return read_varuint(data, pos)


# A varuint of at most 2^53 - 1 (up to 7 bytes, or 8 whose last is under 0x10), and an
# id (two of them: client, clock). Matching one is a single call, where a loop over the
# bytes of an 8-byte client id (pycrdt's are 53-bit) costs a dozen steps of Python.
_SAFE_UINT = rb"(?:[\x80-\xff]{0,6}[\x00-\x7f]|[\x80-\xff]{7}[\x00-\x0f])"
_ONE_UINT = re.compile(_SAFE_UINT).match
_TWO_UINTS = re.compile(_SAFE_UINT * 2).match


def _skip_uint(data: bytes, pos: int) -> int:
    """The position after the varuint at ``pos``, without decoding it."""
    found = _ONE_UINT(data, pos)
    return found.end() if found else read_varuint(data, pos)[1]  # raises, saying why


def _skip_id(data: bytes, pos: int) -> int:
    """The position after the id (two varuints) at ``pos``, without decoding it."""
    found = _TWO_UINTS(data, pos)
    return found.end() if found else _skip_uint(data, _skip_uint(data, pos))


def check_clocks(update: bytes) -> None:
    """Raise :class:`ProtocolError` if a struct or deleted range of ``update`` ends past
    :data:`MAX_CLOCK` (see the comment above). About 1.5 us for one keystroke's update."""
    try:
        _check_clocks(update)
    except IndexError:
        raise ProtocolError(f"truncated Yjs update ({len(update)} bytes)") from None


def _check_clocks(update: bytes) -> None:
    # Hot: the server runs this on every update it relays, so the common cases are
    # inlined (one-byte numbers, ids skipped undecoded); the client id is decoded
    # only to say whose items overflow.
    groups, pos = _uint(update, 0)
    for _ in range(groups):
        structs, pos = _uint(update, pos)
        client_at = pos
        pos = _skip_uint(update, pos)
        clock, pos = _uint(update, pos)
        for _ in range(structs):
            info = update[pos]
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                length, pos = _uint(update, pos + 1)
            else:
                pos += 1
                if info & _ITEM_ORIGIN:
                    pos = _skip_id(update, pos)
                if info & _ITEM_RIGHT_ORIGIN:
                    pos = _skip_id(update, pos)
                if not info & (_ITEM_ORIGIN | _ITEM_RIGHT_ORIGIN):
                    root, pos = _uint(update, pos)  # 1: a named root type, else an id
                    pos = _skip_string(update, pos)[1] if root == 1 else _skip_id(update, pos)
                    if info & _ITEM_PARENT_SUB:
                        pos = _skip_string(update, pos)[1]
                if ref == _STRING:  # the usual case, inlined
                    length, pos = _uint(update, pos)
                    pos += length
                else:
                    length, pos = _content_length(update, pos, ref)
            clock += length
            if clock > MAX_CLOCK:
                client = read_varuint(update, client_at)[0]
                raise ProtocolError(
                    f"client {client}'s items reach clock {clock}, past the limit 2^30"
                )
    ranges, pos = _uint(update, pos)
    for _ in range(ranges):
        client, pos = _uint(update, pos)
        count, pos = _uint(update, pos)
        for _ in range(count):
            start, pos = _uint(update, pos)
            length, pos = _uint(update, pos)
            if start + length > MAX_CLOCK:
                raise ProtocolError(
                    f"a deletion of client {client}'s items reaches clock {start + length}, "
                    "past the limit 2^30"
                )


def decode_state_vector(payload: bytes) -> dict[int, int]:
    """A state vector: ``{client id: number of items seen from it}``."""
    count, pos = read_varuint(payload)
    vector: dict[int, int] = {}
    for _ in range(count):
        client, pos = read_varuint(payload, pos)
        clock, pos = read_varuint(payload, pos)
        vector[client] = clock
    if pos != len(payload):
        raise ProtocolError(f"{len(payload) - pos} unexpected bytes after the state vector")
    return vector


# -- awareness -----------------------------------------------------------------
@dataclass(frozen=True)
class AwarenessEntry:
    """One client's awareness: ``state`` None means "this client is gone"."""

    client_id: int
    clock: int
    state: dict[str, Any] | None


def decode_awareness(payload: bytes) -> list[AwarenessEntry]:
    """The entries of an awareness payload, within the bounds in the module docstring."""
    count, pos = read_varuint(payload)
    if count > MAX_AWARENESS_ENTRIES:
        raise ProtocolError(
            f"awareness message with {count} entries; the limit is {MAX_AWARENESS_ENTRIES}"
        )
    entries = []
    for index in range(count):
        client, pos = read_varuint(payload, pos)
        clock, pos = read_varuint(payload, pos)
        raw, pos = read_varbytes(payload, pos, f"awareness entry {index}'s state length")
        try:
            state = loads_bounded(
                raw, max_depth=MAX_STATE_DEPTH, max_bytes=MAX_STATE_BYTES, what="the state"
            )
        except JSONRefused as error:
            raise ProtocolError(
                f"awareness entry {index} is not UTF-8 JSON within the limits ({error})"
            ) from None
        if state is not None and not isinstance(state, dict):
            raise ProtocolError(f"awareness entry {index}'s state is not an object or null")
        entries.append(AwarenessEntry(client, clock, state))
    if pos != len(payload):
        raise ProtocolError(f"{len(payload) - pos} unexpected bytes after the awareness entries")
    return entries


def encode_awareness(entries: list[AwarenessEntry]) -> bytes:
    """The payload of an awareness message (wrap it with :func:`awareness`)."""
    out = [encode_varuint(len(entries))]
    for entry in entries:
        state = json.dumps(entry.state, separators=(",", ":")).encode()
        out += [encode_varuint(entry.client_id), encode_varuint(entry.clock), varbytes(state)]
    return b"".join(out)


# -- for timelines ---------------------------------------------------------------
def describe(message: bytes) -> str:
    """One line for a message timeline, e.g. ``sync step 2: update of 14 B``."""
    try:
        parsed = parse(message)
    except ProtocolError as error:
        return f"invalid ({len(message)} B): {error}"
    size = len(parsed.payload)
    if parsed.kind == "step1":
        vector = decode_state_vector(parsed.payload)
        seen = ", ".join(f"{client}: {clock}" for client, clock in sorted(vector.items()))
        return f"sync step 1: state vector {{{seen}}}"
    if parsed.kind == "step2":
        nothing = " (nothing missing)" if parsed.payload == EMPTY_UPDATE else ""
        return f"sync step 2: update of {size} B{nothing}"
    if parsed.kind == "update":
        return f"sync update: {size} B"
    parts = []
    for entry in decode_awareness(parsed.payload):
        shown = "gone" if entry.state is None else json.dumps(entry.state, separators=(",", ":"))
        parts.append(f"{entry.client_id} -> {shown}")
    return "awareness: " + "; ".join(parts)
