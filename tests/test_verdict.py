"""The one rule every grader uses to turn scenario verdicts into a finding."""

from __future__ import annotations

from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge, not_reached
from rtlab.syllabus import reference_link

CHECK = Check("missing-heartbeat", "a heartbeat on both ends", "ping every 20 s")
FAIL_A = Verdict("failed", "client A never came back", "every client reconnects")
FAIL_B = Verdict("failed", "client B never came back", "every client reconnects")
TOO_EARLY = not_reached("the link was declared dead before the fault", "a healthy link")


def judged(*verdicts: Verdict) -> list[Judged[str]]:
    return [Judged(seed, verdict, f"run {seed}") for seed, verdict in enumerate(verdicts, 100)]


def test_one_failure_fails_the_finding_and_the_first_failure_is_reported():
    drawn = []

    def illustrate(run: str, verdict: Verdict) -> tuple[list[str], str | None]:
        drawn.append(run)
        return [f"timeline of {run}"], "png"

    finding = judge(CHECK, judged(PASS, FAIL_A, TOO_EARLY, FAIL_B), illustrate)
    assert finding.status == "failed"
    assert (finding.seed, finding.observed, finding.expected) == (101, FAIL_A.observed,
                                                                  FAIL_A.expected)
    assert finding.timeline == ["timeline of run 101"] and finding.figure_png == "png"
    assert drawn == ["run 101"], "only the reported failure is drawn"
    assert finding.scenarios == 4


def test_passed_needs_one_pass_and_no_failure():
    finding = judge(CHECK, judged(TOO_EARLY, PASS, PASS))
    assert finding.status == "passed" and finding.seed is None and not finding.observed
    assert finding.scenarios == 3


def test_not_reached_when_nothing_passed_says_why_with_the_first_seed():
    finding = judge(CHECK, judged(TOO_EARLY, not_reached("second reason")))
    assert finding.status == "not reached"
    assert (finding.seed, finding.observed) == (100, TOO_EARLY.observed)


def test_not_reached_when_no_scenario_was_judged():
    finding = judge(CHECK, [], none_run="no profile for these seeds")
    assert (finding.status, finding.scenarios, finding.observed) == (
        "not reached", 0, "no profile for these seeds")


def test_hint_and_reference_are_always_attached():
    for verdicts in [(PASS,), (FAIL_A,), (TOO_EARLY,), ()]:
        finding = judge(CHECK, judged(*verdicts))
        assert finding.hint == CHECK.hint and finding.title == CHECK.title
        assert finding.reference == reference_link(CHECK.id)
