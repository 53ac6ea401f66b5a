"""Known good: walk the transports from the lightest up, take the first that works."""

from solutions.transports import Needs

LIGHTEST_FIRST = ("polling", "long-polling", "sse", "websocket")


def works(transport: str, needs: Needs) -> bool:
    if transport == "polling":
        return needs.noticed_within > 100  # a poll a minute is soon enough
    if needs.http_only:
        return transport == "long-polling"  # the only push plain HTTP carries
    if transport == "long-polling":
        return False  # a request per delivery when a stream gets through
    if transport == "sse":
        return not needs.client_streams and not needs.binary
    return True  # websocket: both ways, text or bytes


def choose_transport(needs: Needs) -> str:
    return next(t for t in LIGHTEST_FIRST if works(t, needs))
