"""Exercise: uploads over WebSocket, metadata as JSON and payloads as binary frames.

A chat app sends a photo; a voice memo app sends audio; a collaborative editor
sends CRDT updates. Putting those bytes inside JSON as base64 makes every one a
third larger and costs CPU on both ends; a WebSocket can carry bytes as they are,
in a *binary* frame. And a server that accepts uploads must refuse the ones it
cannot take (too big, malformed, out of order) with the close code that says
why, without delivering half of a bad message and without disturbing anyone
else's connection.

You write both ends of a tiny upload protocol. Each upload is two frames:

    text frame    {"size": 5, "meta": {"name": "hello.txt", "type": "text/plain"}}
    binary frame  b"hello"          (exactly `size` bytes, sent as bytes: a binary frame)

The text frame is the *announcement*: a JSON object with ``"size"``, the number
of payload bytes that follow (an int, 0 or more), and ``"meta"``, a JSON object
of metadata (anything the app likes: name, type, ...). Other keys are allowed
and ignored. The very next frame on that connection is the payload, as a binary
frame (also when it is empty). Then the next announcement, and so on.

1. ``encode_upload(meta, payload)`` (the client side) returns the frames to send,
   in order: a ``str`` becomes a text frame, ``bytes`` a binary frame.

2. ``Receiver`` (the server side) holds the state of *one* connection; the
   server makes one per connection and calls ``receive(frame)`` for each frame
   that arrives (``str`` for a text frame, ``bytes`` for a binary one). It
   returns a list of actions, usually ``[]``:

   - ``("deliver", meta, payload)`` once an upload is complete: the ``meta``
     dict of the announcement and the payload ``bytes``;
   - ``("close", code, reason)`` to refuse a bad frame: the server closes this
     connection with that code and reason, and never calls ``receive`` on it
     again. Nothing of the bad upload may be delivered.

   Refuse, in this order of precedence (the codes are RFC 6455's, section 7.4.1;
   using 1007 for valid UTF-8 that is not the expected JSON, or for a payload
   of the wrong length, is this course's convention, which the grader keeps):

   ========  ===============================================================
   1009      *Message Too Big*. Any frame of more than ``max_size`` bytes (a
             text frame counts its UTF-8 bytes), and an announcement whose
             ``size`` is more than ``max_size``: refuse it at once, without
             waiting for the payload. Exactly ``max_size`` is allowed.
   1003      *Unsupported Data*: a frame of a type this connection cannot
             accept now. A binary frame that nobody announced (the first
             frame, or a second payload after a delivery), or a text frame
             while the announced payload is still expected.
   1007      *Invalid frame payload data*: the right type, bad content. A
             text frame that is not valid UTF-8 (in Python: a ``str`` with
             lone surrogates, raw or as ``"\\ud83d"`` escapes, which
             ``json.loads`` accepts but no UTF-8 encoder does), not JSON, or
             not an object with an int ``size`` >= 0 and an object ``meta``
             (mind JSON nested a thousand deep: ``json.loads`` raises
             ``RecursionError`` there, not ``ValueError``);
             a payload whose length is not the announced ``size``.
   ========  ===============================================================

   The reason is a short text for the humans who debug it: at most 123 bytes
   of UTF-8 (the limit of a close frame). Never 1000 (that says "all is
   well"), never 1011 (Internal Error: it tells the client nothing of its
   mistake; a crash in ``receive`` becomes exactly that, so do not raise).

3. Connections are independent: one client's garbage must not change what any
   other connection delivers. Keep all state on the ``Receiver`` instance.

The grader checks ``websocket-binary-json`` (your frames, measured on the wire,
carry the payload in a binary frame: at most 5 % over the payload size for
payloads of 16 KiB and more; your receiver delivers every upload exactly) and
``websocket-message-limits`` (seeded mixes of good uploads, oversize ones,
garbage and out-of-order frames, interleaved across several connections).

Check your work:  python -m rtlab check frames    (one level: add --level 1 or --level 2)
Stuck?            python -m rtlab hint frames
Lessons:          notebooks/03-websocket-basics.ipynb (level 1)
                  notebooks/03-websocket-limits.ipynb (level 2)
"""

from __future__ import annotations

import json  # noqa: F401  (you will need it)
from typing import Any

MAX_SIZE = 1024 * 1024  # bytes, like websockets' default max_size (1 MiB)

Frame = str | bytes  # str: a text frame; bytes: a binary frame
Action = tuple[Any, ...]  # ("deliver", meta, payload) or ("close", code, reason)


def encode_upload(meta: dict[str, Any], payload: bytes) -> list[Frame]:
    """The frames that carry one upload: the JSON announcement, then the payload."""
    # TODO: a text frame with {"size": ..., "meta": ...} (json.dumps), then the
    # payload itself as a binary frame.
    raise NotImplementedError("encode_upload")


class Receiver:
    """The upload protocol on the server side, for one connection (sans-I/O)."""

    def __init__(self, max_size: int = MAX_SIZE) -> None:
        self.max_size = max_size  # keep this attribute: the grader reads it
        # TODO: what does this connection wait for next: an announcement, or the
        # payload of an announced upload (and its meta and size)?

    def receive(self, frame: Frame) -> list[Action]:
        """One frame arrived on this connection: what should the server do?"""
        # TODO: size first (1009), then the frame type for this moment (1003),
        # then the content (1007); deliver a complete upload.
        raise NotImplementedError("Receiver.receive")
