"""Known bad: trusts every stream entry to be its own JSON.

One entry from another producer ("not json at all") raises in the middle of a read,
and the relay (with every room on its server) goes down.
"""

import json

from rtlab.topics.scaling_out.interface import Command, ReadResult
from solutions.scaling import Relay as Reference

EXPECTED = {"socket-io-no-adapter", "sticky-session-bypass"}
MESSAGE = "raised"


class Relay(Reference):
    def read(self, result: ReadResult, now: float) -> list[Command]:
        for _, data in result.entries:
            json.loads(data)["text"]  # BUG: raises on anything else
        return super().read(result, now)
