"""Known bad: a WebSocket for every push, one-way notifications and feeds included.

It knows to poll when nobody waits and to long-poll on plain-HTTP-only paths,
but pushes with a WebSocket where SSE would do (WebSocket for Everything).
"""

from solutions.transports import Needs
from solutions.transports import choose_transport as reference

EXPECTED = {"websocket-for-everything"}
MESSAGE = "SSE gives reconnection and resume"


def choose_transport(needs: Needs) -> str:
    answer = reference(needs)
    return "websocket" if answer == "sse" else answer
