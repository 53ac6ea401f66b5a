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
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pycrdt import get_state

__all__ = [
    "AwarenessEntry",
    "Message",
    "ProtocolError",
    "awareness",
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
@dataclass(frozen=True)
class Message:
    """One parsed y-protocols message: its kind and its payload (without framing)."""

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
    if not isinstance(message, (bytes, bytearray, memoryview)):
        raise ProtocolError(f"expected bytes, got {type(message).__name__}")
    data = bytes(message)
    if not data:
        raise ProtocolError("empty message: expected a varuint message type")
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
    if check_update:
        if kind == "step1":
            decode_state_vector(payload)
        elif kind in ("step2", "update"):
            check_yjs_update(payload)
        else:
            decode_awareness(payload)
    return Message(kind, payload)


def check_yjs_update(update: bytes) -> None:
    """Raise :class:`ProtocolError` unless ``update`` decodes as a Yjs (v1) update."""
    if update == EMPTY_UPDATE:
        return
    try:
        get_state(update)  # decodes every struct; the document is not touched
    except ValueError as error:
        raise ProtocolError(f"not a valid Yjs update ({len(update)} bytes): {error}") from None


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
    count, pos = read_varuint(payload)
    entries = []
    for index in range(count):
        client, pos = read_varuint(payload, pos)
        clock, pos = read_varuint(payload, pos)
        raw, pos = read_varbytes(payload, pos, f"awareness entry {index}'s state length")
        try:
            state = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProtocolError(f"awareness entry {index} is not UTF-8 JSON: {error}") from None
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
