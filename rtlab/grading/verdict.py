"""The one rule that turns scenario outcomes into a :class:`Finding`.

A grader runs scenarios and asks each check for a :class:`Verdict` on each run it
applies to. :func:`judge` then decides the finding, the same way for every module:

- **failed** when any verdict failed. The first failure (in the order given) is the
  one reported: its seed, what was observed and expected, and the timeline and
  figure that ``illustrate`` draws for it.
- **passed** when no verdict failed and at least one passed.
- **not reached** when no verdict failed and none passed: every scenario stopped
  before the check could be made (the first such verdict says why), or no scenario
  of this kind was run at all (say, ``--seed`` picked a seed of another kind).

``scenarios`` counts the verdicts judged, whatever their status. The hint and the
reference link are always attached; a report shows them for findings that did not
pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rtlab.grading.report import Finding, Status
from rtlab.syllabus import reference_link

__all__ = ["PASS", "Check", "Judged", "Verdict", "judge", "not_reached"]

Run = TypeVar("Run")

NO_SCENARIO = "no scenario of this kind among the seeds graded"


@dataclass
class Verdict:
    """What one check says of one scenario: what happened versus what should have.

    A grader may subclass it to carry what its illustration needs (a time, a client).
    """

    status: Status
    observed: str = ""
    expected: str = ""


PASS = Verdict("passed")


def not_reached(observed: str, expected: str = "") -> Verdict:
    """The check could not be made in this scenario (and that is not the learner's fault)."""
    return Verdict("not reached", observed, expected)


@dataclass(frozen=True)
class Check:
    """One validation ID as a grader states it: the title shown and the hint offered."""

    id: str
    title: str
    hint: str


@dataclass(frozen=True)
class Judged(Generic[Run]):
    """One scenario's verdict for one check, with the run that illustrates it."""

    seed: int
    verdict: Verdict
    run: Run


Illustrate = Callable[[Run, Verdict], tuple[list[str], str | None]]


@dataclass
class _Tally(Generic[Run]):
    judged: int = 0
    passed: int = 0
    failure: Judged[Run] | None = None
    unreached: Judged[Run] | None = None


def judge(
    check: Check,
    judged: Iterable[Judged[Run]],
    illustrate: Illustrate[Run] | None = None,
    *,
    none_run: str = NO_SCENARIO,
) -> Finding:
    """The finding for ``check`` from its verdicts, by the rule in this module's docstring.

    ``illustrate(run, verdict)`` returns the timeline rows and the figure (base64 PNG or
    None) of the reported failure; ``none_run`` says why nothing was judged, if so.
    """
    tally: _Tally[Run] = _Tally()
    for item in judged:
        tally.judged += 1
        status = item.verdict.status
        if status == "failed" and tally.failure is None:
            tally.failure = item
        elif status == "passed":
            tally.passed += 1
        elif status == "not reached" and tally.unreached is None:
            tally.unreached = item
    finding = Finding(check.id, check.title, "passed", scenarios=tally.judged,
                      hint=check.hint, reference=reference_link(check.id))
    shown = tally.failure or (tally.unreached if tally.passed == 0 else None)
    if shown is not None:
        finding.status, finding.seed = shown.verdict.status, shown.seed
        finding.observed, finding.expected = shown.verdict.observed, shown.verdict.expected
        if shown is tally.failure and illustrate is not None:
            finding.timeline, finding.figure_png = illustrate(shown.run, shown.verdict)
    elif tally.judged == 0:
        finding.status, finding.observed = "not reached", none_run
    return finding
