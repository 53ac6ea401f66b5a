"""Real editing traces (keystroke histories, CC BY 4.0) and their replay through sync logic.

The traces live outside the project, in ``../shared/data/editing-traces/``
(or wherever ``RTLAB_TRACES`` points); see the README there. Two formats:

* sequential (``automerge-paper``): one author; apply every patch
  ``[pos, deleted, inserted]`` in order and the text becomes ``endContent``;
* concurrent (``friendsforever``: 2 agents, ``clownschool``: 3): each
  transaction also names its ``agent`` and its ``parents``, the earlier
  transactions whose merged state it was typed on; positions are relative
  to that state.

:func:`replay_concurrent` types a concurrent trace through the exercise's
sans-I/O ``Room`` and ``Client`` (each agent a client with its own ``Doc``),
with seeded message interleaving, disconnects (offline typing) and server
restarts, and reports whether every replica reached ``endContent``.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from pycrdt import Doc, Text, TransactionEvent

from rtlab import course
from rtlab.topics.collaboration.interface import ClientFactory, Outgoing, RoomFactory
from rtlab.wire.yjs import decode_state_vector

__all__ = [
    "Authored",
    "ReplayResult",
    "Trace",
    "author_concurrent",
    "author_sequential",
    "load",
    "missing",
    "replay_concurrent",
    "traces_dir",
]

ATTRIBUTION = (
    "Editing traces from josephg/editing-traces (CC BY 4.0): automerge-paper by Martin "
    "Kleppmann (automerge-perf); friendsforever and clownschool by Joseph Gentle."
)
Patch = tuple[int, int, str]  # position, characters deleted, text inserted


def traces_dir() -> Path:
    """``$RTLAB_TRACES``, else ``shared/data/editing-traces`` beside the course folder."""
    env = os.environ.get("RTLAB_TRACES")
    if env:
        return Path(env)
    return course.root().parent / "shared" / "data" / "editing-traces"


def missing(name: str = "automerge-paper") -> str | None:
    """None if trace ``name`` can be read, else a message saying where it was looked for."""
    path = traces_dir() / f"{name}.json.gz"
    if path.exists():
        return None
    return (
        f"editing trace {name!r} not found at {path}. The traces are not part of the course "
        "repository: put the editing-traces folder (josephg/editing-traces, CC BY 4.0) at "
        "../shared/data/editing-traces beside the course, or set RTLAB_TRACES to its folder."
    )


class Txn(NamedTuple):  # a tuple: the big trace has 259,778 of them
    patches: tuple[Patch, ...]
    agent: int = 0
    parents: tuple[int, ...] = ()


@dataclass(frozen=True)
class Trace:
    name: str
    start: str
    end: str
    txns: tuple[Txn, ...]
    agents: int
    concurrent: bool

    @property
    def edits(self) -> int:
        return sum(len(t.patches) for t in self.txns)


@cache
def load(name: str) -> Trace:
    """Read ``<name>.json.gz`` (cached: the big one takes a couple of seconds)."""
    reason = missing(name)
    if reason:
        raise FileNotFoundError(reason)
    with gzip.open(traces_dir() / f"{name}.json.gz", "rt", encoding="utf-8") as file:
        raw = json.load(file)
    concurrent = "agent" in raw["txns"][0]
    txns = tuple(
        Txn(tuple(map(tuple, t["patches"])), t.get("agent", 0), tuple(t.get("parents", ())))
        for t in raw["txns"]
    )
    agents = raw.get("numAgents", 1)
    return Trace(name, raw.get("startContent", ""), raw["endContent"], txns, agents, concurrent)


def apply_patches(text: Text, patches: Iterable[Patch]) -> None:
    for position, deleted, inserted in patches:
        if deleted:
            del text[position : position + deleted]
        if inserted:
            text.insert(position, inserted)


def author_sequential(trace: Trace, client_id: int = 1) -> list[bytes]:
    """One Yjs update per transaction, as one author typing the trace would send them.

    Slow for big documents (pycrdt inserts cost more as the text grows: about
    40 s for the 259,778 edits of automerge-paper on the reference machine).
    """
    doc: Doc[Any] = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    if trace.start:
        text += trace.start
        updates.clear()  # the start is the common ground, not an edit
    for txn in trace.txns:
        with doc.transaction():
            apply_patches(text, txn.patches)
    return updates


@dataclass(frozen=True)
class Authored:
    """A concurrent transaction as a Yjs update, and what must be seen before typing it."""

    agent: int
    update: bytes
    needs: dict[int, int]  # Yjs client id -> clock a replica must have before this edit


def author_concurrent(trace: Trace, client_base: int = 1) -> list[Authored]:
    """Turn a concurrent trace into the Yjs update each transaction produced.

    Each agent types on its own ``Doc`` (client id ``client_base + agent``)
    holding exactly the transaction's parents: before typing, it merges the
    other agents' updates up to the transaction's version. (Each agent's own
    transactions form a chain, so a version is one count per agent.)
    """
    docs: list[Doc[Any]] = [Doc(client_id=client_base + a) for a in range(trace.agents)]
    texts = [d.get("text", type=Text) for d in docs]
    merged = [[0] * trace.agents for _ in range(trace.agents)]  # agent -> txns of each agent it has
    by_agent: list[list[int]] = [[] for _ in range(trace.agents)]  # agent -> its txn indexes
    clock_after: list[list[int]] = [[] for _ in range(trace.agents)]  # Yjs clock after each txn
    including: list[list[int]] = []  # per txn: its version, itself included
    out: list[Authored] = []
    typed: list[bytes] = []
    typing = [False]  # set while an agent types: only then is an update its own edit

    def capture(event: TransactionEvent) -> None:
        if typing[0]:
            typed.append(event.update)

    for doc in docs:
        doc.observe(capture)
    for index, txn in enumerate(trace.txns):
        me = txn.agent
        version = [0] * trace.agents
        for parent in txn.parents:
            version = [max(x, y) for x, y in zip(version, including[parent], strict=True)]
        if version[me] != len(by_agent[me]):
            raise ValueError(f"{trace.name}: txn {index} does not follow agent {me}'s previous one")
        catch_up = []
        for other in range(trace.agents):
            if other == me:
                continue
            if merged[me][other] > version[other]:
                raise ValueError(f"{trace.name}: txn {index} was typed on less than agent {me} saw")
            catch_up += [out[k].update for k in by_agent[other][merged[me][other] : version[other]]]
            merged[me][other] = version[other]
        for update in catch_up:  # (pycrdt's merge_updates is slower than this for long runs)
            docs[me].apply_update(update)
        typed.clear()
        typing[0] = True
        with docs[me].transaction():
            apply_patches(texts[me], txn.patches)
        typing[0] = False
        update = typed[0] if typed else b"\x00\x00"  # (the update of just this edit:
        # get_update(state before) would also carry every deletion ever made)
        needs = {
            client_base + other: clock_after[other][version[other] - 1]
            for other in range(trace.agents)
            if other != me and version[other] > 0
        }
        out.append(Authored(me, update, needs))
        by_agent[me].append(index)
        merged[me][me] += 1
        # The doc's own clock, not the update's: a delete-only edit adds no item, and
        # "needs" must still cover every item this agent inserted before it.
        clock_after[me].append(decode_state_vector(docs[me].get_state()).get(client_base + me, 0))
        version[me] += 1
        including.append(version)
    return out


# -- replaying through the exercise's sans-I/O logic ------------------------------
@dataclass
class ReplayResult:
    trace: str
    seed: int
    expected: str
    replicas: list[str]
    room: str
    steps: int = 0
    disconnects: int = 0
    restarts: int = 0
    offline_edits: int = 0
    messages: int = 0
    bytes: int = 0
    events: list[str] = field(default_factory=list)  # the first few notable events
    stuck: str = ""  # why typing could not go on (an edit's parents never arrived)

    @property
    def converged(self) -> bool:
        replicas_agree = all(r == self.expected for r in self.replicas)
        return not self.stuck and replicas_agree and self.room == self.expected

    def summary(self) -> str:
        verdict = "every replica reached endContent" if self.converged else "DIVERGED"
        if self.stuck:
            verdict += f" ({self.stuck})"
        return (
            f"{self.trace} (seed {self.seed}): {verdict}; {self.messages:,} messages, "
            f"{self.bytes:,} B, {self.disconnects} disconnects, {self.offline_edits:,} edits "
            f"typed offline, {self.restarts} server restarts"
        )


def replay_concurrent(
    trace: Trace,
    room: RoomFactory,
    client: ClientFactory,
    *,
    seed: int = 0,
    drop_rate: float = 0.001,
    restarts: int = 2,
    authored: list[Authored] | None = None,
) -> ReplayResult:
    """Type ``trace`` through ``room`` and one ``client`` per agent; see the module docstring.

    Each step, chosen by a seeded RNG: an agent whose replica has seen its next
    transaction's parents types it (online or offline), or one message in
    flight is delivered (links are FIFO). With probability ``drop_rate`` per
    step a link drops (what was in flight on it is lost) and comes back later;
    ``restarts`` times the server restarts from ``room.save()``.
    """
    rng = random.Random(seed)
    authored = authored if authored is not None else author_concurrent(trace)
    agents = range(trace.agents)
    docs: list[Doc[Any]] = [Doc(client_id=10_000 + a) for a in agents]  # replicas never type
    texts = [d.get("text", type=Text) for d in docs]
    logic = [client(d) for d in docs]
    server = room(None)
    up: list[deque[bytes]] = [deque() for _ in agents]  # client -> room, per link
    down: list[deque[bytes]] = [deque() for _ in agents]  # room -> client
    online = [False] * trace.agents
    queue: list[deque[int]] = [deque() for _ in agents]  # each agent's txns still to type
    for index, a in enumerate(authored):
        queue[a.agent].append(index)
    restart_at = sorted(rng.randrange(len(authored)) for _ in range(restarts))
    result = ReplayResult(trace.name, seed, trace.end, [], "")
    typed = 0

    def note(event: str) -> None:
        if len(result.events) < 20:
            result.events.append(f"step {result.steps}: {event}")

    def route(outgoing: Outgoing) -> None:
        for target, message in outgoing:
            if isinstance(target, int) and online[target]:
                down[target].append(message)

    def send(agent: int, messages: Iterable[bytes]) -> None:
        for message in messages:
            result.messages += 1
            result.bytes += len(message)
            up[agent].append(message)

    def connect(agent: int) -> None:
        online[agent] = True
        route(server.join(agent))
        send(agent, logic[agent].connect())

    def disconnect(agent: int) -> None:
        online[agent] = False
        up[agent].clear()  # in flight on a dropped link: lost
        down[agent].clear()
        logic[agent].disconnect()
        route(server.leave(agent))

    # Replica state vectors, cached until the replica changes (None: recompute).
    seen: list[dict[int, int] | None] = [None] * trace.agents

    def ready(agent: int) -> bool:
        if not queue[agent]:
            return False
        vector = seen[agent]
        if vector is None:
            vector = seen[agent] = decode_state_vector(docs[agent].get_state())
        needs = authored[queue[agent][0]].needs
        return all(vector.get(c, 0) >= clock for c, clock in needs.items())

    for agent in agents:
        connect(agent)
    while True:
        result.steps += 1
        if restart_at and typed >= restart_at[0]:
            restart_at.pop(0)
            saved = server.save()
            for agent in agents:
                if online[agent]:
                    disconnect(agent)
            server = room(saved)
            result.restarts += 1
            note(f"server restart from {len(saved):,} saved bytes")
        typists = [a for a in agents if ready(a)]
        links = [(d, a) for a in agents for d in (up, down) if d[a]]
        if not typists and not links:
            offline = [a for a in agents if not online[a]]
            if offline:
                connect(rng.choice(offline))
                continue
            if typed == len(authored):
                break
            result.stuck = (
                f"stuck at step {result.steps}: {len(authored) - typed:,} edits wait for "
                "edits no replica will ever receive"
            )
            break
        if typists and (not links or rng.random() < 0.5):
            agent = rng.choice(typists)
            item = authored[queue[agent].popleft()]
            docs[agent].apply_update(item.update)  # the keystroke, on this agent's replica
            seen[agent] = None
            send(agent, logic[agent].local_update(item.update))
            typed += 1
            if not online[agent]:
                result.offline_edits += 1
        else:
            direction, agent = rng.choice(links)
            message = direction[agent].popleft()
            if direction is up:
                route(server.receive(agent, message))
            else:
                send(agent, logic[agent].receive(message))
                seen[agent] = None
        if rng.random() < drop_rate:
            agent = rng.choice(list(agents))
            if online[agent]:
                disconnect(agent)
                result.disconnects += 1
                note(f"agent {agent} dropped")
        if rng.random() < 0.01:  # a dropped link comes back, on average 100 steps later
            offline = [a for a in agents if not online[a]]
            if offline:
                connect(rng.choice(offline))
    result.replicas = [str(t) for t in texts]
    check: Doc[Any] = Doc()
    check.apply_update(server.save())
    result.room = str(check.get("text", type=Text))
    return result
