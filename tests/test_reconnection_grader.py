"""The reconnection grader fails what is wrong, with the right ID, and passes what is right.

The checks every grader gets (stub fails, solution passes, known-bad variants
fail exactly their IDs, known-good ones pass) live in tests/test_graders.py.

Every known-bad variant in tests/known_bad/ declares the exact set of IDs it
must fail (EXPECTED); every variant in tests/known_good/ is a correct solution
written differently from ours and must pass.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rtlab.grading import Report, grade_file

ROOT = Path(__file__).resolve().parent.parent
ALL_IDS = {"missing-reconnection-logic", "reconnect-without-jitter", "websocket-thundering-herd"}
BAD = sorted((ROOT / "tests" / "known_bad").glob("reconnection_*.py"))
GOOD = sorted((ROOT / "tests" / "known_good").glob("reconnection_*.py"))


@cache
def graded(path: Path) -> Report:
    return grade_file("reconnection", path)


def describe(report: Report) -> str:
    return "\n".join(f"  {f.id}: {f.status}: {f.observed}" for f in report.findings)


def test_there_is_a_known_bad_variant_for_each_listed_sharp_edge():
    names = {p.stem.removeprefix("reconnection_") for p in BAD}
    wanted = {"immediate", "fixed_delay", "exponential_no_jitter", "jitter_no_growth",
              "no_cap", "no_reset", "never_reconnect", "tight_loop_on_refused"}
    assert wanted <= names, f"missing known-bad variants: {sorted(wanted - names)}"


def test_a_failure_names_the_seed_expected_observed_a_hint_and_a_reference():
    report = graded(ROOT / "tests" / "known_bad" / "reconnection_no_reset.py")
    finding = report.finding("missing-reconnection-logic")
    assert finding.seed is not None
    assert finding.expected and finding.observed and finding.hint
    assert finding.reference == "references/validations.md#missing-reconnection-logic"
    assert finding.timeline, "a client timeline should be attached to the failure"
    assert finding.figure_png, "a plot of the failing run should be attached"
    text = str(report)
    for part in (f"--seed {finding.seed}", "expected", "observed", "hint", "read"):
        assert part in text, f"{part!r} missing from the text report:\n{text}"
    html = report._repr_html_()
    assert "<img" in html and "missing-reconnection-logic" in html


def test_a_sync_stay_connected_is_explained(tmp_path: Path):
    wrong = tmp_path / "reconnection.py"
    wrong.write_text(
        "from solutions.reconnection import Backoff\n"
        "def stay_connected(connect, backoff, sleep):\n    return None\n"
    )
    report = grade_file("reconnection", wrong)
    assert "async def" in report.finding("missing-reconnection-logic").observed
