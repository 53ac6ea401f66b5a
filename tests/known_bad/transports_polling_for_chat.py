"""Known bad: right everywhere except where the client talks too: it polls for chat.

Polling for a conversation: every message sent is a request of its own and every
reply waits for the next poll.
"""

from solutions.transports import Needs
from solutions.transports import choose_transport as reference

EXPECTED = {"polling-as-realtime"}
MESSAGE = "a conversation that stalls"


def choose_transport(needs: Needs) -> str:
    if needs.client_streams:
        return "polling"
    return reference(needs)
