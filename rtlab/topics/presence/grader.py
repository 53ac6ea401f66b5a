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

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.learner import describe_error
from rtlab.plots import figure_to_png_base64
from rtlab.topics.presence.interface import learner_module
from rtlab.topics.presence.sim import (
    TOLERANCE,
    Run,
    Session,
    Trace,
    TrackerError,
    presence_timeline,
    scenario,
)

SEEDS = list(range(5000, 5200))
NO_SEED = "no scenario among the seeds graded"
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
class Spotted(Verdict):
    """A verdict that also says whom it is about and when, for the timeline and figure."""

    user: str | None = None
    at: float | None = None


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
        return Spotted("failed", f"The scenario stopped: {run.error}", "the tracker runs")
    trace = run.trace
    assert trace is not None
    if trace.error is not None:
        error = trace.error
        observed = (str(error) if isinstance(error, TrackerError)
                    else f"{trace.error_call} raised {describe_error(error)}")
        return Spotted(
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


Events = list[tuple[float, str]]  # one user's (t, kind), in order


def _bounce(run: Run, user: str, user_sessions: list[Session], mine: Events) -> Spotted | None:
    """A second join while online, or a leave while the user was really there."""
    online, joined_at = False, 0.0
    for t, kind in mine:
        if kind == "join":
            if online:
                return Spotted(
                    "failed",
                    f"{user} was already online (joined at {_s(joined_at)}, no leave since), "
                    f"yet your tracker announced ('join', {user!r}) again at {_s(t)}.",
                    "one join per user, however many connections they open",
                    user, t,
                )
            online, joined_at = True, t
            continue
        online = False
        inside = next((s for s in user_sessions
                       if s.start < t < (math.inf if s.end is None else s.end)), None)
        if inside is not None:
            return Spotted(
                "failed",
                f"Your tracker announced ('leave', {user!r}) at {_s(t)}, but "
                f"{_why_present(run, user, t)}. Everyone saw {user} leave and "
                "come back: a flicker.",
                "no leave while a user still has a connection, or is back within the "
                f"{run.schedule.grace:g} s grace period",
                user, t,
            )
    return None


def _unannounced(trace: Trace, user: str, user_sessions: list[Session], mine: Events
                 ) -> Spotted | None:
    """A session with no join by ``TOLERANCE`` after it started."""
    for s in user_sessions:
        due = s.start + TOLERANCE
        end = math.inf if s.end is None else s.end
        if end <= due or due > trace.ended_at:
            continue
        shown = [kind for t, kind in mine if t <= due]
        if not shown or shown[-1] != "join":
            return Spotted(
                "failed",
                f"{user} connected at {_s(s.start)} ({s.conns[0].id}), but by {_s(due)} "
                f"no join had been announced: observers do not see {user} at all.",
                "a join as soon as a user who was not online connects",
                user, due,
            )
    return None


def _earliest(found: list[Spotted | None]) -> Verdict:
    failures = [v for v in found if v is not None]
    return min(failures, key=lambda v: v.at or 0.0) if failures else PASS


def check_flicker(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace, truth = run.trace, run.truth
    assert trace is not None and truth is not None
    found: list[Spotted | None] = []
    events = _per_user(trace)
    for user, user_sessions in truth.items():
        mine = events.get(user, [])
        found += [_bounce(run, user, user_sessions, mine),
                  _unannounced(trace, user, user_sessions, mine)]
    return _earliest(found)


def _leave_when_offline(user: str, mine: Events) -> Spotted | None:
    """A leave for a user not online: never joined, or a timer that fired twice."""
    online = False
    for t, kind in mine:
        if kind == "leave" and not online:
            return Spotted(
                "failed",
                f"Your tracker announced ('leave', {user!r}) at {_s(t)}, but {user} was not "
                "online: " + ("the user had already been announced as gone "
                              "(a timer that fired twice?)" if any(
                                  k == "join" for tt, k in mine if tt < t)
                              else "no join had been announced"),
                "per user, events alternate join, leave, join, leave",
                user, t,
            )
        online = kind == "join"
    return None


def _departures(run: Run, user: str, user_sessions: list[Session], mine: Events
                ) -> list[Spotted | None]:
    """For each real departure shown online: exactly one leave, inside its window."""
    found: list[Spotted | None] = []
    for i, s in enumerate(user_sessions):
        if s.end is None:
            continue
        before_end = [kind for t, kind in mine if t < s.end]
        if not before_end or before_end[-1] != "join":
            continue  # not shown online when the session ended: a flicker, judged there
        nxt = user_sessions[i + 1].start if i + 1 < len(user_sessions) else math.inf
        leaves = [t for t, kind in mine if kind == "leave" and s.end <= t < nxt]
        found.append(_missing_leave(run, s, nxt) if not leaves else _leave_timing(run, s, leaves))
    return found


def _missing_leave(run: Run, s: Session, nxt: float) -> Spotted | None:
    trace, user = run.trace, s.user
    assert trace is not None and s.end is not None
    if s.latest > trace.ended_at:
        return None
    ttl = (f", ttl {run.schedule.ttl:g} s"
           if s.latest - TOLERANCE > s.end + run.schedule.grace + EPS else "")
    return Spotted(
        "failed",
        f"{_how_it_ended(s)}, and {user} never came back; by {_s(min(nxt, trace.ended_at))} "
        f"no leave had been announced: {user} is a ghost on every roster.",
        f"('leave', {user!r}) by {_s(s.latest)} (grace {run.schedule.grace:g} s{ttl})",
        user, s.latest,
    )


def _leave_timing(run: Run, s: Session, leaves: list[float]) -> Spotted | None:
    """The first leave inside [earliest, latest], and only one."""
    assert s.end is not None
    user, grace, ttl = s.user, run.schedule.grace, run.schedule.ttl
    first, ended = leaves[0], _how_it_ended(s)
    window = f"between {_s(s.earliest)} and {_s(s.latest)}"
    if first < s.earliest - EPS:
        return Spotted(
            "failed",
            f"{ended}; your tracker announced ('leave', {user!r}) at {_s(first)}, "
            f"only {first - s.end:.2f} s later.",
            f"the leave no earlier than the {grace:g} s grace period: {window}",
            user, first,
        )
    if first > s.latest + EPS:
        return Spotted(
            "failed",
            f"{ended}; your tracker announced ('leave', {user!r}) only at {_s(first)}.",
            f"the leave {window} (grace {grace:g} s, ttl {ttl:g} s)",
            user, first,
        )
    if len(leaves) > 1:
        return Spotted(
            "failed",
            f"{ended}; your tracker announced ('leave', {user!r}) {len(leaves)} times, "
            f"at {', '.join(_s(t) for t in leaves)}.",
            "exactly one leave per departure",
            user, leaves[1],
        )
    return None


def _online_mismatch(trace: Trace) -> Spotted | None:
    """``online()`` after a tick differed from what the events announced."""
    if trace.mismatch is None:
        return None
    t, shown, announced = trace.mismatch
    extra, missing = sorted(shown - announced), sorted(announced - shown)
    parts = []
    if extra:
        parts.append(f"includes {', '.join(extra)}, never announced (or already left)")
    if missing:
        parts.append(f"lacks {', '.join(missing)}, announced and not left")
    return Spotted(
        "failed",
        f"After tick at {_s(t)}, online() returned {sorted(shown)}: it "
        + " and ".join(parts) + ". A newcomer whose roster starts from online() would "
        "disagree with everyone else.",
        "online() is exactly the users joined and not yet left (tombstones included)",
        (extra or missing)[0], t,
    )


def _roster_at_end(run: Run) -> Spotted | None:
    """The first observer whose roster at the end is not who is really connected."""
    trace = run.trace
    assert trace is not None
    present = _present_at_end(run)
    for joined, roster in trace.observers:
        ghosts, missing = sorted(roster - present), sorted(present - roster)
        if ghosts or missing:
            who = "an observer who saw every event" if joined == 0 else (
                f"an observer who started at {_s(joined)} from online()")
            wrong = [f"still shows {', '.join(ghosts)}, long gone"] if ghosts else []
            wrong += [f"lacks {', '.join(missing)}, connected"] if missing else []
            return Spotted(
                "failed",
                f"At the end of the run ({_s(trace.ended_at)}) the roster of {who} "
                + " and ".join(wrong) + ".",
                "every observer's roster converges to who is really connected",
                (ghosts or missing)[0], trace.ended_at,
            )
    return None


def check_removal(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace, truth = run.trace, run.truth
    assert trace is not None and truth is not None
    found: list[Spotted | None] = []
    events = _per_user(trace)
    for user, user_sessions in truth.items():
        mine = events.get(user, [])
        found += [_leave_when_offline(user, mine), *_departures(run, user, user_sessions, mine)]
    if not any(found):  # these two only matter once every event was right
        found.append(_online_mismatch(trace))
    if not any(found):
        found.append(_roster_at_end(run))
    return _earliest(found)


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


def _figure(run: Run, user: str, at: float | None) -> str | None:
    assert run.trace is not None
    schedule = run.schedule
    users = sorted(schedule.users, key=lambda u: (u != user, u))
    labels = {u: f"{u} ({schedule.roles.get(u, '')})" for u in users}
    marks = {"failure": at} if at is not None else None
    fig = presence_timeline(
        {f"seed {run.seed}: grace {schedule.grace:g} s, ttl {schedule.ttl:g} s":
         (schedule.spans(), run.trace.events)},
        users, start=0, end=schedule.until, marks=marks, labels=labels,
    )
    return figure_to_png_base64(fig)


def illustrate(run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """The failing user's calls and a presence timeline; nothing for a crash of the run."""
    if not isinstance(verdict, Spotted) or verdict.user is None or run.trace is None:
        return [], None
    return (_timeline(run, verdict.user, verdict.at or 0.0),
            _figure(run, verdict.user, verdict.at))


# -- the grader -------------------------------------------------------------------------

CHECKS: list[tuple[Check, Callable[[Run], Verdict]]] = [
    (Check(IR, TITLES[IR], HINTS[IR]), check_removal),
    (Check(FLICKER, TITLES[FLICKER], HINTS[FLICKER]), check_flicker),
]


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID.

    A check is no longer asked once it failed; grading stops when every check has
    failed, or when a scenario ran out of time (the next would too).
    """
    learner = learner_module(module)
    judged: dict[str, list[Judged[Run]]] = {check.id: [] for check, _ in CHECKS}
    failed: set[str] = set()
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        run = scenario(learner, seed)
        runs += 1
        for check, verdict_of in CHECKS:
            if check.id not in failed:
                verdict = verdict_of(run)
                judged[check.id].append(Judged(seed, verdict, run))
                if verdict.status == "failed":
                    failed.add(check.id)
        if len(failed) == len(CHECKS) or run.timed_out:
            break
    findings = [judge(check, judged[check.id], illustrate, none_run=NO_SEED)
                for check, _ in CHECKS]
    return Report("presence", "", findings, scenarios=runs)
