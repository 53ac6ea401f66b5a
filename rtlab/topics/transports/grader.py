"""Grader of the transports exercise (``exercises/transports.py``).

The learner's ``choose_transport(needs)`` answers for named features (seeds
0-15: a dashboard, chat, a collaborative editor, notifications, a stock
ticker, multiplayer cursors, a nightly report...) and for 200 seeded random
profiles (seeds 1000-1199); ``rtlab.topics.transports.sim`` draws the profiles
and asks. Each profile has the set of acceptable answers of
the exercise's four rules and the reason (:func:`acceptable`). Profiles sit
clearly on one side of each line: users notice a delay of at most 10 s or of
at least 120 s, so any threshold in between is right.

The transports are ranked by what they ask of the network and of your code:
polling < long-polling < sse < websocket. A wrong answer

- below every acceptable one fails ``polling-as-realtime``: users who wait are
  left waiting for a poll, or every message pays a request of its own;
- above every acceptable one fails ``websocket-for-everything``: a WebSocket
  for one-way push, an upgrade or a stream the path does not let through, a
  connection held open for news nobody waits for.

An answer that is not one of the four names, an exception or a hang fails both,
with the message saying which. Each failure names the profile (its seed
replays it), the answer, the acceptable ones and the trade-off, with the costs
worked out from the profile's numbers; the other failing profiles of the same
ID follow in the timeline. The reference takes about 1 ms for all 216.
"""

from __future__ import annotations

import math
from types import ModuleType

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Illustrate, Judged, Verdict, judge
from rtlab.topics.transports.interface import TRANSPORTS, learner_module
from rtlab.topics.transports.sim import NAMED, Case, Profile, ask, duration, number

POLLING_AS_REALTIME = "polling-as-realtime"
WEBSOCKET_FOR_EVERYTHING = "websocket-for-everything"
IDS = (POLLING_AS_REALTIME, WEBSOCKET_FOR_EVERYTHING)
CHECKS = {
    POLLING_AS_REALTIME: Check(
        POLLING_AS_REALTIME,
        "Users who wait get a push, and chatty clients a channel of their own",
        "Poll only when nobody is waiting (users would not notice a delay of a "
        "minute). When they are waiting, push: SSE when only the server talks, a WebSocket when "
        "the client streams messages too, long polling when the path passes plain HTTP only."),
    WEBSOCKET_FOR_EVERYTHING: Check(
        WEBSOCKET_FOR_EVERYTHING,
        "No more transport than the feature needs or the path lets through",
        "A WebSocket only when the client streams messages too (or "
        "payloads are binary), and never on a plain-HTTP-only path (the upgrade is blocked, "
        "streams are buffered: long polling). For one-way push, SSE. When nobody is waiting, "
        "hold nothing open: poll."),
}
RANK = {t: i for i, t in enumerate(TRANSPORTS)}
RANDOM_SEEDS = range(1000, 1200)
SEEDS = [*range(len(NAMED)), *RANDOM_SEEDS]
TIMELINE_ROWS = 12


# -- the rules ---------------------------------------------------------------------------------


def acceptable(p: Profile) -> tuple[frozenset[str], str]:
    """The answers the exercise's rules accept for ``p``, and why."""
    if p.noticed_within >= 60:
        polls = p.clients * 60 / (p.noticed_within / 2)
        return frozenset({"polling"}), (
            f"Nobody is waiting: users would not notice a delay under "
            f"{duration(p.noticed_within)}. Polling every {duration(p.noticed_within / 2)} "
            f"costs {number(polls)} plain requests a minute at the server for "
            f"{p.clients:,} clients, and holds nothing open.")
    if p.http_only:
        return frozenset({"long-polling"}), (
            "Users wait, but the path passes only request/response HTTP: the WebSocket "
            "upgrade is blocked and a streaming response sits in a proxy's buffer. Long "
            "polling ends an ordinary response with each event"
            + (", and the client's messages go as ordinary POSTs (what Socket.IO falls "
               "back to)." if p.client_streams else "."))
    if p.client_streams:
        return frozenset({"websocket"}), (
            "Both sides stream messages and users wait: one full-duplex connection, on "
            "which the client's messages cost a few bytes of framing, not a request each.")
    if p.binary:
        return frozenset({"sse", "websocket"}), (
            "Only the server talks, and users wait: push. SSE is the simpler push, but it "
            "carries text, so the binary payloads would be base64, a third bigger; binary "
            "WebSocket frames are just as right here.")
    return frozenset({"sse"}), (
        "Only the server talks, and users wait: SSE pushes each event at once over one "
        "plain HTTP response per client, and the browser reconnects and resumes "
        "(Last-Event-ID) by itself.")


def why_wrong(answer: str, p: Profile) -> str:
    """What ``answer`` costs or breaks for ``p`` (an answer the rules do not accept)."""
    waiting = p.noticed_within < 60
    if answer == "polling":
        if p.client_streams:
            return ("Every message the client sends would be a request of its own, and every "
                    "message it receives would wait for the next poll: a conversation "
                    "that stalls.")
        interval = p.noticed_within
        idle = math.exp(-p.updates_per_minute / 60 * interval)
        return (f"To stay within {duration(interval)}, each client must poll every "
                f"{duration(interval)}: updates then wait {duration(interval / 2)} on average "
                f"(the lesson measured 0.5 s for 1 s polling), and the server answers "
                f"{number(p.clients * 60 / interval)} requests a minute, {idle:.0%} of them "
                f"empty at {number(p.updates_per_minute)} updates per minute.")
    if not waiting:
        return (f"{_name(answer)} holds a connection open per client ({p.clients:,} of them) "
                "for news nobody waits for; through proxies it also needs a keep-alive every "
                "15-30 s, more traffic than a poll every minute or so.")
    if answer == "long-polling":
        return ("Long polling costs a whole HTTP request and response per delivery (the lesson "
                "measured 3-4 times SSE's bytes and 2-4 times its server CPU per event) and "
                "leaves a gap between answers: the fallback for paths that let nothing else "
                "through, and this one does.")
    if answer == "sse":
        if p.http_only:
            return ("On this path the proxies buffer streaming responses: SSE events would "
                    "sit in a buffer until it fills or the response ends.")
        return ("SSE carries only the server's half: every message the client streams would "
                "be an HTTP request of its own, headers and all (hundreds of bytes each).")
    if p.http_only:
        return ("The WebSocket upgrade does not get through this path's proxies; plain HTTP "
                "does.")
    return ("Only the server talks. A WebSocket works, but brings an upgrade some proxies "
            "block, heartbeats, reconnection and resume that you write yourself; SSE gives "
            "reconnection and resume (Last-Event-ID) for free over plain HTTP.")


def _name(answer: str) -> str:
    return {"long-polling": "Long polling", "sse": "SSE", "websocket": "A WebSocket"}[answer]


def _listed(answers: frozenset[str]) -> str:
    return " or ".join(repr(a) for a in sorted(answers, key=RANK.__getitem__))


# -- judging the answers ------------------------------------------------------------------------


def check(id: str, case: Case) -> Verdict:
    """Does ``case`` fail ``id``? An error fails both IDs; a wrong answer the one on its side."""
    where = f"For the {case.profile.feature!r} ({case.profile.describe()})"
    ok, reason = acceptable(case.profile)
    expected = f"{_listed(ok)} for this feature"
    if case.error is not None:
        return Verdict("failed", f"{where}: {case.error}", expected)
    assert case.answer is not None
    if case.answer in ok:
        return PASS
    below = RANK[case.answer] < min(RANK[a] for a in ok)
    if id != (POLLING_AS_REALTIME if below else WEBSOCKET_FOR_EVERYTHING):
        return PASS
    return Verdict("failed", f"{where}, choose_transport returned {case.answer!r}. "
                   f"{why_wrong(case.answer, case.profile)} Instead: {reason}", expected)


def failing_profiles(judged: list[Judged[Case]]) -> Illustrate[Case]:
    """The timeline of a failure: every profile that failed the same check, the first 12."""
    failed = [j.run for j in judged if j.verdict.status == "failed"]
    rows = [f"{len(failed)} of {len(judged)} profiles failed this check:",
            *(f"seed {c.seed:>4}  {c.profile.feature:<36} "
              f"{'error' if c.answer is None else repr(c.answer):>14} -> "
              f"{_listed(acceptable(c.profile)[0])}" for c in failed[:TIMELINE_ROWS])]
    return lambda case, verdict: (rows, None)


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Ask about every profile (or only ``seeds``); one finding per ID."""
    learner = learner_module(module)
    cases: list[Case] = []
    for seed in SEEDS if seeds is None else seeds:
        cases.append(ask(learner, seed))
        if cases[-1].timed_out:
            break  # every other profile would hang the same way
    findings = []
    for id in IDS:
        judged = [Judged(case.seed, check(id, case), case) for case in cases]
        findings.append(judge(CHECKS[id], judged, failing_profiles(judged),
                              none_run="no profile for these seeds"))
    return Report("transports", "", findings, scenarios=len(cases))
