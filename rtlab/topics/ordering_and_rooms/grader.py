"""Grader of the ordering exercise (``exercises/ordering.py``).

It runs 200 seeded schedules (``rtlab.topics.ordering_and_rooms.sim.graded_plan``), 50
of each kind, with the learner's ``Room`` and ``Client`` wired together in virtual
time, and judges each ID on the kind of schedule made for it:

``missing-message-ordering`` (``hops``: messages overtake each other)
    every client shows every message exactly once, in the room's order.
``message-ordering-race`` (``faults``: reordering, duplicates, drops, cuts, retries)
    the same, plus: a sender's retry is not a second message, and no client ever
    holds back more than ``max_pending`` messages (16 here), even while its gap
    stays open for over a second.
``join-without-backfill`` (``joins``)
    a fresh join shows (at least) the last ``BACKFILL`` messages sent before it.
``room-join-race-condition`` (``joins``: joiners arrive during 60-100 msg/s bursts)
    the room itself sends a joiner every message published from the moment its join
    began (in the answer or live: a client that asks again later does not excuse a
    room that dropped it), and the joiner shows each exactly once.
``reconnection-state-loss`` (``resume``: short and long cuts, a 40-message log)
    each resume (``since=N``) is answered ``joined after=N`` followed by N+1, N+2...,
    or ``resync`` when, and only when, the log no longer holds N+1; every client shows
    everything except what a resync declared lost, each message once (late copies
    relayed after a resync included). After the run, joins with a ``since`` the room
    never gave out (in the future, negative, a string) must raise ``ValueError``
    before reading anything, and the next message must still get the next seq.

Every verdict is judged by :func:`rtlab.grading.verdict.judge`; a reported failure
comes with the failing member's timeline and a figure of seq against time. The
reference takes about 3.5 ms per scenario (200 in about 0.7 s on an idle machine).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.learner import LearnerTimeout, time_limit
from rtlab.topics.ordering_and_rooms.interface import BACKFILL, Message
from rtlab.topics.ordering_and_rooms.sim import KINDS, Join, Trace, graded_plan, run

SEEDS = list(range(7000, 7200))
SCENARIO_SECONDS = 5.0

ORDER = "missing-message-ordering"
RACE = "message-ordering-race"
BACKFILLED = "join-without-backfill"
JOIN_RACE = "room-join-race-condition"
RESUME = "reconnection-state-loss"
IDS = (ORDER, RACE, BACKFILLED, JOIN_RACE, RESUME)

CHECKS = {
    ORDER: Check(
        ORDER, "Messages that overtake each other are shown in order",
        "Number every message in the room (seq 1, 2, 3...). The client keeps the next seq "
        "it expects and a buffer of messages that came early: show a message only when it "
        "is the next one, then everything the buffer holds after it.",
    ),
    RACE: Check(
        RACE, "Duplicates, drops, cuts and retries: each message once, in order, bounded",
        "Drop a message whose seq is below the next one you expect or already in the buffer. "
        "When the buffer holds something (a gap), ask again with {'type': 'join', 'since': "
        "next - 1}, not more often than every few hundred ms. Keep at most max_pending "
        "messages: when it is full, forget the highest ones (the resend brings them back). "
        "In the room, a message id seen before is a sender's retry: return [].",
    ),
    BACKFILLED: Check(
        BACKFILLED, "A fresh join shows the recent history",
        f"On join(member, None), read the history after max(0, latest - backfill) "
        f"(backfill is {BACKFILL} here) and answer [{{'type': 'joined', 'after': ...}}, "
        "*those messages].",
    ),
    JOIN_RACE: Check(
        JOIN_RACE, "Nothing published during a join is lost or shown twice",
        "Subscribe first, then read the history: add the member to the room before "
        "`await history.read(...)`, so that what is published meanwhile goes to it live. "
        "The overlap between the history and the live messages is then duplicates, which "
        "the client drops by seq.",
    ),
    RESUME: Check(
        RESUME, "A reconnect resumes after `since`, or says resync",
        "since=N means 'I have everything up to N': answer joined after=N and the kept "
        "messages with seq > N (N+1 first). If the oldest kept message is later than N+1, "
        "they are gone: answer {'type': 'resync', 'after': oldest - 1} and the kept messages. "
        "The client then carries on from after + 1 and still drops anything older. A since "
        "beyond the latest seq, negative or not an int: raise ValueError before anything else.",
    ),
}
KIND_OF = {ORDER: "hops", RACE: "faults", BACKFILLED: "joins", JOIN_RACE: "joins",
           RESUME: "resume"}


@dataclass
class Run:
    seed: int
    trace: Trace | None
    error: str | None = None  # the scenario could not run at all (it hung)


@dataclass
class Failure(Verdict):
    """A failed verdict, with the client and moment its timeline should show."""

    client: str = ""
    at: float = 0.0


def scenario(module: ModuleType, seed: int) -> Run:
    """Run graded schedule ``seed`` with ``module.Room`` and ``module.Client``."""
    plan = graded_plan(seed)
    try:
        with time_limit(SCENARIO_SECONDS, f"scenario seed {seed}"):
            room, client = module.Room, module.Client
            return Run(seed, run(plan, room, client))
    except LearnerTimeout as error:
        return Run(seed, None, str(error))
    except AttributeError as error:
        return Run(seed, None, f"{error}: exercises/ordering.py must define Room and Client")


# -- describing ----------------------------------------------------------------------


def _s(t: float) -> str:
    return f"t={t:.3f} s"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _crashed(run: Run) -> Failure | None:
    if run.error is not None:
        return Failure("failed", f"The scenario stopped: {run.error}",
                       "the room and the clients run to the end")
    trace = run.trace
    assert trace is not None
    if trace.error is not None:
        return Failure("failed", trace.error, "the room and the clients never raise",
                       at=trace.error_at)
    return None


def _ids(messages: list[tuple[float, Message]]) -> list[str]:
    return [m.get("id", "?") if isinstance(m, dict) else "?" for _, m in messages]


def _published(trace: Trace) -> dict[str, tuple[float, int]]:
    """Each message id -> (when it was first appended, its seq)."""
    first: dict[str, tuple[float, int]] = {}
    for t, m in trace.appended:
        first.setdefault(m["id"], (t, m["seq"]))
    return first


def _compare(trace: Trace, client: str, expected: list[str]) -> Failure | None:
    """The first way ``client``'s shown messages differ from ``expected`` (ids in order)."""
    shown = trace.shown[client]
    published = _published(trace)
    position = {id: i for i, id in enumerate(expected)}
    seen: dict[str, float] = {}

    def label(id: str) -> str:
        return f"seq {published[id][1]} ({id})" if id in published else repr(id)

    for i, (t, m) in enumerate(shown):
        id = m.get("id", "?") if isinstance(m, dict) else "?"
        if id in seen:
            return Failure("failed", f"{client} showed {label(id)} twice: at {_s(seen[id])} "
                           f"and again at {_s(t)}.", "each message shown exactly once",
                           client, t)
        seen[id] = t
        if i < len(expected) and id != expected[i]:
            want = expected[i]
            if id in position and position[id] > i:
                return Failure(
                    "failed",
                    f"{client} showed {label(id)} at {_s(t)} before {label(want)}, which was "
                    f"published earlier ({_s(published[want][0])}): out of order.",
                    "the room's order: seq 1, 2, 3... with nothing skipped", client, t)
            return Failure("failed", f"{client} showed {label(id)} at {_s(t)} where "
                           f"{label(want)} was due.", "exactly the room's messages, in order",
                           client, t)
        if i >= len(expected):
            return Failure("failed", f"{client} showed {label(id)} at {_s(t)}, after it had "
                           "shown every message it should.", "nothing extra", client, t)
    if len(shown) < len(expected):
        want = expected[len(shown)]
        t = published[want][0]
        return Failure("failed", f"{client} never showed {label(want)}, published at {_s(t)}; "
                       f"it showed {len(shown)} of {len(expected)} messages by the end "
                       f"({_s(trace.plan.until)}).", "every message, exactly once, in order",
                       client, t)
    return None


def _first_repeat(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for id in ids:
        if id in seen:
            return id
        seen.add(id)
    return None


def _all_ids(trace: Trace) -> list[str]:
    return list(_published(trace))


# -- the checks ------------------------------------------------------------------------


def _misdelivered(trace: Trace) -> list[Failure]:
    """Each client whose shown messages differ from the room's, at its first difference."""
    published = _all_ids(trace)
    return [f for c in trace.plan.clients if (f := _compare(trace, c, published))]


def check_order(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    assert run.trace is not None
    found = _misdelivered(run.trace)
    return min(found, key=lambda f: f.at) if found else PASS


def check_race(run: Run) -> Verdict:
    """As check_order, and the pending buffer stays within its bound."""
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace = run.trace
    assert trace is not None
    found = _misdelivered(trace)
    for c, (t, held) in trace.pending_over.items():
        found.append(Failure(
            "failed", f"{c} held back {held} messages at {_s(t)} (max_pending is "
            f"{trace.plan.max_pending}): a gap that does not fill must not grow the buffer "
            "without bound.", f"client.pending() <= {trace.plan.max_pending} at all times",
            c, t))
    return min(found, key=lambda f: f.at) if found else PASS


def _first_joins(trace: Trace) -> list[Join]:
    firsts: dict[str, Join] = {}
    for join in trace.joins:
        if join.since is None:
            firsts.setdefault(join.client, join)
    return [j for j in firsts.values() if j.known > 0]


def _join_story(join: Join) -> str:
    read = f", history read at {_s(join.read_at)}" if join.read_at is not None else ""
    answered = f", answered at {_s(join.returned)}" if join.returned is not None else ""
    return f"its join began at {_s(join.called)}{read}{answered}"


def check_backfill(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace = run.trace
    assert trace is not None
    found = []
    for join in _first_joins(trace):
        wanted = [m["id"] for _, m in trace.appended[max(0, join.known - BACKFILL):join.known]]
        shown = set(_ids(trace.shown[join.client]))
        missing = [id for id in wanted if id not in shown]
        if missing:
            first = trace.appended[join.known - len(wanted)][1]["seq"]
            answer = [m for m in join.reply or [] if isinstance(m, dict) and m.get("type") == "msg"]
            found.append(Failure(
                "failed",
                f"{join.client} joined at {_s(join.called)}, when {_n(join.known, 'message')} "
                f"had been sent, and never showed {len(missing)} of the last {len(wanted)} "
                f"(seq {first}-{join.known}); the room's answer to the join held "
                f"{_n(len(answer), 'message')}.",
                f"a fresh join shows the last {BACKFILL} messages (seq {first}-{join.known})",
                join.client, join.called))
    return min(found, key=lambda f: f.at) if found else PASS


def check_join_race(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace = run.trace
    assert trace is not None
    found = []
    for join in _first_joins(trace):
        c = join.client
        sent = {m.get("seq") for m in join.reply or [] if isinstance(m, dict)}
        sent |= {seq for t, seq, how in trace.wire[c] if how == "live" and t >= join.called}
        for t, m in trace.appended[join.known:]:
            if m["seq"] not in sent:
                during = join.returned is None or t <= join.returned
                found.append(Failure(
                    "failed",
                    f"The room never sent {c} seq {m['seq']} ({m['id']}), published at {_s(t)}"
                    + (" while the join was in progress" if during else "")
                    + f" ({_join_story(join)}): it was in neither the join's answer nor the "
                    "live stream.",
                    "every message published after the join began, in the answer or live",
                    c, t))
                break
        expected = [m["id"] for _, m in trace.appended[join.known:]]
        ids = _ids(trace.shown[c])
        twice = _first_repeat(ids)
        if twice is not None:
            times = [t for t, m in trace.shown[c] if m.get("id") == twice]
            found.append(Failure(
                "failed", f"{c} showed {twice} twice (at {_s(times[0])} and {_s(times[1])}); "
                f"{_join_story(join)}: the history and the live stream overlapped and the "
                "duplicate was not dropped.", "each message shown once", c, times[1]))
        elif not found:
            lost = [id for id in expected if id not in set(ids)]
            if lost:
                published = _published(trace)
                found.append(Failure(
                    "failed", f"{c} never showed {lost[0]} (seq {published[lost[0]][1]}, "
                    f"published at {_s(published[lost[0]][0])}); {_join_story(join)}.",
                    "every message published after the join began, once", c,
                    published[lost[0]][0]))
    return min(found, key=lambda f: f.at) if found else PASS


def _judge_reply(join: Join) -> Failure | None:
    """Is the answer to a resume (``since`` given) exact?"""
    since, c = join.since, join.client
    assert since is not None
    reply = join.reply
    if reply is None:
        return None  # never answered (the run ended): nothing to judge
    reaches = join.oldest is None or join.oldest <= since + 1
    head = reply[0] if reply and isinstance(reply[0], dict) else {}
    kind = head.get("type")
    seqs = [m["seq"] for m in reply[1:] if isinstance(m, dict) and m.get("type") == "msg"
            and isinstance(m.get("seq"), int)]
    at = join.returned or join.called
    asked = f"{c} resumed with since={since} at {_s(join.called)}"
    log = (f"the log still held seq {join.oldest} onwards" if join.oldest is not None
           else "the log was empty")
    if kind not in ("joined", "resync"):
        return Failure("failed", f"{asked}; the room's answer began with {head or reply!r}.",
                       "a joined (or resync) message first", c, at)
    if kind == "resync" and reaches:
        return Failure("failed", f"{asked}; {log}, yet the room answered resync: a needless "
                       "resync throws away state the client could have kept.",
                       f"joined after={since} and seq {since + 1} onwards", c, at)
    if kind == "joined" and not reaches:
        return Failure("failed", f"{asked}; {log}, so seq {since + 1}-{(join.oldest or 1) - 1} "
                       f"were gone, yet the room answered joined after={head.get('after')}: "
                       "the client never learns it lost them.",
                       f"resync after={(join.oldest or 1) - 1}", c, at)
    after = head.get("after")
    start = since if kind == "joined" else after
    if kind == "joined" and after != since:
        return Failure("failed", f"{asked}; the room answered joined after={after}.",
                       f"joined after={since}", c, at)
    if seqs and isinstance(start, int) and seqs[0] != start + 1:
        extra = (f": seq {since} is the one the client already had (since={since} means "
                 f"'I have everything up to {since}')" if seqs[0] == since else "")
        return Failure("failed", f"{asked}; the room replayed from seq {seqs[0]}{extra}.",
                       f"the replay starts at seq {start + 1}", c, at)
    if any(b != a + 1 for a, b in itertools.pairwise(seqs)):
        return Failure("failed", f"{asked}; the replay skipped or repeated: seq {seqs[:12]}...",
                       "consecutive seqs", c, at)
    return None


def check_resume(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    trace = run.trace
    assert trace is not None
    found = [f for j in trace.joins if j.since is not None and (f := _judge_reply(j))]
    if trace.refusals:
        found.append(Failure(
            "failed", "; ".join(trace.refusals) + ".",
            "a since that the room never gave out (in the future, negative, not an int) "
            "raises ValueError, and the room carries on", "", trace.plan.until))
    published = _published(trace)
    for c in trace.plan.clients:
        gaps = [(j.since or 0, j.reply[0].get("after", 0)) for j in trace.joins
                if j.client == c and j.reply and isinstance(j.reply[0], dict)
                and j.reply[0].get("type") == "resync"]
        ids = _ids(trace.shown[c])
        twice = _first_repeat(ids)
        if twice is not None:
            times = [t for t, m in trace.shown[c] if m.get("id") == twice]
            resyncs = [j.returned for j in trace.joins if j.client == c and j.returned
                       and j.reply and j.reply[0].get("type") == "resync"
                       and j.returned < times[1]]
            after = (f", after a resync at {_s(resyncs[-1])}" if resyncs else "")
            found.append(Failure(
                "failed", f"{c} showed {twice} twice: at {_s(times[0])} and again at "
                f"{_s(times[1])}{after}.", "each message shown once, across reconnects and "
                "resyncs", c, times[1]))
            continue
        shown = set(ids)
        for id, (t, seq) in published.items():
            if id not in shown and not any(a < seq <= b for a, b in gaps):
                found.append(Failure(
                    "failed", f"{c} never showed seq {seq} ({id}), published at {_s(t)}, and "
                    "no resync said it was gone.", "everything, except what a resync "
                    "declared lost", c, t))
                break
    return min(found, key=lambda f: f.at) if found else PASS


CHECKERS: dict[str, Callable[[Run], Verdict]] = {
    ORDER: check_order, RACE: check_race, BACKFILLED: check_backfill,
    JOIN_RACE: check_join_race, RESUME: check_resume,
}


# -- timelines --------------------------------------------------------------------------


def illustrate(run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """The failing client's last moments before the failure, and a figure of its run."""
    if run.trace is None or not isinstance(verdict, Failure) or not verdict.client:
        return [], None
    trace, c, at = run.trace, verdict.client, verdict.at
    rows: list[tuple[float, str]] = list(trace.log.get(c, []))
    rows += [(t, f"room publishes seq {m['seq']} ({m['id']})") for t, m in trace.appended]
    rows += [(j.called, f"room.join({c!r}, since={j.since}) begins") for j in trace.joins
             if j.client == c]
    rows += [(j.returned, f"room.join({c!r}) answers {_answer(j.reply)}") for j in trace.joins
             if j.client == c and j.returned is not None]
    rows.sort(key=lambda row: row[0])
    before = [row for row in rows if row[0] <= at + 1e-9]
    # The story is in joins, answers, cuts, drops and surprises, not in the routine
    # "publish n, show n": keep the last 10 of those, plus the moments just before.
    telling = [row for row in before if not _routine(row[1])][-10:]
    chosen = sorted(set(telling + before[-4:]), key=lambda row: row[0])
    chosen += [row for row in rows if row[0] > at + 1e-9][:2]
    return [f"{_s(t)}  {text}" for t, text in chosen], _figure(trace, c, at)


def _routine(text: str) -> bool:
    if text.startswith("room publishes"):
        return True
    if text.startswith("receives msg seq "):  # "receives msg seq 7 (id) -> shows seq 7"
        seq = text.split()[3]
        return text.endswith(f"-> shows seq {seq}")
    return False


def _figure(trace: Trace, c: str, at: float) -> str | None:
    """Seq against time: what the room published, what ``c`` showed, its joins and cuts."""
    import matplotlib.pyplot as plt  # only when a failure is drawn: passing runs stay fast

    from rtlab.plots import figure_to_png_base64

    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot([t for t, _ in trace.appended], [m["seq"] for _, m in trace.appended], ".",
            color="#8c959f", markersize=3, label="published")
    shown = [(t, int(m["seq"])) for t, m in trace.shown[c] if isinstance(m.get("seq"), int)]
    ax.plot([t for t, _ in shown], [s for _, s in shown], ".", color="#0969da",
            markersize=4, label=f"shown by {c}")
    for t, who, downtime in trace.plan.cuts:
        if who == c:
            ax.axvspan(t, t + downtime, color="#ffebe9", zorder=0)
    for j in trace.joins:
        if j.client == c:
            ax.axvline(j.called, color="#1a7f37", linewidth=0.8, linestyle=":")
    ax.axvline(at, color="#cf222e", linewidth=1.2, label="the failure")
    ax.set_xlabel("time (s)   pink: disconnected   green dotted: join or resume begins")
    ax.set_ylabel("seq")
    ax.set_title(f"seed {trace.plan.seed} ({trace.plan.kind}): {c}", fontsize=10, loc="left")
    ax.legend(fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return figure_to_png_base64(fig)


def _answer(reply: list[Message] | None) -> str:
    if not reply:
        return "nothing"
    head = reply[0] if isinstance(reply[0], dict) else {}
    seqs = [m.get("seq") for m in reply[1:] if isinstance(m, dict)]
    body = f"seq {seqs[0]}..{seqs[-1]}" if seqs else "no messages"
    return f"{head.get('type')} after={head.get('after')} + {body}"


# -- the grader -------------------------------------------------------------------------


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    judged: dict[str, list[Judged[Run]]] = {id: [] for id in IDS}
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        kind = KINDS[seed % len(KINDS)]
        run_ = scenario(module, seed)
        runs += 1
        for id in IDS:
            if KIND_OF[id] == kind:
                judged[id].append(Judged(seed, CHECKERS[id](run_), run_))
        if run_.error is not None:  # a hang: do not spend 5 s on every seed
            break
    findings = [judge(CHECKS[id], judged[id], illustrate,
                      none_run=f"no scenario of kind {KIND_OF[id]!r} among the seeds graded")
                for id in IDS]
    return Report("ordering", "", findings, scenarios=runs)



def bench_ordering_grader() -> None:
    """Print how long the reference takes through the 200 scenarios (best of 3)."""
    import time

    from rtlab import course
    from rtlab.learner import load_module

    module = load_module(course.root() / "solutions" / "ordering.py", "ordering_bench")
    best_wall = best_cpu = float("inf")
    report = None
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        report = grade(module)
        best_wall = min(best_wall, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert report is not None
    print(f"ordering grader: {report.scenarios} scenarios in {best_wall:.2f} s "
          f"({best_cpu:.2f} s CPU, best of 3), {1000 * best_wall / report.scenarios:.1f} ms "
          f"per scenario; {'all pass' if report.passed else 'FAILED'} "
          "[budget: >= 200 in <= 2 s]")
