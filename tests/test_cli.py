"""``python -m rtlab`` as a learner uses it, in a scratch copy of the course."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtlab.grading.report import Report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def course(tmp_path: Path) -> Path:
    for name in ("course.toml",):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("exercises", "solutions", "references"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def rtlab(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RTLAB_ROOT": str(course), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "rtlab", *args], capture_output=True, text=True, env=env,
        cwd=course, timeout=120,
    )


def test_list_shows_every_ready_exercise_as_not_started(course: Path):
    from rtlab import course as course_map

    ready = {m.id for m in course_map.load().modules if m.ready}
    exercises = [ex.name for ex in course_map.load().exercises if ex.module in ready]
    result = rtlab(course, "list")
    assert result.returncode == 0, result.stderr
    for name in exercises:
        line = next((x for x in result.stdout.splitlines() if f" {name} " in x), "")
        assert "not started" in line, f"{name} should be 'not started' in:\n{result.stdout}"
    assert f"0 of {len(exercises)} passing" in result.stdout


def test_check_on_the_stub_fails_names_every_id_and_points_to_hints(course: Path):
    result = rtlab(course, "check", "reconnection")
    assert result.returncode == 1, result.stdout + result.stderr
    for id in ("missing-reconnection-logic", "reconnect-without-jitter",
               "websocket-thundering-herd", "python -m rtlab hint reconnection"):
        assert id in result.stdout, f"{id!r} missing from:\n{result.stdout}"
    assert "failing" in rtlab(course, "list").stdout


def test_check_solutions_passes_and_exits_zero(course: Path):
    result = rtlab(course, "check", "--solutions")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks pass" in result.stdout


def test_check_json_prints_a_report(course: Path):
    result = rtlab(course, "check", "reconnection", "--solutions", "--json")
    report = Report.from_json(result.stdout.strip().splitlines()[-1])
    assert report.passed and report.exercise == "reconnection"


def test_hints_come_one_at_a_time(course: Path):
    first = rtlab(course, "hint", "reconnection").stdout
    second = rtlab(course, "hint", "reconnection").stdout
    assert "Hint 1/4" in first and "Hint 2/4" not in first
    assert "Hint 2/4" in second
    everything = rtlab(course, "hint", "reconnection", "--all").stdout
    assert "Hint 4/4" in everything and "last hint" in everything


def test_the_solution_opens_only_after_the_exercise_passes(course: Path):
    locked = rtlab(course, "solution", "reconnection")
    assert locked.returncode == 1 and "opens once" in locked.stdout
    shutil.copy(course / "solutions" / "reconnection.py", course / "exercises" / "reconnection.py")
    assert rtlab(course, "check", "reconnection").returncode == 0
    assert "passing" in rtlab(course, "list").stdout
    unlocked = rtlab(course, "solution", "reconnection")
    assert unlocked.returncode == 0 and "class Backoff" in unlocked.stdout


def test_an_unknown_exercise_lists_the_known_ones(course: Path):
    result = rtlab(course, "check", "nope")
    assert result.returncode == 2
    assert "no exercise named 'nope'" in result.stderr and "reconnection" in result.stderr
