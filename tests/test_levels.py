"""A large exercise graded one level at a time: the report keeps that level's IDs only."""

from __future__ import annotations

import pytest

from rtlab.course import Exercise, Level
from rtlab.grading.report import Finding, Report


def report() -> Report:
    return Report("sse", "exercises/sse.py", findings=[
        Finding("a", "first", "passed"), Finding("b", "second", "failed"),
        Finding("c", "third", "passed"),
    ], rerun="python -m rtlab check sse")


def test_a_level_passes_on_its_own_ids():
    level = report().only_level(1, 2, "events that resume", ("a", "c"))
    assert level.passed and [f.id for f in level.findings] == ["a", "c"]
    assert "level 1 of 2: events that resume" in level.headline()
    assert level.rerun.endswith("--level 1")
    assert "This level passes" in str(level)


def test_a_level_fails_on_its_own_failures():
    level = report().only_level(2, 2, "retry", ("b",))
    assert not level.passed and level.failed_ids() == {"b"}


def test_a_level_naming_an_unknown_id_is_a_course_bug():
    with pytest.raises(ValueError, match="does not check"):
        report().only_level(1, 1, "x", ("a", "zzz"))


def test_levels_are_counted_from_one():
    exercise = Exercise("sse", "m", "sse.py", "g", "s", levels=(Level("one", ("a",)),))
    assert exercise.level(1).title == "one"
    with pytest.raises(KeyError, match="levels 1-1, not level 2"):
        exercise.level(2)
    with pytest.raises(KeyError, match="no levels"):
        Exercise("x", "m", "x.py", "g", "s").level(1)
