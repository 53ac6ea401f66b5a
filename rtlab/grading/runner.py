"""Run an exercise's grader over a learner's file.

Grading runs in the main thread of its own process (the CLI, or a subprocess
started by :func:`rtlab.check` in a notebook), where :mod:`rtlab.learner`'s
SIGALRM guard can interrupt a runaway scenario and turn it into a clear message
instead of a hung kernel.
"""

from __future__ import annotations

import importlib
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Protocol

from rtlab import course
from rtlab.grading.report import Report
from rtlab.learner import LearnerTimeout, load_module


class Grader(Protocol):
    def __call__(self, module: ModuleType, *, seeds: list[int] | None = None) -> Report: ...


def grade_file(
    exercise: str, path: Path | None = None, *, seeds: list[int] | None = None
) -> Report:
    """Grade ``path`` (default: the learner's file) with the exercise's grader."""
    ex = course.load().exercise(exercise)
    path = (path or ex.path).resolve()
    shown = _relative(path)
    rerun = f"python -m rtlab check {exercise}"
    if path != ex.path.resolve():  # the replay must grade the same file
        rerun += " --solutions" if path == ex.solution_path.resolve() else f" --file {shown}"
    started = time.perf_counter()
    try:
        module = load_module(path, exercise)
    except (Exception, LearnerTimeout) as error:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Report(
            exercise,
            shown,
            error=f"Your file could not be imported, so nothing was graded.\n{detail}",
            rerun=rerun,
        )
    grader: Grader = importlib.import_module(ex.grader).grade
    report = grader(module, seeds=seeds)
    report.source, report.rerun = shown, rerun
    report.seconds = time.perf_counter() - started
    return report


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(course.root()))
    except ValueError:
        return str(path)
