"""Bytes on the wire of WebSocket frames (RFC 6455, section 5.2), without sending any.

A frame is a header, then the payload. The header is 2 bytes (FIN, opcode,
MASK bit, 7-bit length) when the payload is under 126 bytes; a 16-bit extended
length makes it 4 bytes up to 65,535; a 64-bit one makes it 10 bytes above.
Frames from a client are masked: 4 more bytes of masking key. The lesson of
``notebooks/03-websocket-basics.ipynb`` checks these numbers against bytes
captured on a real socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = [
    "MASK_BYTES",
    "MAX_CLOSE_REASON",
    "binary_frame",
    "close_reason",
    "frame_size",
    "frames_size",
    "header_size",
    "message_bytes",
    "read_frame_head",
]

MASK_BYTES = 4
# A close frame is a control frame (at most 125 bytes of payload): 2 bytes of code,
# so at most 123 bytes of UTF-8 reason. websockets refuses to send a longer one.
MAX_CLOSE_REASON = 123
Side = Literal["client", "server"]


def header_size(payload_length: int, side: Side = "server") -> int:
    """Header bytes of one frame carrying ``payload_length`` bytes, sent by ``side``."""
    if payload_length < 126:
        length_field = 0
    elif payload_length < 1 << 16:
        length_field = 2
    else:
        length_field = 8
    return 2 + length_field + (MASK_BYTES if side == "client" else 0)


def message_bytes(message: str | bytes) -> int:
    """Payload bytes of a message: a text message counts its UTF-8 bytes."""
    return len(message.encode("utf-8")) if isinstance(message, str) else len(message)


def frame_size(message: str | bytes, side: Side = "server") -> int:
    """Bytes on the wire of ``message`` sent in one frame by ``side``, header included."""
    length = message_bytes(message)
    return header_size(length, side) + length


def frames_size(messages: Iterable[str | bytes], side: Side = "server") -> int:
    """Bytes on the wire of several messages, one frame each."""
    return sum(frame_size(m, side) for m in messages)


def close_reason(reason: str, limit: int = MAX_CLOSE_REASON) -> str:
    """``reason`` cut to fit a close frame (123 bytes of UTF-8), ending in ``...`` if cut.

    A reason that quotes what a client sent (a room name, an id) can be any length,
    and a close frame cannot: use this before ``close(code, reason)``. Lone
    surrogates (not UTF-8, so not sendable) become ``?``.
    """
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def binary_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked binary frame (what a server sends) carrying ``payload``."""
    length = len(payload)
    if length < 126:
        return bytes((0x82, length)) + payload
    if length < 1 << 16:
        return bytes((0x82, 126)) + length.to_bytes(2, "big") + payload
    return bytes((0x82, 127)) + length.to_bytes(8, "big") + payload


def read_frame_head(data: bytes | bytearray, pos: int = 0) -> tuple[int, bool, int, int] | None:
    """The frame header at ``pos``: ``(first byte, masked, payload start, payload end)``.

    None while ``data`` ends inside the header. The first byte holds FIN (0x80),
    the three RSV bits and the opcode (low 4 bits); a masked frame's 4-byte key
    sits just before its payload. ``payload end`` may lie past ``len(data)``:
    the payload has not all arrived yet.
    """
    available = len(data) - pos
    if available < 2:
        return None
    first, second = data[pos], data[pos + 1]
    length, start = second & 0x7F, pos + 2
    if length >= 126:
        width = 2 if length == 126 else 8
        if available < 2 + width:
            return None
        length = int.from_bytes(data[start : start + width], "big")
        start += width
    masked = second >= 0x80
    if masked:
        start += MASK_BYTES
        if start > len(data):
            return None
    return first, masked, start, start + length
