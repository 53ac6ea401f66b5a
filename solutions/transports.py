"""Reference solution: choose the transport for a feature.

The four rules of the exercise, in their order: nobody waiting -> poll; plain
HTTP only -> long polling; the client streams too -> WebSocket; otherwise SSE
(binary payloads may as well take a WebSocket; this solution keeps SSE's
simplicity only for text). Other shapes pass too: a lookup table over the
three questions, or walking the four transports from the lightest up and
taking the first that meets the needs.
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSPORTS = ("polling", "long-polling", "sse", "websocket")  # the answers, lightest first

# Users who would notice a delay shorter than this are waiting for the update. The
# grader's profiles are at most 10 s or at least 120 s, so any line in between works.
WAITING = 60.0


@dataclass(frozen=True)
class Needs:
    """What a feature needs from its transport."""

    feature: str  # its name, for messages: "stock ticker"
    client_streams: bool  # the client also sends a stream of small messages on this channel
    noticed_within: float  # seconds: users notice a delay longer than this
    updates_per_minute: float  # how often there is news for a client
    clients: int  # clients connected at once
    binary: bool = False  # payloads are bytes (audio, images, CRDT updates), not text
    http_only: bool = False  # the path passes only request/response HTTP (no upgrade, buffering)


def choose_transport(needs: Needs) -> str:
    if needs.noticed_within >= WAITING:
        return "polling"  # nobody waits: plain requests, nothing held open
    if needs.http_only:
        return "long-polling"  # a push over nothing but request/response
    if needs.client_streams or needs.binary:
        return "websocket"  # both sides talk, or bytes: frames of either kind, both ways
    return "sse"  # one-way push: the simplest, resumable
