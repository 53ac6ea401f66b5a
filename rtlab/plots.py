"""Plots for lessons and grader reports: arrival histograms and client timelines.

Every function takes plain numbers (seconds) so that simulated and live runs
plot the same way, and returns the matplotlib Figure (nothing is shown
implicitly, so notebooks stay in control of their outputs).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "arrival_histogram",
    "arrival_histograms",
    "client_timeline",
    "figure_to_png_base64",
    "peak_in_window",
    "sequence_chart",
]

COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a"]


def peak_in_window(times: Sequence[float], window: float = 0.1) -> int:
    """The largest number of ``times`` that fall inside any ``window`` seconds."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _bins(start: float, end: float, width: float) -> list[float]:
    count = max(1, round((end - start) / width))
    return [start + i * width for i in range(count + 1)]


def arrival_histogram(
    times: Sequence[float],
    *,
    start: float,
    end: float,
    bin_width: float = 0.1,
    title: str = "",
    capacity: float | None = None,
    marks: Mapping[str, float] | None = None,
) -> Figure:
    """Connection attempts per ``bin_width`` seconds, with an optional capacity line."""
    return arrival_histograms(
        {"": times}, start=start, end=end, bin_width=bin_width, title=title,
        capacity=capacity, marks=marks,
    )


def arrival_histograms(
    series: Mapping[str, Sequence[float]],
    *,
    start: float,
    end: float,
    bin_width: float = 0.1,
    title: str = "",
    capacity: float | None = None,
    marks: Mapping[str, float] | None = None,
) -> Figure:
    """One histogram panel per series (e.g. per strategy), sharing the x axis."""
    rows = len(series)
    fig, axes = plt.subplots(
        rows, 1, figsize=(8, 1.2 + 1.35 * rows), sharex=True, squeeze=False
    )
    bins = _bins(start, end, bin_width)
    per = f"per {bin_width * 1000:.0f} ms" if bin_width < 1 else f"per {bin_width:g} s"
    for i, (ax, (label, times)) in enumerate(zip(axes[:, 0], series.items(), strict=True)):
        shown = [t for t in times if start <= t <= end]
        # An array, and one filled outline instead of a patch per bin: with lists of
        # tens of thousands of times and many bins, hist() is otherwise the slow part.
        ax.hist(np.asarray(shown, dtype=float), bins=bins, color=COLOURS[i % len(COLOURS)],
                linewidth=0, histtype="stepfilled")
        if capacity is not None:
            ax.axhline(capacity, color="#cf222e", linestyle="--", linewidth=1)
        for name, t in (marks or {}).items():
            ax.axvline(t, color="#57606a", linestyle=":", linewidth=1)
            if i == 0:
                ax.annotate(name, (t, 1), xycoords=("data", "axes fraction"),
                            fontsize=8, color="#57606a", ha="left", va="top")
        peak = peak_in_window(shown, bin_width)
        ax.set_ylabel(per, fontsize=8)
        heading = f"{label}  (peak {peak} {per})" if label else f"peak {peak} {per}"
        ax.set_title(heading, fontsize=9, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    if capacity is not None:
        axes[0, 0].plot([], [], color="#cf222e", linestyle="--", label="server capacity")
        axes[0, 0].legend(fontsize=8, loc="upper right", frameon=False)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def client_timeline(
    clients: Mapping[str, Sequence[tuple[float, str]]],
    *,
    start: float,
    end: float,
    title: str = "",
    marks: Mapping[str, float] | None = None,
) -> Figure:
    """Per-client rows: connected spans as bars, failed attempts as ticks.

    Each client's events are ``(time, kind)`` with kind ``"open"``,
    ``"closed"``, ``"attempt"`` or ``"refused"``.
    """
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.32 * len(clients)))
    for row, events in enumerate(clients.values()):
        opened: float | None = None
        for t, kind in events:
            if kind == "open":
                opened = t
            elif kind.startswith("closed") and opened is not None:
                ax.barh(row, t - opened, left=opened, height=0.5, color="#1a7f37")
                opened = None
            elif kind == "refused" and start <= t <= end:
                ax.plot(t, row, marker="|", color="#cf222e", markersize=9)
        if opened is not None:
            ax.barh(row, end - opened, left=opened, height=0.5, color="#1a7f37")
    for name, t in (marks or {}).items():
        ax.axvline(t, color="#57606a", linestyle=":", linewidth=1)
        ax.annotate(name, (t, 1), xycoords=("data", "axes fraction"), fontsize=8,
                    color="#57606a", va="top")
    ax.set_yticks(range(len(clients)), list(clients), fontsize=8)
    ax.set_xlim(start, end)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)   green: connected   red tick: refused attempt")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def sequence_chart(
    lanes: Sequence[str],
    messages: Sequence[tuple[str, str, str]],
    *,
    title: str = "",
) -> Figure:
    """A message sequence chart: one vertical line per lane, one arrow per message.

    ``messages`` are ``(sender, receiver, label)`` in the order they happened,
    drawn top to bottom; the label sits on its arrow.
    """
    x = {lane: i for i, lane in enumerate(lanes)}
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 0.34 * len(messages)))
    bottom = len(messages) + 0.2
    for lane, i in x.items():
        ax.plot([i, i], [-0.6, bottom], color="#8c959f", linewidth=1, zorder=1)
        ax.text(i, -0.75, lane, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for row, (sender, receiver, label) in enumerate(messages):
        start, end = x[sender], x[receiver]
        colour = COLOURS[start % len(COLOURS)]  # one colour per sender
        ax.annotate("", xy=(end, row + 0.5), xytext=(start, row + 0.5),
                    arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.2})
        ax.text((start + end) / 2, row + 0.4, label, ha="center", va="bottom", fontsize=7.5,
                color="#24292f")
    ax.set_xlim(-0.5, len(lanes) - 0.5)
    ax.set_ylim(bottom, -1.0)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def figure_to_png_base64(fig: Figure) -> str:
    """Render and close ``fig``; return it as base64 PNG (for reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
