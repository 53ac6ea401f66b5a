"""Known bad: catches a returning client up from this server's own memory.

Each server keeps the messages it delivered, per room, and replays a returning
client's missed messages from there. That works with sticky sessions; behind round
robin the client lands on a server that never had its room (or restarted) and finds
no session: what it missed is gone.
"""

from rtlab.topics.scaling_out.interface import Command, Deliver, ReadResult, stream_id_order
from solutions.scaling import Relay as Reference

EXPECTED = {"sticky-session-bypass"}
MESSAGE = "never got it"


class Relay(Reference):
    def __init__(self, server: str) -> None:
        super().__init__(server)
        self.history: dict[str, list[tuple[str, str]]] = {}  # BUG: state in one process

    def join(self, client: str, room: str, last_seen: str | None, now: float) -> list[Command]:
        history = self.history.get(room, [])
        if last_seen is None or not history:
            return super().join(client, room, None, now)
        missed = [(i, text) for i, text in history
                  if stream_id_order(i) > stream_id_order(last_seen)]
        commands = super().join(client, room, history[-1][0], now)
        return [Deliver(client, room, i, text) for i, text in missed] + commands

    def read(self, result: ReadResult, now: float) -> list[Command]:
        commands = super().read(result, now)
        seen = self.history.setdefault(result.room, [])
        for c in commands:
            if isinstance(c, Deliver) and (not seen or stream_id_order(c.id) >
                                           stream_id_order(seen[-1][0])):
                seen.append((c.id, c.text))
        return commands
