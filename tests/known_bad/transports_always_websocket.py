"""Known bad: a WebSocket for everything (the anti-pattern of that name).

Right for chat, editors and games; heavier than needed for one-way feeds, held
open for reports nobody waits for, and blocked on plain-HTTP-only paths.
"""

from solutions.transports import Needs

EXPECTED = {"websocket-for-everything"}
MESSAGE = "Only the server talks"


def choose_transport(needs: Needs) -> str:
    return "websocket"
