"""Grader of the presence exercise (``exercises/presence.py``).

It replays 200 seeded schedules (``rtlab.topics.presence.sim.graded_schedule``) through
the learner's ``PresenceTracker`` in virtual time. Each schedule has eight users,
one of each kind: steady, blipper (drops and comes back within the grace
period), flappy (several drops inside one grace period), multi-tab (tabs closed
one by one, the last ones together), mobile handoff (a new connection before the
old one closes or goes silent), leaver, crasher (a tab that goes silent without
closing) and crash-and-return; grace is 2, 5 or 8 s and the heartbeat TTL 6, 10
or 15 s (heartbeats every TTL/4, ticks every 0.1-0.5 s). Crashed connections
sometimes close much later, after they expired. Every gap is either clearly a
blip or clearly a departure, so each session of each user has one right answer
(see ``rtlab.topics.presence.sim``). The syllabus IDs are fixed; the properties of the
issue map onto them like this:

``presence-flickering`` (users who stay must not bounce)
    - no ``leave`` while the user is still there: a reconnect inside the grace
      period, a second tab still open, a handoff, a crashed tab with another
      connection alive, a healthy connection that heartbeats;
    - no second ``join`` for a user already online (second tab, reconnect);
    - every user present is on every observer's roster (announced by the time
      ``TOLERANCE`` has passed after they connected), also at the end.
``presence-immediate-removal`` (the leave comes once, after the grace period, always)
    - after each real departure exactly one ``leave``, no earlier than ``grace``
      after the user's last sign of life (the last close, or a crashed tab's last
      heartbeat) and no later than ``grace`` (plus ``ttl`` for a crash) plus
      ``TOLERANCE``: immediate removal fails the first bound; a missing TTL (ghosts
      forever) the second;
    - no ``leave`` for a user who is not online (a timer that fires twice);
    - ``online()`` equals what the events announced, after every tick, so that a
      late observer starting from it converges; no ghost on any roster at the end.

Margins: ``TOLERANCE`` is two tick intervals (1.01 s); the known-bad variants
miss their bounds by a whole grace period (2-8 s) or by never announcing at all.
The reference takes 2-4 ms per scenario (200 in about 0.5-0.8 s).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Finding, Report, Status
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.plots import figure_to_png_base64
from rtlab.syllabus import reference_link
from rtlab.topics.presence.sim import (
    TOLERANCE,
    Schedule,
    Session,
    Trace,
    TrackerError,
    drive,
    graded_schedule,
    presence_timeline,
    sessions,
)

SEEDS = list(range(5000, 5200))
SCENARIO_SECONDS = 5.0
EPS = 1e-9

IR = "presence-immediate-removal"
FLICKER = "presence-flickering"
TITLES = {
    FLICKER: "Users who stay do not flicker",
    IR: "A leave comes once, after the grace period, and always",
}
HINTS = {
    FLICKER: "Keep presence per user: a set (or count) of connections per user, a join only "
    "when a user with no connections and no tombstone connects. When the last connection "
    "goes, record a tombstone (when they went) instead of announcing a leave; a connect "
    "inside the grace period removes the tombstone and says nothing. Expire a connection by "
    "TTL only if it has been silent (no connect, no heartbeat) for ttl seconds.",
    IR: "In tick(now), announce ('leave', user) once for each tombstone older than grace, "
    "and delete it so it cannot fire again. Expire connections silent for ttl seconds as if "
    "they had closed, or crashed tabs stay online forever. online() must list exactly the "
    "users announced and not yet left (tombstoned users included).",
}
IDS = (IR, FLICKER)


@dataclass
class Run:
    seed: int
    schedule: Schedule
    trace: Trace | None = None
    truth: dict[str, list[Session]] | None = None
    error: str | None = None  # the scenario could not run (it hung)
    timed_out: bool = False


@dataclass
class Verdict:
    status: Status
    observed: str = ""
    expected: str = ""
    user: str | None = None
    at: float | None = None


PASS = Verdict("passed")


def scenario(module: ModuleType, seed: int) -> Run:
    """Replay graded schedule ``seed`` through a fresh ``module.PresenceTracker``."""
    schedule = graded_schedule(seed)
    run = Run(seed, schedule, truth=sessions(schedule))
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {seed}"):
            tracker = module.PresenceTracker(grace=schedule.grace, ttl=schedule.ttl)
            run.trace = drive(tracker, schedule)
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except Exception as error:
        run.error = f"PresenceTracker(grace={schedule.grace:g}, ttl={schedule.ttl:g}) raised " + (
            describe_error(error)
        )
    return run


# -- describing what happened ------------------------------------------------------


def _s(t: float) -> str:
    return f"t={t:.2f} s"


def _why_present(run: Run, user: str, t: float) -> str:
    """Why ``user`` was still there at ``t``, in the schedule's words."""
    assert run.truth is not None
    schedule = run.schedule
    conns = [c for c in schedule.conns if c.user == user]
    alive = [c for c in conns if c.opened <= t and (c.alive_until is None or c.alive_until > t)]
    if alive:
        c = max(alive, key=lambda c: c.opened)
        prev = max((p for p in conns if p.alive_until is not None and p.how == "close"
                    and p.alive_until <= c.opened < p.alive_until + schedule.grace),
                   key=lambda p: p.alive_until or 0.0, default=None)
        if prev is not None and prev.alive_until is not None and len(alive) == 1:
            return (f"{user} had reconnected: {prev.id} closed at {_s(prev.alive_until)} and "
                    f"{c.id} opened at {_s(c.opened)}, {c.opened - prev.alive_until:.2f} s "
                    f"later, inside the {schedule.grace:g} s grace period, and {c.id} was "
                    "still open")
        since = f"open since {_s(c.opened)}"
        beats = [h for h in c.heartbeats if h <= t]
        if beats:
            since += f", last heartbeat at {_s(beats[-1])}"
        others = f" and {len(alive) - 1} more" if len(alive) > 1 else ""
        return f"{user} still had connection {c.id} ({since}){others}"
    before = max((c for c in conns if (c.alive_until or math.inf) <= t),
                 key=lambda c: c.alive_until or 0.0, default=None)
    after = min((c for c in conns if c.opened > t), key=lambda c: c.opened, default=None)
    if before is not None and after is not None:
        assert before.alive_until is not None
        gap = after.opened - before.alive_until
        if before.how == "close":
            return (f"{user}'s connection {before.id} closed at {_s(before.alive_until)} and "
                    f"{after.id} opened at {_s(after.opened)}, {gap:.2f} s later: inside the "
                    f"{schedule.grace:g} s grace period")
        return (f"{user}'s connection {before.id} went silent after its heartbeat at "
                f"{_s(before.alive_until)} and {after.id} opened at {_s(after.opened)}, "
                f"{gap:.2f} s later, before the {schedule.ttl:g} s TTL could even tell")
    return f"{user} was connected"


def _how_it_ended(s: Session) -> str:
    last = max(s.conns, key=lambda c: c.alive_until or 0.0)
    if last.how == "close":
        return f"{s.user}'s last connection {last.id} closed at {_s(last.alive_until or 0.0)}"
    return (f"{s.user}'s last connection {last.id} went silent (a crashed tab, no close) after "
            f"its heartbeat at {_s(last.alive_until or 0.0)}")


def _crashed(run: Run) -> Verdict | None:
    if run.error is not None:
        return Verdict("failed", f"The scenario stopped: {run.error}", "the tracker runs")
    trace = run.trace
    assert trace is not None
    if trace.error is not None:
        error = trace.error
        observed = (str(error) if isinstance(error, TrackerError)
                    else f"{trace.error_call} raised {describe_error(error)}")
        return Verdict(
            "failed", observed,
            "the tracker never raises and returns a list of (kind, user) events",
            at=trace.error_at,
        )
    return None


def _per_user(trace: Trace) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for t, kind, user in trace.events:
        out.setdefault(user, []).append((t, kind))
    return out


def _present_at_end(run: Run) -> set[str]:
    assert run.truth is not None
    return {u for u, ss in run.truth.items() if ss and ss[-1].end is None}


# -- the checks ------------------------------------------------------------------------


def check_flicker(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace, truth, schedule = run.trace, run.truth, run.schedule
    assert trace is not None and truth is not None
    found: list[Verdict] = []
    events = _per_user(trace)
    for user, user_sessions in truth.items():
        mine = events.get(user, [])
        online, joined_at = False, 0.0
        for t, kind in mine:
            if kind == "join":
                if online:
                    found.append(Verdict(
                        "failed",
                        f"{user} was already online (joined at {_s(joined_at)}, no leave since), "
                        f"yet your tracker announced ('join', {user!r}) again at {_s(t)}.",
                        "one join per user, however many connections they open",
                        user, t,
                    ))
                    break
                online, joined_at = True, t
            else:
                online = False
                inside = next((s for s in user_sessions
                               if s.start < t < (math.inf if s.end is None else s.end)), None)
                if inside is not None:
                    found.append(Verdict(
                        "failed",
                        f"Your tracker announced ('leave', {user!r}) at {_s(t)}, but "
                        f"{_why_present(run, user, t)}. Everyone saw {user} leave and "
                        "come back: a flicker.",
                        "no leave while a user still has a connection, or is back within the "
                        f"{schedule.grace:g} s grace period",
                        user, t,
                    ))
                    break
        for s in user_sessions:
            due = s.start + TOLERANCE
            end = math.inf if s.end is None else s.end
            if end <= due or due > trace.ended_at:
                continue
            shown = [kind for t, kind in mine if t <= due]
            if not shown or shown[-1] != "join":
                found.append(Verdict(
                    "failed",
                    f"{user} connected at {_s(s.start)} ({s.conns[0].id}), but by {_s(due)} "
                    f"no join had been announced: observers do not see {user} at all.",
                    "a join as soon as a user who was not online connects",
                    user, due,
                ))
                break
    return min(found, key=lambda v: v.at or 0.0) if found else PASS


def check_removal(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace, truth, schedule = run.trace, run.truth, run.schedule
    assert trace is not None and truth is not None
    grace, ttl = schedule.grace, schedule.ttl
    found: list[Verdict] = []
    events = _per_user(trace)
    for user, user_sessions in truth.items():
        mine = events.get(user, [])
        online = False
        for t, kind in mine:
            if kind == "leave" and not online:
                found.append(Verdict(
                    "failed",
                    f"Your tracker announced ('leave', {user!r}) at {_s(t)}, but {user} was not "
                    "online: " + ("the user had already been announced as gone "
                                  "(a timer that fired twice?)" if any(
                                      k == "join" for tt, k in mine if tt < t)
                                  else "no join had been announced"),
                    "per user, events alternate join, leave, join, leave",
                    user, t,
                ))
                break
            online = kind == "join"
        for i, s in enumerate(user_sessions):
            if s.end is None:
                continue
            before_end = [kind for t, kind in mine if t < s.end]
            if not before_end or before_end[-1] != "join":
                continue  # not shown online when the session ended: a flicker, judged there
            nxt = user_sessions[i + 1].start if i + 1 < len(user_sessions) else math.inf
            leaves = [t for t, kind in mine if kind == "leave" and s.end <= t < nxt]
            ended = _how_it_ended(s)
            if not leaves:
                if s.latest <= trace.ended_at:
                    found.append(Verdict(
                        "failed",
                        f"{ended}, and {user} never came back; by {_s(min(nxt, trace.ended_at))} "
                        f"no leave had been announced: {user} is a ghost on every roster.",
                        f"('leave', {user!r}) by {_s(s.latest)} (grace {grace:g} s"
                        + (f", ttl {ttl:g} s" if s.latest - TOLERANCE > s.end + grace + EPS
                           else "") + ")",
                        user, s.latest,
                    ))
                continue
            first = leaves[0]
            window = f"between {_s(s.earliest)} and {_s(s.latest)}"
            if first < s.earliest - EPS:
                found.append(Verdict(
                    "failed",
                    f"{ended}; your tracker announced ('leave', {user!r}) at {_s(first)}, "
                    f"only {first - s.end:.2f} s later.",
                    f"the leave no earlier than the {grace:g} s grace period: {window}",
                    user, first,
                ))
            elif first > s.latest + EPS:
                found.append(Verdict(
                    "failed",
                    f"{ended}; your tracker announced ('leave', {user!r}) only at {_s(first)}.",
                    f"the leave {window} (grace {grace:g} s, ttl {ttl:g} s)",
                    user, first,
                ))
            elif len(leaves) > 1:
                found.append(Verdict(
                    "failed",
                    f"{ended}; your tracker announced ('leave', {user!r}) {len(leaves)} times, "
                    f"at {', '.join(_s(t) for t in leaves)}.",
                    "exactly one leave per departure",
                    user, leaves[1],
                ))
    if not found and trace.mismatch is not None:
        t, shown, announced = trace.mismatch
        extra, missing = sorted(shown - announced), sorted(announced - shown)
        parts = []
        if extra:
            parts.append(f"includes {', '.join(extra)}, never announced (or already left)")
        if missing:
            parts.append(f"lacks {', '.join(missing)}, announced and not left")
        found.append(Verdict(
            "failed",
            f"After tick at {_s(t)}, online() returned {sorted(shown)}: it "
            + " and ".join(parts) + ". A newcomer whose roster starts from online() would "
            "disagree with everyone else.",
            "online() is exactly the users joined and not yet left (tombstones included)",
            (extra or missing)[0], t,
        ))
    if not found:
        present = _present_at_end(run)
        for joined, roster in trace.observers:
            ghosts, missing = sorted(roster - present), sorted(present - roster)
            if ghosts or missing:
                who = "an observer who saw every event" if joined == 0 else (
                    f"an observer who started at {_s(joined)} from online()")
                wrong = [f"still shows {', '.join(ghosts)}, long gone"] if ghosts else []
                wrong += [f"lacks {', '.join(missing)}, connected"] if missing else []
                found.append(Verdict(
                    "failed",
                    f"At the end of the run ({_s(trace.ended_at)}) the roster of {who} "
                    + " and ".join(wrong) + ".",
                    "every observer's roster converges to who is really connected",
                    (ghosts or missing)[0], trace.ended_at,
                ))
                break
    return min(found, key=lambda v: v.at or 0.0) if found else PASS


# -- timelines and figures ---------------------------------------------------------------


def _timeline(run: Run, user: str, at: float, rows: int = 16) -> list[str]:
    trace = run.trace
    assert trace is not None
    lines: list[tuple[float, str]] = []
    for call in trace.calls:
        mentions = call.user == user or any(u == user for _, u in call.events)
        if not mentions or (call.what.startswith("heartbeat") and not call.events):
            continue
        lines.append((call.t, f"{call.what:<44} -> {call.events!r}"))
    for c in run.schedule.conns:
        if c.user == user and c.how == "crash":
            lines.append((c.last_sign, f"({c.id} sends its last heartbeat: the tab "
                                       "crashes, no close)"))
    lines.sort(key=lambda x: x[0])
    before = [i for i, (t, _) in enumerate(lines) if t <= at + EPS]
    last = before[-1] if before else 0
    chosen = lines[max(0, last - rows + 3): max(0, last - rows + 3) + rows]
    return [f"t={t:7.2f} s  {text}" for t, text in chosen]


def _figure(run: Run, verdict: Verdict) -> str | None:
    if run.trace is None:
        return None
    schedule = run.schedule
    users = sorted(schedule.users, key=lambda u: (u != verdict.user, u))
    labels = {u: f"{u} ({schedule.roles.get(u, '')})" for u in users}
    marks = {"failure": verdict.at} if verdict.at is not None else None
    fig = presence_timeline(
        {f"seed {run.seed}: grace {schedule.grace:g} s, ttl {schedule.ttl:g} s":
         (schedule.spans(), run.trace.events)},
        users, start=0, end=schedule.until, marks=marks, labels=labels,
    )
    return figure_to_png_base64(fig)


# -- the grader -------------------------------------------------------------------------


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    plan: list[tuple[str, Callable[[Run], Verdict]]] = [(IR, check_removal),
                                                         (FLICKER, check_flicker)]
    failures: dict[str, tuple[Run, Verdict]] = {}
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        run = scenario(module, seed)
        runs += 1
        for id, check in plan:
            if id not in failures:
                verdict = check(run)
                if verdict.status == "failed":
                    failures[id] = (run, verdict)
        if len(failures) == len(plan) or run.timed_out:
            break
    findings = []
    for id, _ in plan:
        finding = Finding(id, TITLES[id], "passed", scenarios=runs, hint=HINTS[id],
                          reference=reference_link(id))
        if runs == 0:
            finding.status, finding.observed = "not reached", "no scenario for this seed"
        elif id in failures:
            run, verdict = failures[id]
            finding.status, finding.seed = "failed", run.seed
            finding.observed, finding.expected = verdict.observed, verdict.expected
            if verdict.user is not None and run.trace is not None:
                finding.timeline = _timeline(run, verdict.user, verdict.at or 0.0)
                finding.figure_png = _figure(run, verdict)
        findings.append(finding)
    return Report("presence", "", findings, scenarios=runs)
