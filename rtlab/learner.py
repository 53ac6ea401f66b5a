"""The learner sandbox: load a learner's file, bound its run time, explain its errors.

Learner code may fail to import, raise, hang in a busy loop or block with
``time.sleep``. Graders, live servers and lessons all run it through these three
tools, so the same mistake reads the same wherever it shows up:

- :func:`load_module` imports a file afresh, as a module of its own;
- :func:`time_limit` interrupts runaway code (main thread only: a SIGALRM guard),
  raising :class:`LearnerTimeout`;
- :func:`describe_error` turns an exception into one learner-facing sentence.

Lessons get the learner's own file with :func:`load_exercise`, and a working
implementation with :func:`load_working` where a demo must show the fix holding: the
lesson shows its behaviour, never its code (the answer stays the learner's to write).
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType

from rtlab import course
from rtlab.sim.loop import SimulationAborted

__all__ = ["LearnerTimeout", "describe_error", "load_exercise", "load_module", "load_working",
           "time_limit"]


class LearnerTimeout(SimulationAborted):
    """Raised inside runaway learner code by the alarm (a BaseException, so that
    a learner's ``except Exception`` cannot swallow it, and the simulation stops)."""


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Interrupt the block after ``seconds`` of wall time (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise LearnerTimeout(
            f"{what} did not finish within {seconds:g} s of real time and was stopped. "
            "Look for a loop that never awaits (e.g. `while True:` around code that "
            "does not call `await sleep(...)`), or a blocking call such as time.sleep()."
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)  # e.g. pytest-timeout's alarm
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # give the enclosing alarm back what is left of it
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def describe_error(error: BaseException, path: Path | None = None) -> str:
    """A short, learner-facing account of an exception: type, message, the learner's line."""
    if isinstance(error, NotImplementedError):
        where = f" ({error})" if str(error) else ""
        return (
            f"NotImplementedError{where}: this part is still a TODO. "
            "Replace the `raise NotImplementedError` with your code."
        )
    if isinstance(error, RuntimeError) and "no running event loop" in str(error):
        return (
            "RuntimeError: no running event loop. Your code called asyncio directly "
            "(asyncio.sleep, asyncio.wait_for, ...), which the virtual-time simulation "
            "cannot run. Await only the `sleep` and `connect` functions you were given."
        )
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if path is not None and Path(f.filename) == path]
    where = f" at line {mine[-1].lineno}: {mine[-1].line}" if mine else ""
    return f"{type(error).__name__}: {error}{where}"


def load_module(path: Path, name: str) -> ModuleType:
    """Import a learner's file afresh, as a module of its own."""
    home = str(course.root())
    if home not in sys.path:  # variants in tests/ build on `solutions.*`
        sys.path.append(home)
    spec = importlib.util.spec_from_file_location(f"rtlab_learner_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with time_limit(10, f"importing {path.name}"):
        spec.loader.exec_module(module)
    return module


def load_exercise(name: str) -> ModuleType:
    """The learner's own file for exercise ``name`` (``exercises/<file>``), freshly imported."""
    exercise = course.load().exercise(name)
    return load_module(exercise.path, f"{name}_exercise")


def load_working(name: str) -> ModuleType:
    """A working implementation of exercise ``name``, for a lesson's demo of the fix.

    Lessons call this instead of opening ``solutions/`` themselves, and show what the
    object does, not its source: the exercise is still there to be solved.
    """
    exercise = course.load().exercise(name)
    return load_module(exercise.solution_path, f"{name}_working")
