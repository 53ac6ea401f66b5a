"""What the transports lesson prints and asserts, kept out of its cells.

The lesson measures four transports live (:mod:`rtlab.topics.transports.live`);
these helpers turn its measurements into the sentences and tables it shows, and
check the claims its prose makes, so a run that contradicts the text fails loudly
instead of being stored under it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rtlab.topics.transports.live import TRANSPORTS, Measurement

__all__ = ["check_costs", "check_delays", "cost_table", "costs_in_words", "delays_in_words"]

PUSH = ("long-polling", "sse", "websocket")


def check_delays(run: Measurement) -> None:
    """What the delay section claims: everyone got everything once; polling waits about
    half an interval on average and nearly a whole one at worst; push is far quicker."""
    interval = run.setup.poll_interval
    for t in TRANSPORTS:
        s = run[t]
        assert (s.delivered, s.duplicates, s.missing) == (s.events * s.clients, 0, 0), t
    polling = run["polling"]
    mean = polling.delay_ms("mean") / 1000
    assert 0.3 * interval <= mean <= 0.7 * interval, f"polling: mean {mean:.3f} s, not ~half"
    assert polling.delay_ms("max") / 1000 > 0.7 * interval, "some events wait nearly an interval"
    for t in PUSH:
        assert run[t].delay_ms("mean") < polling.delay_ms("mean") / 4, f"{t} pushes at once"


def delays_in_words(run: Measurement) -> str:
    """The delays of this run, as the Markdown sentence the lesson shows under its plot."""
    polling = run["polling"]
    means = [run[t].delay_ms("mean") for t in PUSH]
    p95s = [run[t].delay_ms(0.95) for t in PUSH]
    return (
        f"**This run:** polling every {run.setup.poll_interval:g} s delivered after "
        f"{polling.delay_ms('mean'):.0f} ms on average (p95 {polling.delay_ms(0.95):.0f} ms, "
        f"worst {polling.delay_ms('max'):.0f} ms); the three push transports after "
        f"{min(means):.0f}-{max(means):.0f} ms on average (p95 {min(p95s):.0f}-"
        f"{max(p95s):.0f} ms)."
    )


def cost_table(by_rate: Sequence[Measurement]) -> str:
    """Requests, bytes and server CPU per delivered event, one column per update rate."""
    lines = ["per delivered event       requests          bytes on the wire   server CPU (us)",
             "update rate:          " + "".join(f"{m.setup.rate:>6g}/s" for m in by_rate) * 3]
    for t in TRANSPORTS:
        lines.append(f"{t:<14}"
                     + "".join(f"{m[t].requests_per_event:8.2f}" for m in by_rate)
                     + "".join(f"{m[t].bytes_per_event:8.0f}" for m in by_rate)
                     + "".join(f"{m[t].cpu_us_per_event:8.0f}" for m in by_rate))
    return "\n".join(lines)


def costs_in_words(quiet: Measurement, busy: Measurement, crowd: Measurement) -> str:
    """The cost figures the lesson's prose relies on, as Markdown from this run."""
    poll_q, poll_b = quiet["polling"], busy["polling"]
    ratios = [m["long-polling"].bytes_per_event / m["sse"].bytes_per_event
              for m in (quiet, busy)]
    return "\n".join([
        f"**This run.** Polling: {poll_q.requests_per_event:.2f} requests and "
        f"{poll_q.bytes_per_event:.0f} bytes per event at {quiet.setup.rate:g} event/s, with "
        f"{poll_q.idle_per_minute_per_client:.0f} empty answers per client per minute; "
        f"{poll_b.requests_per_event:.2f} requests and {poll_b.bytes_per_event:.0f} bytes at "
        f"{busy.setup.rate:g}/s.",
        f"Long polling: {busy['long-polling'].requests_per_event:.2f}-"
        f"{quiet['long-polling'].requests_per_event:.2f} requests per event, "
        f"{min(ratios):.1f}-{max(ratios):.1f} times SSE's bytes, and "
        f"{busy['long-polling'].cpu_us_per_event:.0f} against "
        f"{busy['sse'].cpu_us_per_event:.0f} us of server CPU per event at {busy.setup.rate:g}/s.",
        f"SSE and WebSocket at {busy.setup.rate:g}/s: {busy['sse'].bytes_per_event:.0f} and "
        f"{busy['websocket'].bytes_per_event:.0f} bytes per event for a "
        f"{busy['sse'].payload_per_event:.0f}-byte payload.",
        f"The audience, {quiet.setup.clients} -> {crowd.setup.clients} clients at "
        f"{quiet.setup.rate:g} event/s: polling {quiet['polling'].requests} -> "
        f"{crowd['polling'].requests} requests, long polling {quiet['long-polling'].requests} -> "
        f"{crowd['long-polling'].requests}, SSE and WebSocket {quiet['sse'].requests} -> "
        f"{crowd['sse'].requests} (one per client).",
    ])


def check_costs(by_rate: Sequence[Measurement], quiet: Measurement, crowd: Measurement) -> None:
    """What the cost section claims, for every rate measured."""
    slow, busy = by_rate[0], by_rate[-1]
    assert slow["polling"].requests_per_event > 1.0, "quiet: more polls than events"
    assert slow["polling"].idle_per_minute_per_client > 10, "quiet: many polls come back empty"
    assert busy["polling"].requests_per_event < 0.5, "busy: a poll carries several events"
    for m in by_rate:
        clients = m.setup.clients
        assert m["sse"].requests == m["websocket"].requests == clients, "one request per client"
        assert m["long-polling"].requests_per_event > 0.6, "long polling: a request per answer"
        assert m["long-polling"].bytes_per_event > 1.5 * m["sse"].bytes_per_event
    assert busy["long-polling"].bytes_per_event > 2.5 * busy["sse"].bytes_per_event
    per_client = [m["polling"].requests_per_second / m.setup.clients for m in (quiet, crowd)]
    assert 0.6 < per_client[1] / per_client[0] < 1.6, "polling's load grows with the audience"
