"""Features that need a transport, named or seeded, and the learner's answer for each.

A *profile* is what a feature needs, as the exercise's ``Needs`` holds it. Seeds
below ``len(NAMED)`` are named features (a dashboard, chat, a collaborative
editor, notifications, a stock ticker, multiplayer cursors, a nightly report...);
any other seed draws a random one (:func:`profile`). Random profiles sit clearly
on one side of each of the exercise's lines: users notice a delay of at most 10 s
or of at least 120 s, and a client that streams messages is always interactive.

:func:`ask` puts one profile to the learner's ``choose_transport``, under a time
limit, and keeps the answer or why there is none (it raised, hung, or answered
something that is not a transport). Which answers are right is the grader's
business.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.transports.interface import TRANSPORTS, LearnerModule

__all__ = ["NAMED", "SCENARIO_SECONDS", "Case", "Profile", "ask", "duration", "number",
           "profile"]

SCENARIO_SECONDS = 2.0  # for one call of choose_transport


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
        parts = [who, f"users notice a delay over {duration(self.noticed_within)}",
                 f"{number(self.updates_per_minute)} updates per minute",
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


def duration(seconds: float) -> str:
    """``seconds`` as people say it: 2 s, 15 min, 6 h."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:.3g} s"


def number(x: float) -> str:
    """A count or rate, with thousands separators when large."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


@dataclass
class Case:
    """One profile put to the learner, and the answer."""

    seed: int
    profile: Profile
    answer: str | None = None
    error: str | None = None  # it raised, hung, or answered something else
    timed_out: bool = False


def ask(module: LearnerModule, seed: int) -> Case:
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
            answer: object = module.choose_transport(needs)
    except LearnerTimeout as error:
        case.error, case.timed_out = str(error), True
        return case
    except Exception as error:
        case.error = f"choose_transport raised {describe_error(error)}"
        return case
    if not isinstance(answer, str) or answer not in TRANSPORTS:
        case.error = (f"choose_transport returned {answer!r}, which is not one of "
                      f"{', '.join(map(repr, TRANSPORTS))} (spelled exactly so).")
    else:
        case.answer = answer
    return case
