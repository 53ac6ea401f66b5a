"""Helpers of lesson 07 (ordering and rooms): the sums behind its prose, and the checks
of its claims, so that the lesson's cells stay about the room and not the plumbing."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.text import Annotation

from rtlab.topics.ordering_and_rooms.causal import CausalRun, causal_plot
from rtlab.topics.ordering_and_rooms.live import JoinRace

__all__ = ["causal_figure", "describe_loss", "describe_wait", "read_window"]


def read_window(rate: float, read_delay: float) -> float:
    """Messages published while a history read's answer travels back (half the read):
    what a history-then-subscribe join loses from the read alone."""
    return rate * read_delay / 2


def describe_loss(race: JoinRace, *, rate: float, read_delay: float) -> str:
    """One line: what each joiner lost on average, against the read's own window."""
    lost = sum(race.lost.values()) / max(race.joiners, 1)
    window = read_window(rate, read_delay)
    return (f"each joiner lost {lost:.1f} messages on average; the read alone accounts for "
            f"RATE x READ_DELAY / 2 = {window:.1f} (the join's own round trip adds the rest)")


def describe_wait(run: CausalRun) -> str:
    """How many deliveries had to wait for something they depend on, and the longest wait."""
    held = run.held_back()
    if not held:
        return f"none of the {len(run.deliveries)} deliveries had to wait"
    longest = max(d.delivered - d.arrived for d in held)
    return (f"{len(held)} of {len(run.deliveries)} deliveries waited for a message they "
            f"depend on, the longest for {longest * 1000:.0f} ms")


SEND_COLOUR = "#0969da"  # the colour causal_plot gives the labels of sends
HELD_COLOUR = "#cf222e"  # ...and the labels of held-back bars
CLOSE = 0.02  # seconds: two sends closer than this on one lane would share a label spot


def causal_figure(run: CausalRun, title: str = "") -> Figure:
    """:func:`causal_plot`, with the labels of sends made at nearly the same moment
    set side by side instead of on top of each other, and the labels of held-back bars
    drawn over the lines that cross them."""
    fig = causal_plot(run, title)
    for text in fig.axes[0].texts:
        if text.get_color() == HELD_COLOUR:
            text.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.6})
            text.set_zorder(5)
    labels = [a for a in fig.axes[0].texts
              if isinstance(a, Annotation) and a.get_color() == SEND_COLOUR]
    previous: dict[float, float] = {}  # lane -> time of the last label placed there
    for label in sorted(labels, key=lambda a: (a.xy[1], a.xy[0])):
        t, lane = label.xy
        if lane in previous and t - previous[lane] < CLOSE:
            label.xyann = (4.0, 6.0)  # this one to the right of the spot...
            label.set_horizontalalignment("left")
            earlier = next(a for a in labels if a.xy == (previous[lane], lane))
            earlier.xyann = (-4.0, 6.0)  # ...the one before to its left
            earlier.set_horizontalalignment("right")
        previous[lane] = t
    return fig
