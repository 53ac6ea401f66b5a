"""Known good: a lookup table over the three questions (binary one-way feeds stay on SSE)."""

from solutions.transports import Needs

# (someone waits, plain HTTP only, the client streams) -> transport
TABLE = {
    (False, False, False): "polling", (False, False, True): "polling",
    (False, True, False): "polling", (False, True, True): "polling",
    (True, True, False): "long-polling", (True, True, True): "long-polling",
    (True, False, True): "websocket",
    (True, False, False): "sse",
}


def choose_transport(needs: Needs) -> str:
    waits = needs.noticed_within < 30  # anywhere between 10 s and 120 s is fine
    return TABLE[waits, needs.http_only, needs.client_streams]
