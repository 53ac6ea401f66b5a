"""Vector clocks among peers without a central sequencer, in virtual time.

Three peers chat directly, each over its own links to the others (no room server
to number messages). A reply is sent only after its question was shown, so it
*causally* follows it; links differ in speed, so a reply can reach a third peer
before the question does. Each peer runs :class:`CausalPeer` (the pattern page's
code): increment your own entry on send, hold back a message until everything it
depends on has been delivered, merge clocks by pointwise maximum. :func:`causal_run`
records when each message arrived and when it was delivered, and why it waited;
:func:`causal_plot` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from rtlab.sim.loop import SimLoop

__all__ = ["CausalPeer", "CausalRun", "Clock", "causal_plot", "causal_run", "happened_before"]

Clock = dict[str, int]
PEERS = ("A", "B", "C")


def happened_before(a: Clock, b: Clock) -> bool:
    """True when every entry of ``a`` is <= ``b``'s and at least one is smaller."""
    keys = a.keys() | b.keys()
    return (all(a.get(k, 0) <= b.get(k, 0) for k in keys)
            and any(a.get(k, 0) < b.get(k, 0) for k in keys))


@dataclass
class Note:
    sender: str
    clock: Clock
    text: str

    @property
    def label(self) -> str:
        return f"{self.sender}{self.clock[self.sender]}"


class CausalPeer:
    """One peer: a vector clock and a hold-back queue (causal delivery)."""

    def __init__(self, me: str) -> None:
        self.me = me
        self.clock: Clock = {}
        self.held: list[Note] = []

    def send(self, text: str) -> Note:
        self.clock[self.me] = self.clock.get(self.me, 0) + 1
        return Note(self.me, dict(self.clock), text)

    def missing(self, note: Note) -> list[str]:
        """What ``note`` waits for: the labels of messages not delivered yet."""
        s = note.sender
        gaps = [f"{s}{n}" for n in range(self.clock.get(s, 0) + 1, note.clock[s])]
        gaps += [f"{k}{n}" for k, top in note.clock.items() if k != s
                 for n in range(self.clock.get(k, 0) + 1, top + 1)]
        return gaps

    def receive(self, note: Note) -> list[Note]:
        self.held.append(note)
        delivered: list[Note] = []
        progress = True
        while progress:
            progress = False
            for waiting in list(self.held):
                if waiting.clock[waiting.sender] <= self.clock.get(waiting.sender, 0):
                    self.held.remove(waiting)  # a duplicate of something delivered
                elif not self.missing(waiting):
                    self.held.remove(waiting)
                    for k, n in waiting.clock.items():
                        self.clock[k] = max(self.clock.get(k, 0), n)
                    delivered.append(waiting)
                    progress = True
        return delivered


@dataclass
class Delivery:
    peer: str
    label: str
    text: str
    sent: float
    arrived: float
    delivered: float
    waited_for: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.delivered > self.arrived + 1e-9


@dataclass
class CausalRun:
    deliveries: list[Delivery]
    sends: list[tuple[float, str, str, Clock]]  # (time, peer, label, clock)

    def held_back(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.held]

    def table(self) -> str:
        rows = [f"{'at':>4} {'msg':<4} {'clock':<18} {'arrived':>8} {'shown':>8}  waited for"]
        for d in sorted(self.deliveries, key=lambda d: (d.peer, d.delivered)):
            clock = next(c for _, p, label, c in self.sends if label == d.label)
            text = ", ".join(d.waited_for) if d.held else ""
            rows.append(f"{d.peer:>4} {d.label:<4} {_clock(clock):<18} {d.arrived:8.3f} "
                        f"{d.delivered:8.3f}  {text}")
        return "\n".join(rows)


def _clock(clock: Clock) -> str:
    return "{" + ", ".join(f"{k}:{clock.get(k, 0)}" for k in PEERS) + "}"


def causal_run(seed: int = 7, *, messages: int = 9, slow: tuple[str, str] = ("A", "C"),
               reply_chance: float = 0.6) -> CausalRun:
    """Three peers exchange ``messages`` notes; the ``slow`` link takes 150-250 ms.

    Other links take 10-60 ms. After showing a note, a peer replies to it with
    probability ``reply_chance`` (a reply causally follows what it answers);
    the rest are new notes sent at random moments.
    """
    loop = SimLoop(seed)
    rng = loop.rng
    peers = {p: CausalPeer(p) for p in PEERS}
    deliveries: list[Delivery] = []
    sends: list[tuple[float, str, str, Clock]] = []
    arrivals: dict[tuple[str, str], tuple[float, list[str]]] = {}
    sent_at: dict[str, float] = {}
    budget = [messages]

    def delay(src: str, dst: str) -> float:
        if {src, dst} == set(slow):
            return rng.uniform(0.15, 0.25)
        return rng.uniform(0.01, 0.06)

    def post(peer: str, text: str) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        note = peers[peer].send(text)
        sends.append((loop.now, peer, note.label, dict(note.clock)))
        sent_at[note.label] = loop.now
        for other in PEERS:
            if other != peer:
                loop.call_later(delay(peer, other), arrive, other, note)

    def arrive(peer: str, note: Note) -> None:
        arrivals[(peer, note.label)] = (loop.now, peers[peer].missing(note))
        for shown in peers[peer].receive(note):
            got, waited = arrivals[(peer, shown.label)]
            deliveries.append(Delivery(peer, shown.label, shown.text, sent_at[shown.label],
                                       got, loop.now, waited))
            if rng.random() < reply_chance:
                loop.call_later(rng.uniform(0.005, 0.02), post, peer, f"re: {shown.label}")

    for i in range(3):
        loop.call_at(rng.uniform(0.0, 0.3), post, rng.choice(PEERS), f"note {i + 1}")
    loop.run(5.0)
    loop.close()
    return CausalRun(deliveries, sends)


def causal_plot(run: CausalRun, title: str = "") -> Figure:
    """One lane per peer: sends (squares), arrivals (dots), held-back time (red bars)."""
    fig, ax = plt.subplots(figsize=(8.5, 3.4))
    lane = {p: 1.2 * i for i, p in enumerate(PEERS)}
    for t, peer, label, _ in run.sends:
        ax.plot(t, lane[peer], "s", color="#0969da", markersize=6)
        ax.annotate(label, (t, lane[peer]), xytext=(0, 6), textcoords="offset points",
                    fontsize=7.5, ha="center", va="bottom", color="#0969da")
    stacked = dict.fromkeys(PEERS, 0)
    for d in sorted(run.deliveries, key=lambda d: d.arrived):
        y = lane[d.peer]
        ax.plot(d.arrived, y, "o", color="#6e7781", markersize=4)
        if d.held:  # a bar of its own, a little below the lane, labelled at its end
            stacked[d.peer] += 1
            below = y + 0.2 * stacked[d.peer]
            ax.plot([d.arrived, d.arrived], [y, below], color="#cf222e", linewidth=0.8)
            ax.plot([d.arrived, d.delivered], [below, below], color="#cf222e", linewidth=3,
                    alpha=0.6)
            ax.annotate(f"{d.label} held for {', '.join(d.waited_for)}", (d.delivered, below),
                        xytext=(3, 0), textcoords="offset points", fontsize=7, va="center",
                        color="#cf222e")
    end = max([d.delivered for d in run.deliveries] + [t for t, *_ in run.sends])
    ax.set_xlim(-0.02, end + 0.15)  # room for the labels at the ends of the bars
    ax.set_yticks(list(lane.values()), [f"peer {p}" for p in PEERS])
    ax.set_ylim(max(lane.values()) + 0.2 * (max(stacked.values()) + 1), -0.5)
    ax.set_xlabel("time (s)   blue: sent   grey: arrived   red: held back until its causes arrive")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig
