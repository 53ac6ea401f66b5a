"""Grader of the heartbeat exercise (``exercises/heartbeat.py``).

It runs the learner's sans-I/O ``Heartbeat`` on both ends of simulated
WebSocket connections under seeded faults: the scenarios and their driver live
in ``rtlab/topics/connection_health/sim.py``; here are the checks, and how a
failure is shown.

Settings: each scenario uses either the learner's defaults (``INTERVAL`` and
``TIMEOUT``, read from a fresh ``Heartbeat()``) or one of ours, so the logic is
checked for any sound setting and the learner's choice is checked against the
30 s proxy and the slow link. Below, I is the interval and T the timeout.

``half-open-connection-ghost`` (110 scenarios)
    The link stalls (half-open: nothing arrives, no close) at a random moment
    1-4 (I + T) after opening, on an idle connection, under a server that
    streams updates into the void, a chatty client, or random bursts. *Both*
    sides must declare the connection dead within I + T + tolerance of the
    stall, where tolerance = 0.1 (I + T) + 0.25 s. A side that never checks
    (the classic "only the client pings, the server trusts the socket") keeps
    the ghost, and fails here. Closes before the stall are false alarms and
    judged below, not here.
``missing-heartbeat`` (90 scenarios)
    The heartbeat exists, is answered and is tracked, and is tuned:
    * idle (20 runs, 10 min, no application traffic): some message crosses the
      link at least every I + 0.1 I + 0.25 s; every ping is answered with a pong
      within min(1 s, T / 4); with the learner's settings, heartbeat overhead
      at most 60 frames per minute per connection (bytes/min are reported);
    * frozen peer (30 runs): the server program hangs (link fine, nothing is
      answered any more); the client must close within I + T + tolerance.
      Sending pings without tracking the answers fails here;
    * slow but healthy link (40 runs, 10 min): one-way latency 0.15-0.5 s, and
      spikes of 2-15 s. With the learner's settings (every other run) they are
      the spec's mobile link: round trips of 3-5 s (SLOW_LINK_RTT), whatever
      TIMEOUT is, so a timeout of a second or two raises false alarms and fails
      here. With ours the round trip rises to at most 0.75 T, which tests the
      logic at any setting. Neither side may declare the connection dead: a
      false alarm is a heartbeat that cannot tell slow from dead.
``websocket-proxy-timeout`` (30 runs, 5 min)
    Behind a proxy that cuts any connection silent for 30 s (virtual time),
    an idle connection (or one with a burst, then silence) must never be cut.
    With the learner's defaults an interval at or above 30 s fails; our own
    settings (all below 30 s) check that pings go out when idle.

Margins, measured on the reference (I=20 s, T=10 s) and the known-good
variants (fixed schedule, missed-pong counting, Socket.IO style): every one
declares a stalled link or a hung peer dead within I + T itself (the latest at
I + T - 0.01 s), so the tolerance only serves coarser solutions; the
reference's median is 21-22 s against a bound of 33.25 s. On the slow link the
reference's longest silence is I + 0.36 T (its deadline: I + T), and the
fixed-schedule variant's longest round trip 0.75 T (its deadline: T); the
learner's settings face round trips of up to 5 s, against the reference's 10 s
timeout and the known-good variants' 6-20 s. Idle,
the reference sends 11.6 heartbeat frames (93 bytes of WebSocket frames) per
minute; the budget is 60 frames. Each known-bad variant in
tests/known_bad/heartbeat_*.py fails exactly the IDs it declares; an ID's
scenarios stop at its first failure, which is the one reported.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Finding, Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge, not_reached
from rtlab.plots import figure_to_png_base64
from rtlab.sim import SimLoop
from rtlab.topics.connection_health.interface import HeartbeatCode, learner_code
from rtlab.topics.connection_health.sim import (
    PROXY_IDLE,
    PROXY_SECONDS,
    SCENARIOS,
    SLOW_LINK_RTT,
    Run,
    Settings,
    detection_times,
    learner_settings,
    message_kind,
    overhead,
    silences,
    tolerance,
)

MH = "missing-heartbeat"
HOG = "half-open-connection-ghost"
WPT = "websocket-proxy-timeout"
IDS = (MH, HOG, WPT)
CHECKS = {
    MH: Check(
        MH, "A heartbeat that is sent, answered, tracked and tuned",
        "poll() must return ('send', PING) once this side has been silent for `interval`; "
        "on_received must answer a PING with ('send', PONG); and when nothing arrives for "
        "interval + timeout, poll() must return ('close', reason). Any message counts as proof "
        "of life, so a slow answer is not a dead link: keep TIMEOUT well above the round trip "
        "of a slow link (seconds, not milliseconds).",
    ),
    HOG: Check(
        HOG, "A half-open link is declared dead in time, on both sides",
        "Both ends run the same rule: remember when anything last arrived, and close once "
        "nothing has for interval + timeout. A side that only answers pings (or only sends "
        "data) never notices that its peer is gone; next_wakeup must return the moment that "
        "deadline passes, so poll() runs then even if nothing else happens.",
    ),
    WPT: Check(
        WPT, "An idle connection survives a proxy's idle timeout",
        "Proxies cut connections that are silent for 30 s. Pick INTERVAL well below that "
        "(20-25 s, as websockets and Socket.IO do) and send a ping whenever this side has been "
        "silent that long, whether or not the application talks.",
    ),
}

OUR_SETTINGS: list[tuple[float, float]] = [(5.0, 5.0), (20.0, 20.0), (25.0, 20.0), (2.0, 8.0),
                                           (10.0, 2.0)]
HALF_OPEN_SEEDS = list(range(5000, 5110))
FROZEN_SEEDS = list(range(6000, 6030))
IDLE_SEEDS = list(range(7000, 7020))
PROXY_SEEDS = list(range(8000, 8030))
SLOW_SEEDS = list(range(9000, 9040))
# Which scenarios judge which ID, in the order they run.
PLAN: list[tuple[str, str, list[int]]] = [
    (HOG, "half-open", HALF_OPEN_SEEDS),
    (MH, "idle", IDLE_SEEDS),
    (MH, "frozen peer", FROZEN_SEEDS),
    (MH, "slow link", SLOW_SEEDS),
    (WPT, "proxy", PROXY_SEEDS),
]
MAX_FRAMES_PER_MINUTE = 60


# -- checks ---------------------------------------------------------------------------


@dataclass
class SideVerdict(Verdict):
    """A verdict that may name the side at fault and the moment the figure centres on."""

    side: str | None = None
    at: float | None = None


def _crashed(run: Run) -> Verdict | None:
    if run.error is not None:
        return Verdict("failed", f"The scenario stopped: {run.error}", "the heartbeat runs")
    if run.client is None or run.server_side is None:
        return Verdict("failed", "The connection never got a heartbeat on both ends.",
                       "a Heartbeat per side")
    return None


def check_half_open(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    stall, s = run.marks["stall"], run.settings
    if any(e.declared_at is not None and e.declared_at < stall for e in run.ends()):
        return not_reached("A side declared the healthy connection dead before the stall (a "
                           "false alarm, judged under missing-heartbeat).")
    for end in run.ends():
        if end.declared_at is None or end.declared_at - stall > s.bound:
            when = ("never (still 'connected' when the run ended "
                    f"{run.until - stall:.1f} s after the stall)" if end.declared_at is None
                    else f"only {end.declared_at - stall:.1f} s after the stall")
            return SideVerdict(
                "failed",
                f"The link went half-open at t={stall:.1f} s ({s}, {run.pattern}). "
                f"The {end.side} declared it dead {when}.",
                f"both sides declare it dead within interval + timeout = "
                f"{s.interval + s.timeout:g} s (+{tolerance(s.interval, s.timeout):.2f} s)",
                end.side, stall,
            )
    return PASS


def check_frozen_peer(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    frozen, s = run.marks["server hangs"], run.settings
    assert run.client is not None
    if run.client.declared_at is not None and run.client.declared_at < frozen:
        return not_reached("The client declared the connection dead before the server hung "
                           "(a false alarm).")
    declared = run.client.declared_at
    if declared is None or declared - frozen > s.bound:
        when = (f"never (not within the {run.until - frozen:.1f} s the run lasted)"
                if declared is None else f"only after {declared - frozen:.1f} s")
        return SideVerdict(
            "failed",
            f"At t={frozen:.1f} s the server program hung: the link still worked, but no pong "
            f"(and nothing else) came back ({s}, {run.pattern}). The client noticed {when}.",
            f"the client tracks the pongs and closes within interval + timeout = "
            f"{s.interval + s.timeout:g} s (+{tolerance(s.interval, s.timeout):.2f} s)",
            "client", frozen,
        )
    return PASS


def check_idle(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    s = run.settings
    for end in run.ends():
        if end.declared_at is not None:
            return SideVerdict(
                "failed",
                f"On a healthy idle link ({s}), the {end.side} declared the connection dead at "
                f"t={end.declared_at:.1f} s: {end.reason}",
                "no false alarm on a healthy link", end.side, end.declared_at,
            )
    allowed = s.interval * 1.1 + 0.25
    gap, since = max(silences(run, 2.0, run.until))
    if gap > allowed:
        return SideVerdict(
            "failed",
            f"On an idle connection ({s}) nothing at all was sent for {gap:.1f} s "
            f"(from t={since:.1f} s).",
            f"traffic (a ping) at least every interval: a gap of at most {allowed:.1f} s",
            None, since + gap / 2,
        )
    answer_within = min(1.0, s.timeout / 4)
    pongs = {"client": [t for t, side, kind, _ in run.sent if side == "client" and kind == "pong"],
             "server": [t for t, side, kind, _ in run.sent if side == "server" and kind == "pong"]}
    for t, side in run.pings_in:
        if t > run.until - answer_within:
            break
        sent = pongs[side]
        first = bisect.bisect_left(sent, t)  # the first pong sent at or after the ping
        if first == len(sent) or sent[first] > t + answer_within:
            return SideVerdict(
                "failed",
                f"The {side} received a ping at t={t:.2f} s and sent no pong within "
                f"{answer_within:g} s ({s}).",
                "every PING is answered with a PONG right away (the confirmation the pinging "
                "side waits for)", side, t,
            )
    if s.yours:
        frames, _ = overhead(run)
        if frames > MAX_FRAMES_PER_MINUTE:
            return SideVerdict(
                "failed",
                f"On an idle connection with {s}, the heartbeat sent {frames:.0f} frames per "
                "minute.",
                f"a small overhead: at most {MAX_FRAMES_PER_MINUTE} heartbeat frames per minute "
                "per connection",
            )
    return PASS


def check_slow_link(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    for end in run.ends():
        if end.declared_at is not None:
            at = end.declared_at
            spike = next(((a, b, rtt) for a, b, rtt in run.spikes if a - 30 <= at <= b + 30),
                         None)
            context = (f"a latency spike to {spike[2]:.2f} s round trip ran from t={spike[0]:.1f} "
                       f"to {spike[1]:.1f} s" if spike else "no latency spike was under way")
            lat = run.latency
            if run.settings.yours:  # the spec's mobile link, in absolute seconds
                expected = (f"no false alarm on the exercise's mobile link, whose round trip "
                            f"reaches {SLOW_LINK_RTT:g} s during spikes: a TIMEOUT well above "
                            "that")
            else:
                expected = (f"no false alarm while every round trip stays below 0.75 x timeout "
                            f"({0.75 * run.settings.timeout:.2f} s)")
            return SideVerdict(
                "failed",
                f"On a slow but healthy link (one-way latency {lat.base:.2f}-"
                f"{lat.base + lat.jitter:.2f} s, {run.settings}, {run.pattern}), the {end.side} "
                f"declared the connection dead at t={at:.1f} s ({context}): {end.reason}",
                expected, end.side, at,
            )
    return PASS


def check_mh(run: Run) -> Verdict:
    return {"idle": check_idle, "frozen peer": check_frozen_peer,
            "slow link": check_slow_link}[run.kind](run)


def check_proxy(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    assert run.server is not None
    if run.server.idle_cuts:
        cut = next((t for t, _, what, _ in run.events if what.startswith("connection closed")),
                   None)
        gap, since = max(silences(run, 0.0, cut or run.until))
        return SideVerdict(
            "failed",
            f"The proxy cut the connection ({run.settings}, {run.pattern}) at about "
            f"t={cut or 0:.1f} s: nothing had crossed it for {gap:.1f} s (from t={since:.1f} s).",
            f"traffic more often than the proxy's idle timeout of {PROXY_IDLE:g} s",
            None, cut,
        )
    return PASS


CHECKERS: dict[str, Callable[[Run], Verdict]] = {
    HOG: check_half_open, MH: check_mh, WPT: check_proxy,
}


# -- figures and timelines of a failing run ---------------------------------------------


def _describe(message: str | bytes) -> str:
    kind = message_kind(message)
    return repr(message) if kind != "heartbeat" or len(message) < 20 else f"{message[:17]!r}..."


def _illustrate(run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """Timeline rows and a figure around the moment the failure happened."""
    if run.error is not None:
        return [], None  # the code raised or hung: the message says more than a plot
    at = verdict.at if isinstance(verdict, SideVerdict) else None
    return _text_timeline(run, at), _figure(run, at)


def _window(run: Run, at: float | None) -> tuple[float, float]:
    centre = at if at is not None else run.until / 2
    span = 1.5 * (run.settings.interval + run.settings.timeout)
    if run.kind == "proxy":
        span = 1.5 * PROXY_IDLE
    return max(0.0, centre - span), min(run.until, centre + span)


def _text_timeline(run: Run, at: float | None, rows: int = 18) -> list[str]:
    start, end = _window(run, at)
    shown = [(t, side, f"{what} {_describe(message)}" if message else what)
             for t, side, what, message in run.events if start <= t <= end]
    if at is not None:
        before = [e for e in shown if e[0] <= at]
        after = [e for e in shown if e[0] > at]
        shown = before[-(rows // 2):] + after[: rows - min(len(before), rows // 2)]
    else:
        shown = shown[:rows]
    return [f"t={t:9.3f} s  {side:<6}  {what}" for t, side, what in shown]


def _figure(run: Run, at: float | None) -> str:
    import matplotlib.pyplot as plt

    start, end = _window(run, at)
    fig, ax = plt.subplots(figsize=(8, 2.4))
    styles = {"app": ("|", "#8c959f"), "ping": ("^", "#0969da"), "pong": ("v", "#1a7f37"),
              "heartbeat": ("o", "#8250df")}
    rows = {"client": 1, "server": 0}
    labelled: set[str] = set()
    for kind, (marker, colour) in styles.items():
        for side, row in rows.items():
            ts = [t for t, sd, k, _ in run.sent if sd == side and k == kind and start <= t <= end]
            if ts:
                ax.plot(ts, [row] * len(ts), marker, color=colour, linestyle="none",
                        label=None if kind in labelled else f"{kind} sent")
                labelled.add(kind)
    for endpoint in run.ends():
        if endpoint.declared_at is not None and start <= endpoint.declared_at <= end:
            ax.plot(endpoint.declared_at, rows[endpoint.side], "X", color="#cf222e",
                    markersize=10)
    for name, t in run.marks.items():
        if start <= t <= end:
            ax.axvline(t, color="#57606a", linestyle=":", linewidth=1)
            ax.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"), fontsize=8,
                        va="top", color="#57606a")
            if name in ("stall", "server hangs"):
                ax.axvline(t + run.settings.bound, color="#cf222e", linestyle="--", linewidth=1)
    for a, b, _ in run.spikes:
        if b >= start and a <= end:
            ax.axvspan(max(a, start), min(b, end), color="#bf8700", alpha=0.15, linewidth=0)
    ax.set_yticks([0, 1], ["server", "client"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlim(start, end)
    ax.set_xlabel("time (s)   X: declared dead   dashed: latest allowed   shaded: latency spike")
    ax.set_title(f"seed {run.seed}: {run.kind}, {run.settings}", fontsize=10, loc="left")
    if labelled:
        ax.legend(fontsize=7, loc="lower right", ncol=4, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return figure_to_png_base64(fig)


# -- the grader ----------------------------------------------------------------------------


def _settings_for(seed: int, yours: Settings) -> Settings:
    """Every other scenario uses the learner's settings; the rest cycle through ours."""
    if seed % 2 == 0:
        return yours
    interval, timeout = OUR_SETTINGS[(seed // 2) % len(OUR_SETTINGS)]
    return Settings(interval, timeout, False)


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    code = learner_code(module)
    if code is None:
        return Report("heartbeat", "", error="The file has no class named Heartbeat.")
    yours = learner_settings(code)
    judged: dict[str, list[Judged[Run]]] = {id: [] for id in IDS}
    failed: set[str] = set()
    hung: Run | None = None
    for id, kind, all_seeds in PLAN:
        for seed in all_seeds:
            if id in failed:
                break  # the first failure is the one reported: spare the rest
            if seeds is not None and seed not in seeds:
                continue
            run = _run(code, kind, seed, yours, hung)
            hung = run if run.timed_out else hung
            verdict = CHECKERS[id](run)
            judged[id].append(Judged(seed, verdict, run))
            if verdict.status == "failed":
                failed.add(id)
    findings = [judge(CHECKS[id], judged[id], _illustrate) for id in IDS]
    if not isinstance(yours, str):
        _add_measurements(findings, {id: [j.run for j in js] for id, js in judged.items()}, yours)
    return Report("heartbeat", "", findings, scenarios=sum(len(js) for js in judged.values()))


def _run(code: HeartbeatCode, kind: str, seed: int, yours: Settings | str,
         hung: Run | None) -> Run:
    """One scenario, or a run that carries why it could not be made."""
    if isinstance(yours, str):  # the learner's settings are unusable: every run says why
        return Run(kind, seed, Settings(20.0, 20.0, True), SimLoop(seed), 0.0, error=yours)
    if hung is not None:  # code that hangs would hang again: one wait is enough
        return Run(hung.kind, seed, hung.settings, hung.loop, 0.0, error=hung.error,
                   timed_out=True)
    return SCENARIOS[kind](code, seed, _settings_for(seed, yours))


def _add_measurements(findings: list[Finding], runs: dict[str, list[Run]], yours: Settings) -> None:
    """Passed findings say what was measured, with the learner's own settings."""
    by_id = {f.id: f for f in findings}
    mine = [r for r in runs[HOG] if r.settings == yours and r.error is None]
    hog = by_id[HOG]
    if hog.passed and mine:
        times = detection_times(mine, "stall")
        parts = [f"{side} median {statistics.median(ts):.1f} s, worst {max(ts):.1f} s"
                 for side, ts in times.items() if ts]
        hog.observed = (f"With {yours}, a half-open link was declared dead after: "
                        f"{'; '.join(parts)} (bound {yours.bound:.1f} s).")
    idle = [r for r in runs[MH] if r.kind == "idle" and r.settings == yours and r.error is None]
    mh = by_id[MH]
    if mh.passed and idle:
        frames = statistics.mean(overhead(r)[0] for r in idle)
        size = statistics.mean(overhead(r)[1] for r in idle)
        mh.observed = (f"With {yours}, an idle connection carried {frames:.1f} heartbeat frames "
                       f"({size:.0f} bytes of WebSocket frames) per minute, both directions "
                       "together; no false alarm on the slow link.")
    wpt = by_id[WPT]
    proxied = [r for r in runs[WPT] if r.settings == yours and r.error is None]
    if wpt.passed and proxied:
        gap = max(max(silences(r, 0.0, r.until))[0] for r in proxied)
        wpt.observed = (f"With {yours}, no connection was cut in {len(proxied)} runs of "
                        f"{PROXY_SECONDS / 60:.0f} min behind a {PROXY_IDLE:g} s proxy; the "
                        f"longest silence was {gap:.1f} s.")
