"""A deterministic, virtual-time scheduler that drives learner coroutines.

Theory of operation
-------------------
Learner code is ordinary ``async`` code that awaits collaborators it was
given: ``await sleep(2.0)``, ``await connect()``, ``await conn.recv()``.
Here those collaborators return *requests* (small awaitables that yield
themselves). A :class:`SimTask` steps its coroutine with ``send``/``throw``;
whatever the coroutine yields tells the loop when to resume it. No asyncio
event loop runs, time only moves when the heap says so, and a run of ten
thousand clients over fifteen virtual minutes takes well under a second.

Everything random comes from ``SimLoop.rng`` (seeded), and ties in the heap
are broken by insertion order, so a seed reproduces a run exactly.

Learner code that awaits something foreign (``asyncio.sleep`` instead of the
``sleep`` it was handed) gets a :class:`ForeignAwaitError` thrown in, with a
message saying what to use instead. A single step that takes too long in wall
time (``time.sleep``, a busy loop) is recorded as blocking.
"""

from __future__ import annotations

import gc
import heapq
import random
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = [
    "BlockedLoopError",
    "ForeignAwaitError",
    "SimFuture",
    "SimLoop",
    "SimTask",
    "SimulationAborted",
]


class ForeignAwaitError(RuntimeError):
    """Learner code awaited something that is not part of the simulation."""


class SimulationAborted(BaseException):
    """Stops the whole simulation (e.g. a wall-clock limit); never caught per task."""


class BlockedLoopError(RuntimeError):
    """One step of learner code ran too long without awaiting."""


_AWAIT_ONLY_OURS = (
    "Await only the `sleep` and `connect` functions you were given "
    "(not asyncio.sleep or a real websockets.connect), so the same code "
    "runs live and in virtual time."
)


class Request:
    """Something a coroutine yields to ask the loop to resume it later."""

    def __await__(self) -> Generator[Request, Any, Any]:
        return (yield self)

    def start(self, task: SimTask) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _Sleep(Request):
    __slots__ = ("delay",)

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def start(self, task: SimTask) -> None:
        loop = task.loop
        loop.call_at(loop.now + self.delay, task.step)


class SimFuture(Request, Generic[T]):
    """A value that arrives later; the awaiting task resumes when it does."""

    __slots__ = ("_done", "_exc", "_loop", "_result", "_waiter")

    def __init__(self, loop: SimLoop) -> None:
        self._loop = loop
        self._done = False
        self._result: Any = None
        self._exc: BaseException | None = None
        self._waiter: SimTask | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, value: T) -> None:
        if self._done:
            return
        self._done, self._result = True, value
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        if self._done:
            return
        self._done, self._exc = True, exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            # Hand the exception over and forget it: a stored exception whose
            # traceback reaches this future is a reference cycle per refusal.
            result, exc, self._exc = self._result, self._exc, None
            if self._loop.current is None:  # resolved by the network: resume right here
                waiter.step(result, exc)
            else:  # resolved by another task: let that task finish its step first
                self._loop.call_soon(waiter.step, result, exc)

    def start(self, task: SimTask) -> None:
        self._waiter = task
        if self._done:
            self._waiter = None
            result, exc, self._exc = self._result, self._exc, None
            self._loop.call_soon(task.step, result, exc)

    def __await__(self) -> Generator[Request, Any, T]:
        if self._done:  # already there: no need to go round the loop
            if self._exc is not None:
                exc, self._exc = self._exc, None
                try:
                    raise exc
                finally:
                    exc = None  # type: ignore[assignment]  # break the frame -> exc cycle
            return self._result  # type: ignore[no-any-return]
        result: T = yield self
        return result


class SimTask:
    """Drives one coroutine in virtual time and remembers how it ended."""

    def __init__(self, loop: SimLoop, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.loop = loop
        self.coro = coro
        self.name = name
        self.done = False
        self.cancelled = False  # closed unfinished when the simulation ended
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self.steps = 0
        self.on_done: list[Callable[[SimTask], None]] = []

    def step(self, value: Any = None, exc: BaseException | None = None) -> None:
        if self.done:
            return
        self.steps += 1
        loop = self.loop
        outer, loop.current = loop.current, self
        started = time.perf_counter()
        try:
            request = self.coro.throw(exc) if exc is not None else self.coro.send(value)
        except StopIteration as stop:
            self._finish(result=stop.value)
            return
        except BaseException as error:  # learner code may raise anything
            if isinstance(error, KeyboardInterrupt | SystemExit | SimulationAborted):
                raise
            if isinstance(error, RuntimeError) and str(error) == "no running event loop":
                # asyncio.sleep(1) and friends fail before yielding anything: say why.
                foreign = ForeignAwaitError(
                    f"{self.name} called an asyncio function (such as asyncio.sleep) that "
                    f"needs a running asyncio event loop. {_AWAIT_ONLY_OURS}"
                )
                foreign.__cause__ = error
                error = foreign.with_traceback(error.__traceback__)
            self._finish(error=error)
            return
        finally:
            spent = time.perf_counter() - started
            loop.current = outer
        if spent > loop.step_budget:
            self.kill(
                BlockedLoopError(
                    f"{self.name} ran {spent:.2f} s of real time without awaiting; "
                    "time.sleep() or a busy loop blocks every other connection. "
                    "Use `await sleep(...)` instead."
                )
            )
            return
        if isinstance(request, Request):
            request.start(self)
        elif request is None:  # a bare yield, e.g. asyncio.sleep(0): resume at once
            self.loop.call_soon(self.step)
        else:
            self.loop.call_soon(
                self.step,
                None,
                ForeignAwaitError(
                    f"{self.name} awaited {request!r}, which the simulation cannot run. "
                    + _AWAIT_ONLY_OURS
                ),
            )

    def kill(self, error: BaseException) -> None:
        """Stop the coroutine and record ``error`` as the reason."""
        if self.done:
            return
        try:
            self.coro.close()
        except BaseException:  # a learner's finally: block may raise; the error stands
            pass
        self._finish(error=error)

    def _finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.done = True
        self.result, self.error = result, error
        self.finished_at = self.loop.now
        for callback in self.on_done:
            callback(self)


class SimLoop:
    """Virtual clock plus event heap. ``now`` is in seconds."""

    def __init__(self, seed: int = 0, *, step_budget: float = 2.0) -> None:
        self.now = 0.0
        self.seed = seed
        self.rng = random.Random(seed)
        self.step_budget = step_budget
        self.events_run = 0
        # A heap of distinct times, and per time the callbacks due then, in order.
        # Floats compare much faster than (time, seq) tuples, and events that fall
        # at the same instant keep their insertion order in their bucket.
        self._times: list[float] = []
        self._due: dict[float, list[tuple[int, Callable[..., None], tuple[Any, ...]]]] = {}
        self._push = heapq.heappush
        self._cancelled: set[int] = set()
        self._seq = 0
        self.tasks: list[SimTask] = []
        self.current: SimTask | None = None  # the task whose step is running
        self.finalizers: list[Callable[[], None]] = []  # run by close(), e.g. to break cycles

    # -- scheduling -------------------------------------------------------
    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> int:
        """Run ``callback(*args)`` at virtual time ``when``; returns a handle for cancel()."""
        if when < self.now:
            when = self.now
        self._seq = seq = self._seq + 1
        bucket = self._due.get(when)
        if bucket is None:
            self._due[when] = [(seq, callback, args)]
            self._push(self._times, when)
        else:
            bucket.append((seq, callback, args))
        return seq

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> int:
        if delay != delay:  # NaN: would corrupt the heap order
            raise ValueError("a delay of NaN seconds cannot be scheduled")
        return self.call_at(self.now + delay, callback, *args)

    def call_soon(self, callback: Callable[..., None], *args: Any) -> int:
        return self.call_at(self.now, callback, *args)

    def cancel(self, handle: int | None) -> None:
        """Forget a scheduled callback (``None`` is accepted and ignored)."""
        if handle is not None:
            self._cancelled.add(handle)

    # -- awaitables handed to learner code ----------------------------------
    def sleep(self, delay: float) -> _Sleep:
        """The ``sleep`` collaborator: ``await loop.sleep(1.5)``."""
        if not isinstance(delay, int | float) or delay != delay:
            raise TypeError(f"sleep() needs a number of seconds, got {delay!r}")
        return _Sleep(float(delay))

    def future(self) -> SimFuture[Any]:
        return SimFuture(self)

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str, *, at: float | None = None
    ) -> SimTask:
        task = SimTask(self, coro, name)
        self.tasks.append(task)
        self.call_at(self.now if at is None else at, task.step)
        return task

    # -- running ----------------------------------------------------------
    def run(self, until: float, *, max_events: int = 5_000_000) -> None:
        """Run events up to virtual time ``until`` (or until nothing is left).

        The cyclic garbage collector is paused meanwhile: its pauses would land
        inside some coroutine's step and look like learner code blocking.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._run(until, max_events)
        finally:
            if collecting:
                gc.enable()

    def _run(self, until: float, max_events: int) -> None:
        times, due = self._times, self._due
        pop = heapq.heappop
        cancelled = self._cancelled
        while times and times[0] <= until:
            when = pop(times)
            self.now = when
            # Callbacks that schedule for `when` itself open a new bucket, run next.
            for seq, callback, args in due.pop(when):
                if cancelled and seq in cancelled:
                    cancelled.discard(seq)
                    continue
                self.events_run += 1
                if self.events_run > max_events:
                    raise RuntimeError(
                        f"simulation exceeded {max_events:,} events before t={until:g} s"
                    )
                callback(*args)
        self.now = max(self.now, until)

    def close(self) -> None:
        """Close every unfinished coroutine (no 'never awaited' warnings) and let go of
        them, so a finished scenario is freed by reference counting, not by the GC."""
        for task in self.tasks:
            if not task.done and not task.cancelled:
                task.cancelled = True
                try:
                    task.coro.close()
                except BaseException:  # a learner's finally: block may raise; nothing to report
                    pass
            task.on_done.clear()
        self.tasks.clear()
        self._times.clear()
        self._due.clear()
        self._cancelled.clear()
        self.current = None
        for finalize in self.finalizers:
            finalize()
        self.finalizers.clear()
