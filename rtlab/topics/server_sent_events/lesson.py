"""What the Server-Sent Events lesson prints, plots and asserts, kept out of its cells.

The lesson runs :mod:`rtlab.topics.server_sent_events.live` (real sockets) and
asks retry policies for their delays in virtual time; these helpers read a raw
stream, draw the resume plot, probe the server with malformed requests, tabulate
an outage, and check the claims the prose makes, so that a run which contradicts
the text fails instead of being stored under it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from rtlab.learner import describe_error, load_exercise, time_limit
from rtlab.plots import peak_in_window
from rtlab.topics.server_sent_events.live import ResumeRun, SSEClients, SSEServer, resume_demo
from rtlab.wire.sse import format_event

__all__ = [
    "NoIds",
    "OutageRow",
    "check_resume",
    "flood_in_words",
    "outage_in_words",
    "outage_table",
    "plot_resume",
    "probe_malformed",
    "read_raw",
    "resume_in_words",
    "serve_your_log",
    "show",
]


def show(text: str) -> None:
    """Stream text as it travels, one line per row; the bar makes blank lines visible."""
    for line in text.split("\n")[:-1]:
        print(f"| {line}")


class NoIds:
    """The anti-pattern: events without ids, streams without ``retry:``, no replay."""

    def publish(self, data: str, event: str | None = None) -> str:
        return format_event(data, event=event)

    def open(self, last_event_id: str | None) -> str:
        return ""


async def read_raw(url: str, seconds: float,
                   headers: dict[str, str] | None = None) -> tuple[aiohttp.ClientResponse, str]:
    """The raw text of a response for ``seconds``: a stream never ends on its own."""
    async with (aiohttp.ClientSession(trust_env=False) as http,
                http.get(url, headers=headers or {}) as response):
        chunks = []
        try:
            async with asyncio.timeout(seconds):
                async for chunk in response.content.iter_any():
                    chunks.append(chunk)
        except TimeoutError:
            pass
        return response, b"".join(chunks).decode()


def check_resume(without_ids: ResumeRun, with_ids: ResumeRun) -> None:
    """The claims of the resume section: without ids events are lost; with them, none."""
    assert sum(lost for lost, _ in without_ids.lost_and_duplicated()) > 0, "no ids: a gap"
    assert all(counts == (0, 0) for counts in with_ids.lost_and_duplicated()), "ids: exact"


def resume_in_words(without_ids: ResumeRun, with_ids: ResumeRun) -> str:
    """The resume figures of this run, as Markdown."""
    lost = [n for n, _ in without_ids.lost_and_duplicated()]
    latencies = with_ids.replay_latencies()
    sent_back = sorted({a.last_event_id for c in with_ids.clients for a in c.attempts
                        if a.last_event_id})
    span = f"{min(lost)}" if min(lost) == max(lost) else f"{min(lost)} to {max(lost)}"
    return (
        f"**This run:** without ids each client lost {span} of {len(without_ids.published)} "
        f"events. With ids, {len(with_ids.clients)} clients sent back `Last-Event-ID` "
        f"{', '.join(f'`{i}`' for i in sent_back[:4])}{'...' if len(sent_back) > 4 else ''} "
        f"and lost none; the replay arrived {statistics.median(latencies) * 1000:.0f} ms after "
        f"the reconnect request (median; slowest {max(latencies) * 1000:.0f} ms)."
    )


def plot_resume(runs: Sequence[ResumeRun]) -> Figure:
    """Published events (grey) and those client 0 received (dots), one panel per run."""
    fig, axes = plt.subplots(1, len(runs), figsize=(9, 3.2), sharey=True, squeeze=False)
    for ax, run, colour in zip(axes[0], runs, ("#cf222e", "#1a7f37"), strict=False):
        client = run.clients[0]
        points = [(r.t, int(r.data.split()[1])) for r in client.received if r.event == "message"]
        ax.plot([t for t, _ in run.published], range(len(run.published)), color="#d0d7de",
                linewidth=6, label="published")
        ax.plot([t for t, _ in points], [n for _, n in points], "o", markersize=3,
                color=colour, label="received by client 0")
        ax.axvline(run.cut_at, color="#57606a", linestyle=":", linewidth=1)
        back = [a.t for a in client.attempts][1]
        ax.axvline(back, color="#57606a", linestyle="--", linewidth=1)
        ax.annotate(" cut", (run.cut_at, len(run.published) - 2), fontsize=8, color="#57606a")
        ax.annotate(" reconnect", (back, 4), fontsize=8, color="#57606a")
        lost = run.lost_and_duplicated()[0][0]
        ax.set_title(f"{run.label}: {lost} lost", fontsize=10, loc="left")
        ax.set_xlabel("time (s)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0, 0].set_ylabel("event number")
    axes[0, -1].legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


async def probe_malformed(server: SSEServer, scale: float) -> list[int]:
    """Send the server garbage while one client reads; print what each probe got back.

    Returns the statuses; asserts that the reader was never disturbed.
    """
    watcher = await SSEClients.start(server.url, 1, time_scale=scale, name="watcher")
    await watcher.wait_for(lambda: len(server.streams) == 1)
    probes: list[tuple[str, dict[str, str]]] = [
        ("GET", {"Last-Event-ID": "not-an-id"}),
        ("GET", {"Last-Event-ID": "b7-" + "9" * 5000}),
        ("GET", {"Last-Event-ID": "x" * 100_000}),
        ("POST", {}),
    ]
    statuses = []
    async with aiohttp.ClientSession(trust_env=False) as http:
        for i, (method, headers) in enumerate(probes):
            server.publish(f"still flowing {i}")
            async with http.request(method, server.url, headers=headers) as answer:
                text = (await answer.text()).strip()
                statuses.append(answer.status)
                shown = {k: (v if len(v) < 20 else f"<{len(v):,} characters>")
                         for k, v in headers.items()}
                print(f"{method} {shown or ''} -> HTTP {answer.status}: {text[:70]}")
    reader = watcher.clients[0]
    await watcher.wait_for(lambda: len(reader.received) == len(probes))
    print(f"the other client meanwhile: {len(reader.received)} events, "
          f"{len(reader.attempts)} connection (never disturbed)")
    server.check()  # raises if the log itself had failed
    assert len(reader.received) == len(probes) and len(reader.attempts) == 1
    await watcher.stop()
    return statuses


def last_second(times: Sequence[float], end: float) -> int:
    return sum(1 for t in times if t > end - 1)


def flood_in_words(flood: Sequence[float], polite: Sequence[float], seconds: float,
                   clients: int, retry_ms: float) -> str:
    """The flood figures of this run, as Markdown; asserts the lesson's claim about them."""
    rude, kind = last_second(flood, seconds), last_second(polite, seconds)
    asked = clients * 1000 / retry_ms
    assert rude > 3 * kind, (rude, kind)
    return (
        f"**This run:** the loop that retries every {retry_ms:g} ms made {rude} requests in "
        f"the last second (it asks for {asked:.0f}: {clients} clients, {1000 / retry_ms:g} "
        f"times a second); with backoff, {kind}, {rude / max(kind, 1):.0f} times fewer."
    )


class Fixed:
    """A client that always waits the same time (a browser waits its reconnection time)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def failed(self, status: int | None) -> float:
        return self.seconds


@dataclass(frozen=True)
class OutageRow:
    label: str
    requests: int
    peak_first_minute: int
    peak_last_minute: int
    mean_last_minute: float
    back_after: float  # mean seconds from recovery to the next attempt


def _outage(policy: Callable[[random.Random], object], crowd: int, outage: float,
            seed: int) -> list[list[float]]:
    # Every client fails at t=0 and retries after policy.failed(503); each client's
    # attempt times, up to the first at or after the end of the outage.
    runs = []
    for i in range(crowd):
        client, t, times = policy(random.Random(seed * 100_003 + i)), 0.0, [0.0]
        while t < outage:
            t += client.failed(503)  # type: ignore[attr-defined]
            times.append(t)
        runs.append(times)
    return runs


def _back_after(runs: list[list[float]], start: float, end: float) -> float:
    # Mean wait from recovery (a uniformly random moment of [start, end]) to a client's next
    # attempt: per gap between two attempts, the integral of (next attempt - recovery time)
    # over the part of the gap inside [start, end].
    total = 0.0
    for times in runs:
        for before, after in itertools.pairwise(times):
            lo, hi = max(before, start), min(after, end)
            if lo < hi:
                total += ((after - lo) ** 2 - (after - hi) ** 2) / 2
    return total / (len(runs) * (end - start))


def outage_table(policies: dict[str, Callable[[random.Random], object]], *, crowd: int,
                 outage: float, seed: int) -> list[OutageRow]:
    """Ask each policy for its delays through an outage (virtual time, exact); print a table."""
    rows = []
    for label, policy in policies.items():
        runs = _outage(policy, crowd, outage, seed)
        attempts = [t for times in runs for t in times if t < outage]
        last = [t for t in attempts if t >= outage - 60]
        rows.append(OutageRow(
            label, len(attempts), peak_in_window([t for t in attempts if t < 60], 1.0),
            peak_in_window(last, 1.0), len(last) / 60, _back_after(runs, outage - 60, outage)))
    print(f"{crowd:,} clients, {outage / 60:.0f} min of HTTP 503: requests per second")
    print(f"{'client':27}{'requests':>9}{'peak, first min':>17}{'peak, last min':>16}"
          f"{'mean, last min':>16}{'back after':>12}")
    for r in rows:
        print(f"{r.label:27}{r.requests:>9,}{r.peak_first_minute:>17,}{r.peak_last_minute:>16,}"
              f"{r.mean_last_minute:>16.0f}{r.back_after:>11.1f}s")
    return rows


def outage_in_words(rows: Sequence[OutageRow]) -> str:
    """The reading of the outage table, with its numbers, as Markdown (rows: fixed short,
    fixed long, backoff)."""
    short, long, backoff = rows
    assert backoff.peak_first_minute > short.peak_first_minute, "backoff starts harder"
    assert backoff.mean_last_minute < long.mean_last_minute, "then it is the gentlest"
    return (
        f"- **Fixed delays** keep every client on the same beat: the whole crowd within the "
        f"same second, to the end. A generous `retry:` divides the load compared with the "
        f"browser default ({long.mean_last_minute:.0f} instead of "
        f"{short.mean_last_minute:.0f} requests per second), which is why the course asks "
        f"for `retry: 10000` on every stream; but each wave is still the whole crowd "
        f"({long.peak_last_minute:,} in one second).\n"
        f"- **Backoff with jitter** starts *harder*: its first waits are short (under 1 s, "
        f"then under 2 s), so the crowd made {backoff.peak_first_minute:,} requests in its "
        f"worst second. Then it spreads out and slows down: "
        f"{backoff.mean_last_minute:.0f} per second on average once the waits reach the cap "
        f"(a full-jitter wait is half the cap on average), and never more than "
        f"{backoff.peak_last_minute} in any second of the last minute. Its price is the last "
        f"column: a long random wait is likely to straddle the recovery, so clients take "
        f"{backoff.back_after:.0f} s on average to come back. The cap sets that trade-off."
    )


async def serve_your_log(schedule: dict[str, float], capacity: int = 100) -> None:
    """Serve the learner's own ``EventLog`` (``exercises/sse.py``) to the resume demo's
    clients, after trying it once, so unfinished code gets a message, not a broken demo."""
    try:
        learner = load_exercise("sse")
        with time_limit(2, "your EventLog"):
            trial = learner.EventLog(capacity, epoch="try")
            trial.open(None)
            trial.publish("a first event")
    except Exception as error:  # a TODO, a syntax error, a failing import...
        print("Your EventLog is not ready for the live server yet:")
        print(" ", describe_error(error))
        print("Keep going in exercises/sse.py, then run this cell again.")
        return
    try:
        mine = await resume_demo(learner.EventLog(capacity, epoch="yours"), "your EventLog",
                                 **schedule)  # type: ignore[arg-type]
        print(mine.summary())
        print("lost/duplicated per client:", sorted(set(mine.lost_and_duplicated())))
    except Exception as error:
        print("Your EventLog raised in the live server:", describe_error(error))
