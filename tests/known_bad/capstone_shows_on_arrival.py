"""Known bad: the tab shows chat messages as they arrive, without the ordering Client
(module 07's sharp edge): a backfill that overlaps live messages shows them twice."""

from typing import Any

from solutions import capstone
from solutions.capstone import AppServer, decode, make_presence  # noqa: F401

EXPECTED = {"missing-message-ordering"}


class AppClient(capstone.AppClient):
    def received(self, frame: Any, now: float) -> list[tuple[Any, ...]]:
        out = super().received(frame, now)
        message = decode(frame) if frame not in ("ping", "pong") else None
        if message is not None and "type" not in message:
            message = message.get("body")
        if isinstance(message, dict) and message.get("type") == "msg" \
                and message.get("kind") == "chat":
            # BUG: shown the moment it arrives, duplicates and all
            out = [a for a in out if a[0] != "show"] + [("show", message)]
        return out
