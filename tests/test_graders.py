"""Every grader can fail, fails for the right reason, and accepts other correct code.

For each exercise of a ready module in course.toml:
- the untouched stub in exercises/ fails every ID the grader checks;
- the reference in solutions/ passes, over at least 200 seeded scenarios;
- each tests/known_bad/<exercise>_*.py fails exactly the IDs it declares in
  EXPECTED (and its report contains MESSAGE, when it declares one);
- each tests/known_good/<exercise>_*.py, a correct solution written
  differently from ours, passes.
A new exercise gets these proofs by adding its files; the per-exercise test
files hold only what is particular to one grader.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import pytest

from rtlab import course
from rtlab.grading import Report, grade_file
from rtlab.learner import load_module
from rtlab.syllabus import reference_link

ROOT = Path(__file__).resolve().parent.parent
READY = {m.id for m in course.load().modules if m.ready}
EXERCISES = [ex for ex in course.load().exercises if ex.module in READY]


@cache
def graded(exercise: str, path: Path) -> Report:
    return grade_file(exercise, path)


def ids_of(exercise: course.Exercise) -> set[str]:
    return set(importlib.import_module(exercise.grader).IDS)


def describe(report: Report) -> str:
    return "\n".join(f"  {f.id}: {f.status}: {f.observed}" for f in report.findings)


def variants(kind: str) -> list[tuple[course.Exercise, Path]]:
    return [(ex, path) for ex in EXERCISES
            for path in sorted((ROOT / "tests" / kind).glob(f"{ex.name}_*.py"))]


def label(value: object) -> str:
    return value.stem if isinstance(value, Path) else getattr(value, "name", str(value))


@pytest.mark.parametrize("exercise", EXERCISES, ids=label)
def test_the_untouched_stub_fails_every_id(exercise: course.Exercise):
    report = graded(exercise.name, exercise.path)
    assert report.failed_ids() == ids_of(exercise), (
        f"grading the stub exercises/{exercise.file} failed {sorted(report.failed_ids())}, "
        f"expected all of {sorted(ids_of(exercise))}\n{describe(report)}"
    )
    assert "TODO" in " ".join(f.observed for f in report.findings)


@pytest.mark.parametrize("exercise", EXERCISES, ids=label)
def test_the_reference_solution_passes_over_at_least_200_scenarios(exercise: course.Exercise):
    """200 seeded scenarios, unless the grader states its own floor: the capstone's are
    whole applications under nine faults each, 50 or more of them in its 10 s budget."""
    report = graded(exercise.name, exercise.solution_path)
    assert report.passed, f"solutions/{exercise.file} should pass:\n{describe(report)}"
    minimum = getattr(importlib.import_module(exercise.grader), "MIN_SCENARIOS", 200)
    assert minimum >= 50
    assert report.scenarios >= minimum, f"only {report.scenarios} scenarios were run"
    assert {f.id for f in report.findings} == ids_of(exercise)


@pytest.mark.parametrize("exercise", EXERCISES, ids=label)
def test_each_exercise_has_known_bad_and_known_good_variants(exercise: course.Exercise):
    bad = [p for ex, p in variants("known_bad") if ex is exercise]
    good = [p for ex, p in variants("known_good") if ex is exercise]
    assert len(bad) >= 3 and len(good) >= 2, (
        f"{exercise.name}: {len(bad)} known-bad and {len(good)} known-good variants; "
        "a grader is only trusted once it is shown to fail and to accept other answers"
    )
    failed = set().union(*(load_module(p, f"ids_{p.stem}").EXPECTED for p in bad))
    assert failed == ids_of(exercise), (
        f"{exercise.name}: no known-bad variant fails {sorted(ids_of(exercise) - failed)}"
    )


@pytest.mark.parametrize(("exercise", "path"), variants("known_good"), ids=label)
def test_a_correct_solution_written_differently_passes(exercise: course.Exercise, path: Path):
    report = graded(exercise.name, path)
    assert report.passed, f"{path.name} is correct but failed:\n{describe(report)}"


@pytest.mark.parametrize(("exercise", "path"), variants("known_bad"), ids=label)
def test_a_known_bad_variant_fails_exactly_its_ids(exercise: course.Exercise, path: Path):
    variant = load_module(path, f"expect_{path.stem}")
    report = graded(exercise.name, path)
    assert report.failed_ids() == variant.EXPECTED, (
        f"{path.name} failed {sorted(report.failed_ids())}, expected exactly "
        f"{sorted(variant.EXPECTED)}\n{describe(report)}"
    )
    message = getattr(variant, "MESSAGE", None)
    if message:
        observed = " ".join(f.observed for f in report.findings)
        assert message in observed, f"expected {message!r} in the report, got:\n{observed}"


@pytest.mark.parametrize(("exercise", "path"), variants("known_bad"), ids=label)
def test_a_failure_says_where_what_and_why_and_replays_from_its_seed(
    exercise: course.Exercise, path: Path
):
    report = graded(exercise.name, path)
    failed = [f for f in report.findings if f.status == "failed"]
    for finding in failed:
        assert finding.seed is not None and finding.expected and finding.observed, finding
        assert finding.hint and finding.reference == reference_link(finding.id), finding
    first = failed[0]
    again = grade_file(exercise.name, path, seeds=[first.seed]).finding(first.id)
    assert (again.status, again.observed) == (first.status, first.observed), (
        f"replaying seed {first.seed} of {path.name} gave a different verdict"
    )
    assert Report.from_json(report.to_json()) == report, "the report must survive JSON"


@pytest.mark.parametrize("exercise", EXERCISES, ids=label)
def test_a_file_that_does_not_import_gets_a_clear_error(
    exercise: course.Exercise, tmp_path: Path
):
    broken = tmp_path / exercise.file
    broken.write_text("class Broken(:\n")
    report = grade_file(exercise.name, broken)
    assert not report.passed
    assert report.error and "could not be imported" in report.error
    assert "SyntaxError" in report.error
