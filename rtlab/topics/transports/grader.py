"""Grader of the transports exercise (``exercises/transports.py``).

The learner's ``choose_transport(needs)`` answers for named features (seeds
0-15: a dashboard, chat, a collaborative editor, notifications, a stock
ticker, multiplayer cursors, a nightly report...) and for 200 seeded random
profiles (seeds 1000-1199). Each profile has the set of acceptable answers of
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
import random
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rtlab.grading.report import Finding, Report
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.syllabus import reference_link

POLLING_AS_REALTIME = "polling-as-realtime"
WEBSOCKET_FOR_EVERYTHING = "websocket-for-everything"
IDS = (POLLING_AS_REALTIME, WEBSOCKET_FOR_EVERYTHING)
TITLES = {
    POLLING_AS_REALTIME: "Users who wait get a push, and chatty clients a channel of their own",
    WEBSOCKET_FOR_EVERYTHING: "No more transport than the feature needs or the path lets through",
}
HINTS = {
    POLLING_AS_REALTIME: "Poll only when nobody is waiting (users would not notice a delay of a "
    "minute). When they are waiting, push: SSE when only the server talks, a WebSocket when "
    "the client streams messages too, long polling when the path passes plain HTTP only.",
    WEBSOCKET_FOR_EVERYTHING: "A WebSocket only when the client streams messages too (or "
    "payloads are binary), and never on a plain-HTTP-only path (the upgrade is blocked, "
    "streams are buffered: long polling). For one-way push, SSE. When nobody is waiting, "
    "hold nothing open: poll.",
}
TRANSPORTS = ("polling", "long-polling", "sse", "websocket")  # lightest first
RANK = {t: i for i, t in enumerate(TRANSPORTS)}
SCENARIO_SECONDS = 2.0


# -- the profiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """The fields of the exercise's ``Needs``, as plain data."""

    feature: str
    client_streams: bool
    noticed_within: float
    updates_per_minute: float
    clients: int
    binary: bool = False
    http_only: bool = False

    def fields(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        who = "both sides stream messages" if self.client_streams else "only the server talks"
        parts = [who, f"users notice a delay over {_duration(self.noticed_within)}",
                 f"{_number(self.updates_per_minute)} updates per minute",
                 f"{self.clients:,} clients"]
        if self.binary:
            parts.append("binary payloads")
        if self.http_only:
            parts.append("the path passes plain request/response HTTP only")
        return "; ".join(parts)


NAMED = (
    Profile("live ops dashboard", False, 2.0, 30, 200),
    Profile("team chat with typing indicators", True, 1.0, 20, 2_000),
    Profile("collaborative text editor", True, 0.2, 120, 50, binary=True),
    Profile("notification bell", False, 10.0, 0.1, 50_000),
    Profile("stock ticker", False, 0.5, 600, 10_000),
    Profile("multiplayer cursors", True, 0.1, 600, 20),
    Profile("nightly sales report", False, 6 * 3600.0, 1 / 1440, 300),
    Profile("CI build progress bar", False, 3.0, 12, 400),
    Profile("chat behind a corporate proxy", True, 1.0, 20, 300, http_only=True),
    Profile("parcel tracking page", False, 15 * 60.0, 0.01, 20_000),
    Profile("lab sensor plot with binary samples", False, 1.0, 600, 30, binary=True),
    Profile("dashboard behind a buffering proxy", False, 5.0, 6, 150, http_only=True),
    Profile("multiplayer game", True, 0.05, 1_200, 64, binary=True),
    Profile("weather widget", False, 30 * 60.0, 0.05, 100_000),
    Profile("live sports scores", False, 5.0, 2, 100_000),
    Profile("AI answer streamed token by token", False, 0.2, 1_200, 1_000),
)
RANDOM_SEEDS = range(1000, 1200)
SEEDS = [*range(len(NAMED)), *RANDOM_SEEDS]


def _loguniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def profile(seed: int) -> Profile:
    """The profile of ``seed``: a named one below ``len(NAMED)``, otherwise seeded at random."""
    if 0 <= seed < len(NAMED):
        return NAMED[seed]
    rng = random.Random(seed)
    streams = rng.random() < 0.3
    waiting = streams or rng.random() < 0.7  # a client that streams is always interactive
    noticed = (_loguniform(rng, 0.05, 10.0) if waiting else _loguniform(rng, 120.0, 86_400.0))
    return Profile(
        feature=f"feature #{seed}",
        client_streams=streams,
        noticed_within=round(noticed, 2),
        updates_per_minute=round(_loguniform(rng, 0.01, 600.0), 3),
        clients=round(_loguniform(rng, 1, 100_000)),
        binary=rng.random() < 0.2,
        http_only=rng.random() < 0.2,
    )


# -- the rules ---------------------------------------------------------------------------------


def acceptable(p: Profile) -> tuple[frozenset[str], str]:
    """The answers the exercise's rules accept for ``p``, and why."""
    if p.noticed_within >= 60:
        polls = p.clients * 60 / (p.noticed_within / 2)
        return frozenset({"polling"}), (
            f"Nobody is waiting: users would not notice a delay under "
            f"{_duration(p.noticed_within)}. Polling every {_duration(p.noticed_within / 2)} "
            f"costs {_number(polls)} plain requests a minute at the server for "
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
        return (f"To stay within {_duration(interval)}, each client must poll every "
                f"{_duration(interval)}: updates then wait {_duration(interval / 2)} on average "
                f"(the lesson measured 0.5 s for 1 s polling), and the server answers "
                f"{_number(p.clients * 60 / interval)} requests a minute, {idle:.0%} of them "
                f"empty at {_number(p.updates_per_minute)} updates per minute.")
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


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:.3g} s"


def _number(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _listed(answers: frozenset[str]) -> str:
    return " or ".join(repr(a) for a in sorted(answers, key=RANK.__getitem__))


# -- running the learner's code ------------------------------------------------------------------


@dataclass
class Case:
    seed: int
    profile: Profile
    answer: str | None = None
    error: str | None = None  # it raised, hung, or answered something else
    timed_out: bool = False


def ask(module: ModuleType, seed: int) -> Case:
    """Ask ``module.choose_transport`` about profile ``seed``."""
    p = profile(seed)
    case = Case(seed, p)
    try:
        needs = module.Needs(**p.fields())
    except Exception as error:
        case.error = (f"Needs({', '.join(p.fields())}) raised {describe_error(error)}; keep "
                      "the fields of Needs as the exercise defines them.")
        return case
    try:
        with time_limit(SCENARIO_SECONDS, f"choose_transport for profile seed {seed}"):
            answer = module.choose_transport(needs)
    except LearnerTimeout as error:
        case.error, case.timed_out = str(error), True
        return case
    except Exception as error:
        case.error = f"choose_transport raised {describe_error(error)}"
        return case
    if not isinstance(answer, str) or answer not in RANK:
        case.error = (f"choose_transport returned {answer!r}, which is not one of "
                      f"{', '.join(map(repr, TRANSPORTS))} (spelled exactly so).")
    else:
        case.answer = answer
    return case


def verdicts(case: Case) -> dict[str, str]:
    """The IDs this case fails, each with what was observed."""
    where = f"For the {case.profile.feature!r} ({case.profile.describe()})"
    if case.error is not None:
        return dict.fromkeys(IDS, f"{where}: {case.error}")
    assert case.answer is not None
    ok, _ = acceptable(case.profile)
    if case.answer in ok:
        return {}
    id = (POLLING_AS_REALTIME if RANK[case.answer] < min(RANK[a] for a in ok)
          else WEBSOCKET_FOR_EVERYTHING)
    _, reason = acceptable(case.profile)
    return {id: f"{where}, choose_transport returned {case.answer!r}. "
                f"{why_wrong(case.answer, case.profile)} Instead: {reason}"}


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Ask about every profile (or only ``seeds``); one finding per ID."""
    failures: dict[str, list[tuple[Case, str]]] = {id: [] for id in IDS}
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        case = ask(module, seed)
        runs += 1
        for id, observed in verdicts(case).items():
            failures[id].append((case, observed))
        if case.timed_out:
            break
    findings = []
    for id in IDS:
        finding = Finding(id, TITLES[id], "passed", scenarios=runs, hint=HINTS[id],
                          reference=reference_link(id))
        if runs == 0:
            finding.status, finding.observed = "not reached", "no profile for these seeds"
        elif failures[id]:
            first, observed = failures[id][0]
            finding.status, finding.seed, finding.observed = "failed", first.seed, observed
            finding.expected = f"{_listed(acceptable(first.profile)[0])} for this feature"
            finding.timeline = [
                f"{len(failures[id])} of {runs} profiles failed this check:",
                *(f"seed {c.seed:>4}  {c.profile.feature:<36} "
                  f"{'error' if c.answer is None else repr(c.answer):>14} -> "
                  f"{_listed(acceptable(c.profile)[0])}" for c, _ in failures[id][:12]),
            ]
        findings.append(finding)
    return Report("transports", "", findings, scenarios=runs)
