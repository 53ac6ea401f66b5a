"""Known bad: the presence tracker removes a user the moment a connection closes
(module 06's sharp edge): every redeploy and blip announces people gone and back."""

from typing import Any

from solutions.capstone import AppClient, AppServer, presence_part  # noqa: F401

EXPECTED = {"presence-immediate-removal"}
MESSAGE = "a flicker"


def make_presence() -> Any:
    return presence_part.PresenceTracker(grace=0.0, ttl=4.0)  # BUG: no grace period
