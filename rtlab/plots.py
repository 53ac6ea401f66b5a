"""Plots for lessons and grader reports: arrival histograms and client timelines.

Every function takes plain numbers (seconds) so that simulated and live runs
plot the same way, and returns the matplotlib Figure (nothing is shown
implicitly, so notebooks stay in control of their outputs).

Two rules keep a figure readable at a glance, whatever the run: named moments
(``marks``) are labelled above the plot, each lifted to a row of its own when it
would touch its neighbour; and a single histogram over a long run (a grader's
failing scenario: a 100 ms spike in five minutes) gets a second panel that zooms on
its busiest few seconds, at a bin width fine enough to see the spike.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

__all__ = [
    "arrival_histogram",
    "arrival_histograms",
    "busiest_window",
    "client_timeline",
    "figure_to_png_base64",
    "peak_in_window",
    "sequence_chart",
]

COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a"]
MARK_COLOUR = "#57606a"
ZOOM_SHADE = "#fff8c5"
ZOOM_AFTER = 60.0  # a histogram spanning more seconds than this gets a zoom panel
ZOOM_SPAN = 4.0  # seconds the zoom panel shows
ZOOM_BIN = 0.1  # its bin width: the window graders count herds in
LABEL_ROW = 10  # points between rows of mark labels


def peak_in_window(times: Sequence[float], window: float = 0.1) -> int:
    """The largest number of ``times`` that fall inside any ``window`` seconds."""
    return busiest_window(times, window)[1]


def busiest_window(times: Sequence[float], window: float = 0.1) -> tuple[float, int]:
    """Where the busiest ``window`` seconds start, and how many ``times`` fall in them."""
    ordered = sorted(times)
    best, at, lo = 0, ordered[0] if ordered else 0.0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, ordered[lo]
    return at, best


def _bins(start: float, end: float, width: float) -> list[float]:
    count = max(1, round((end - start) / width))
    return [start + i * width for i in range(count + 1)]


def _per(bin_width: float) -> str:
    return f"per {bin_width * 1000:.0f} ms" if bin_width < 1 else f"per {bin_width:g} s"


def _draw_marks(
    ax: Axes, marks: Mapping[str, float] | None, start: float, end: float, *, labelled: bool
) -> list[Annotation]:
    """A dotted line per mark inside [start, end]; labels (if asked) sit above the axes."""
    labels = []
    for name, t in sorted((marks or {}).items(), key=lambda item: item[1]):
        if not start <= t <= end:
            continue
        ax.axvline(t, color=MARK_COLOUR, linestyle=":", linewidth=1)
        if labelled:
            where = (t - start) / (end - start) if end > start else 0.5
            # A label starts at its line; near the right edge it ends there instead, so
            # it stays inside the figure.
            ha = "right" if where > 0.9 else "left"
            labels.append(ax.annotate(
                name, (t, 1), xycoords=("data", "axes fraction"), xytext=(0, 2),
                textcoords="offset points", fontsize=8, color=MARK_COLOUR, ha=ha, va="bottom",
            ))
    return labels


def _stagger(fig: Figure, labels: list[Annotation]) -> int:
    """Lift each label onto the lowest row where it touches no other; return the rows used."""
    if not labels:
        return 0
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    rows: list[list[Bbox]] = []
    for label in labels:
        for row in range(len(rows) + 1):
            label.xyann = (0, 2 + LABEL_ROW * row)
            box = label.get_window_extent(renderer).expanded(1.06, 1.0)
            if row == len(rows):
                rows.append([box])
                break
            if not any(box.overlaps(other) for other in rows[row]):
                rows[row].append(box)
                break
    return len(rows)


def _finish(fig: Figure, axes_labels: Sequence[tuple[Axes, list[Annotation]]],
            title_size: float = 9) -> None:
    """Lay out, then stagger mark labels and lift each axes' (left) title above them."""
    fig.tight_layout()
    for ax, labels in axes_labels:
        rows = _stagger(fig, labels)
        if rows:
            ax.set_title(ax.get_title(loc="left"), loc="left", fontsize=title_size,
                         pad=6 + LABEL_ROW * rows)
    fig.tight_layout()


def arrival_histogram(
    times: Sequence[float],
    *,
    start: float,
    end: float,
    bin_width: float = 0.1,
    title: str = "",
    capacity: float | None = None,
    marks: Mapping[str, float] | None = None,
    zoom: bool | None = None,
) -> Figure:
    """Connection attempts per ``bin_width`` seconds, with an optional capacity line.

    ``zoom`` adds a panel on the busiest ``ZOOM_SPAN`` seconds, in bins of
    ``ZOOM_BIN``; by default it does when the run is longer than ``ZOOM_AFTER``
    seconds, where a burst of a few hundred milliseconds would be a hairline.
    """
    shown = [t for t in times if start <= t <= end]
    if zoom is None:
        zoom = end - start > ZOOM_AFTER and bool(shown)
    if not zoom:
        return arrival_histograms(
            {"": times}, start=start, end=end, bin_width=bin_width, title=title,
            capacity=capacity, marks=marks,
        )
    fig, (whole, near) = plt.subplots(
        1, 2, figsize=(9, 2.9), gridspec_kw={"width_ratios": [2.3, 1]}
    )
    at, _ = busiest_window(shown, ZOOM_BIN)
    lo = max(start, at - ZOOM_SPAN / 4)
    hi = min(end, lo + ZOOM_SPAN)
    lo = max(start, hi - ZOOM_SPAN)
    whole.axvspan(lo, hi, color=ZOOM_SHADE, linewidth=0, zorder=0)
    near.set_facecolor(ZOOM_SHADE)
    panels = ((whole, start, end, bin_width), (near, lo, hi, min(bin_width, ZOOM_BIN)))
    for ax, a, b, width in panels:
        inside = np.asarray([t for t in shown if a <= t <= b], dtype=float)
        # An edge as wide as a pixel or two, so a one-bin burst stays visible.
        ax.hist(inside, bins=_bins(a, b, width), color=COLOURS[0], edgecolor=COLOURS[0],
                linewidth=1.2, histtype="stepfilled")
        if capacity is not None:
            ax.axhline(capacity, color="#cf222e", linestyle="--", linewidth=1)
        ax.set_xlim(a, b)
        ax.set_ylabel(_per(width), fontsize=8)
        ax.set_xlabel("time (s)")
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    whole.set_title(f"whole run: peak {peak_in_window(shown, bin_width)} {_per(bin_width)}",
                    fontsize=9, loc="left")
    near.set_title(f"zoom (shaded): peak {peak_in_window(shown, ZOOM_BIN)} {_per(ZOOM_BIN)}",
                   fontsize=9, loc="left")
    labels = [(whole, _draw_marks(whole, marks, start, end, labelled=True)),
              (near, _draw_marks(near, marks, lo, hi, labelled=True))]
    if capacity is not None:
        whole.plot([], [], color="#cf222e", linestyle="--", label="server capacity")
        whole.legend(fontsize=8, loc="upper right", frameon=False)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    _finish(fig, labels)
    return fig


def arrival_histograms(
    series: Mapping[str, Sequence[float]],
    *,
    start: float,
    end: float,
    bin_width: float = 0.1,
    title: str = "",
    capacity: float | None = None,
    marks: Mapping[str, float] | None = None,
    colours: Sequence[str] | None = None,
) -> Figure:
    """One histogram panel per series (e.g. per strategy), sharing the x axis.

    ``colours`` gives each series its colour, in order (say red for the bad case);
    by default they take the course's palette in turn.
    """
    palette = list(colours or COLOURS)
    rows = len(series)
    fig, axes = plt.subplots(
        rows, 1, figsize=(8, 1.2 + 1.35 * rows), sharex=True, squeeze=False
    )
    bins = _bins(start, end, bin_width)
    per = _per(bin_width)
    labels: list[tuple[Axes, list[Annotation]]] = []
    for i, (ax, (label, times)) in enumerate(zip(axes[:, 0], series.items(), strict=True)):
        shown = [t for t in times if start <= t <= end]
        # An array, and one filled outline instead of a patch per bin: with lists of
        # tens of thousands of times and many bins, hist() is otherwise the slow part.
        ax.hist(np.asarray(shown, dtype=float), bins=bins, color=palette[i % len(palette)],
                linewidth=0, histtype="stepfilled")
        if capacity is not None:
            ax.axhline(capacity, color="#cf222e", linestyle="--", linewidth=1)
        labels.append((ax, _draw_marks(ax, marks, start, end, labelled=i == 0)))
        peak = peak_in_window(shown, bin_width)
        ax.set_ylabel(per, fontsize=8)
        if not shown:  # nothing arrived: an honest zero, not an axis around it
            ax.set_ylim(0, 1.3 * capacity if capacity else 1)
        heading = f"{label}  (peak {peak} {per})" if label else f"peak {peak} {per}"
        ax.set_title(heading, fontsize=9, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    if capacity is not None:
        axes[0, 0].plot([], [], color="#cf222e", linestyle="--", label="server capacity")
        axes[0, 0].legend(fontsize=8, loc="upper right", frameon=False)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    _finish(fig, labels)
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
    labels = _draw_marks(ax, marks, start, end, labelled=True)
    ax.set_yticks(range(len(clients)), list(clients), fontsize=8)
    ax.set_xlim(start, end)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)   green: connected   red tick: refused attempt")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    _finish(fig, [(ax, labels)], title_size=10)
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
