"""The virtual-time scheduler that drives learner coroutines (rtlab.sim.loop).

Everything here runs in virtual time: no test sleeps on a real clock except the
one about blocking, which must block for real to be caught.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
import types
import warnings
import weakref
from collections.abc import Generator
from typing import Any

import pytest

from rtlab.sim import Latency, SimServer
from rtlab.sim.loop import BlockedLoopError, ForeignAwaitError, SimLoop, SimulationAborted

# -- ordering ---------------------------------------------------------------------


def test_events_run_in_time_order_and_ties_in_insertion_order() -> None:
    loop = SimLoop()
    ran: list[tuple[float, str]] = []

    def mark(label: str) -> None:
        ran.append((loop.now, label))

    loop.call_at(3.0, mark, "c")
    loop.call_at(1.0, mark, "a")
    loop.call_at(2.0, mark, "b1")
    loop.call_later(2.0, mark, "b2")
    loop.call_soon(mark, "now")
    loop.call_at(2.0, mark, "b3")
    loop.run(10)
    expected = [(0.0, "now"), (1.0, "a"), (2.0, "b1"), (2.0, "b2"), (2.0, "b3"), (3.0, "c")]
    assert ran == expected, (
        "call_at(3, c), call_at(1, a), call_at(2, b1), call_later(2, b2), call_soon(now), "
        f"call_at(2, b3) then run(10) ran {ran}; expected {expected}"
    )


def test_a_time_in_the_past_runs_now_not_back_in_time() -> None:
    loop = SimLoop()
    loop.run(5)
    seen: list[float] = []
    loop.call_at(1.0, lambda: seen.append(loop.now))
    loop.run(6)
    assert seen == [5.0], (
        f"call_at(1.0) at now=5 ran at {seen}; expected [5.0] (never back in time)"
    )


def test_a_coroutine_resumes_after_the_virtual_time_it_slept() -> None:
    loop = SimLoop()
    woke: list[float] = []

    async def napper() -> str:
        await loop.sleep(1.5)
        woke.append(loop.now)
        await loop.sleep(2)
        woke.append(loop.now)
        return "rested"

    task = loop.spawn(napper(), "napper")
    loop.run(100)
    assert woke == [1.5, 3.5], f"sleep(1.5) then sleep(2) woke at {woke}; expected [1.5, 3.5]"
    assert (task.done, task.result, task.error, task.finished_at) == (True, "rested", None, 3.5), (
        f"the task ended with done={task.done}, result={task.result!r}, error={task.error!r}, "
        f"finished_at={task.finished_at}; expected done=True, result='rested', error=None, "
        "finished_at=3.5"
    )


def test_spawn_at_a_later_time_starts_the_coroutine_then() -> None:
    loop = SimLoop()
    started: list[float] = []

    async def late() -> None:
        started.append(loop.now)

    loop.spawn(late(), "late", at=7.25)
    loop.run(10)
    assert started == [7.25], f"spawn(..., at=7.25) started the coroutine at {started}"


def test_a_future_resolved_by_another_task_wakes_its_waiter_after_that_step() -> None:
    loop = SimLoop()
    fut = loop.future()
    order: list[str] = []

    async def waiter() -> None:
        value = await fut
        order.append(f"waiter got {value}")

    async def resolver() -> None:
        await loop.sleep(1)
        fut.set_result(42)
        order.append("resolver finished its step")

    loop.spawn(waiter(), "waiter")
    loop.spawn(resolver(), "resolver")
    loop.run(5)
    expected = ["resolver finished its step", "waiter got 42"]
    assert order == expected, f"a future set by another task gave {order}; expected {expected}"


# -- determinism --------------------------------------------------------------------


def _reconnecting_clients(seed: int, clients: int = 30) -> list[tuple[float, str, str]]:
    """Clients with random backoff through a server restart; their story as a list."""
    loop = SimLoop(seed)
    server = SimServer(loop, latency=Latency(0.02, 0.05))
    story: list[tuple[float, str, str]] = []

    async def client(name: str) -> None:
        while True:
            try:
                conn = await server.connect(name)
            except ConnectionRefusedError:
                story.append((loop.now, name, "refused"))
                await loop.sleep(loop.rng.uniform(0.5, 2.0))
                continue
            story.append((loop.now, name, "open"))
            async for _ in conn:
                pass
            story.append((loop.now, name, f"closed {conn.close_code}"))
            await loop.sleep(loop.rng.uniform(0.1, 1.0))

    for i in range(clients):
        loop.spawn(client(f"c{i}"), f"c{i}", at=loop.rng.uniform(0, 1))
    loop.call_at(3.0, server.restart, 2.0)
    loop.run(10)
    loop.close()
    return story


def test_the_same_seed_replays_exactly_the_same_run() -> None:
    first = _reconnecting_clients(seed=7)
    ballast = [object() for _ in range(1237)]  # new objects land at other addresses
    second = _reconnecting_clients(seed=7)
    del ballast
    assert any(kind == "refused" for _, _, kind in first), "the scenario must include a restart"
    differ = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    assert first == second, (
        f"two runs with seed 7 told different stories ({len(first)} and {len(second)} events); "
        f"first difference at event {differ}: {first[differ] if differ is not None else '-'} "
        f"vs {second[differ] if differ is not None else '-'}; expected identical runs"
    )


def test_a_different_seed_gives_a_different_run() -> None:
    assert _reconnecting_clients(seed=7) != _reconnecting_clients(seed=8), (
        "seeds 7 and 8 told exactly the same story; the seed should drive latency and backoff"
    )


# -- sleep ----------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [math.nan, "1", None, [1.0]], ids=repr)
def test_sleep_refuses_nan_and_things_that_are_not_numbers(delay: Any) -> None:
    loop = SimLoop()
    with pytest.raises(TypeError, match="sleep\\(\\) needs a number of seconds") as caught:
        loop.sleep(delay)
    assert repr(delay) in str(caught.value), (
        f"sleep({delay!r}) raised {caught.value!r}; expected the message to show the bad value"
    )


def test_a_negative_sleep_resumes_at_once() -> None:
    loop = SimLoop()
    woke: list[float] = []

    async def impatient() -> None:
        await loop.sleep(2)
        await loop.sleep(-5)
        woke.append(loop.now)

    loop.spawn(impatient(), "impatient")
    loop.run(10)
    assert woke == [2.0], f"sleep(-5) at t=2 resumed at {woke}; expected [2.0] (at once)"


# -- cancel -----------------------------------------------------------------------------


def test_a_cancelled_callback_never_runs() -> None:
    loop = SimLoop()
    ran: list[str] = []
    handle = loop.call_later(1.0, ran.append, "cancelled")
    loop.call_later(1.0, ran.append, "kept")
    loop.cancel(handle)
    loop.cancel(None)  # accepted and ignored
    loop.run(5)
    assert ran == ["kept"], (
        f"after cancel(handle) the callbacks that ran were {ran}; expected ['kept']"
    )


# -- foreign awaits ---------------------------------------------------------------------


def test_awaiting_asyncio_sleep_ends_the_task_with_a_foreign_await_error_naming_sleep() -> None:
    loop = SimLoop()

    async def uses_asyncio() -> None:
        await asyncio.sleep(1)

    task = loop.spawn(uses_asyncio(), "stay_connected")
    loop.run(5)
    assert isinstance(task.error, ForeignAwaitError), (
        f"a coroutine awaiting asyncio.sleep(1) ended with {task.error!r}; "
        "expected ForeignAwaitError"
    )
    message = str(task.error)
    for needed in ("stay_connected", "`sleep`", "asyncio.sleep"):
        assert needed in message, (
            f"the ForeignAwaitError says {message!r}; expected it to name {needed}"
        )


@types.coroutine
def _foreign() -> Generator[Any, Any, Any]:
    return (yield "a thing from another event loop")


def test_a_foreign_awaitable_gets_foreign_await_error_thrown_in() -> None:
    loop = SimLoop()
    caught: list[BaseException] = []
    carried_on: list[float] = []

    async def learner() -> None:
        try:
            await _foreign()
        except ForeignAwaitError as error:
            caught.append(error)
        await loop.sleep(1)
        carried_on.append(loop.now)

    task = loop.spawn(learner(), "learner")
    loop.run(5)
    assert len(caught) == 1, (
        f"awaiting a foreign object threw in {caught}; expected one ForeignAwaitError"
    )
    assert "`sleep`" in str(caught[0]), f"the error says {caught[0]}; expected it to name `sleep`"
    assert carried_on == [1.0] and task.error is None, (
        f"after catching the error the coroutine resumed at {carried_on} with error "
        f"{task.error!r}; expected it to carry on normally and wake at [1.0]"
    )


def test_awaiting_asyncio_sleep_zero_just_yields_and_resumes_at_the_same_time() -> None:
    loop = SimLoop()
    order: list[tuple[float, str]] = []

    async def polite() -> None:
        await loop.sleep(1)
        order.append((loop.now, "before the yield"))
        loop.call_soon(lambda: order.append((loop.now, "other work")))
        await asyncio.sleep(0)
        order.append((loop.now, "after the yield"))

    task = loop.spawn(polite(), "polite")
    loop.run(5)
    assert task.error is None, f"await asyncio.sleep(0) ended the task with {task.error!r}"
    expected = [(1.0, "before the yield"), (1.0, "other work"), (1.0, "after the yield")]
    assert order == expected, (
        f"a task awaiting asyncio.sleep(0) went {order}; expected {expected} "
        "(it lets queued work run and resumes at the same virtual time)"
    )


# -- blocking -------------------------------------------------------------------------


def test_a_step_that_blocks_longer_than_the_budget_is_killed_with_blocked_loop_error() -> None:
    loop = SimLoop(step_budget=0.05)
    reached: list[str] = []

    async def blocker() -> None:
        try:
            time.sleep(0.1)  # the one real sleep in these tests: it must block for real
            await loop.sleep(1)
            reached.append("after the await")
        finally:
            reached.append("finally")

    async def bystander() -> None:
        await loop.sleep(2)
        reached.append("bystander")

    task = loop.spawn(blocker(), "blocker")
    loop.spawn(bystander(), "bystander")
    loop.run(5)
    assert isinstance(task.error, BlockedLoopError), (
        f"a step that ran time.sleep(0.1) with step_budget=0.05 ended with {task.error!r}; "
        "expected BlockedLoopError"
    )
    assert "blocker" in str(task.error) and "time.sleep" in str(task.error), (
        f"the BlockedLoopError says {task.error}; expected it to name the task and time.sleep()"
    )
    assert reached == ["finally", "bystander"], (
        f"the run reached {reached}; expected the blocker closed (its finally ran) "
        "and never resumed, and the other task unaffected"
    )


# -- stopping -------------------------------------------------------------------------


def test_simulation_aborted_propagates_out_of_run_past_except_exception() -> None:
    loop = SimLoop()
    collecting = gc.isenabled()

    async def stubborn() -> None:
        await loop.sleep(1)
        try:
            raise SimulationAborted("wall-clock limit")
        except Exception:  # a learner's catch-all must not swallow it
            pass

    task = loop.spawn(stubborn(), "stubborn")
    with pytest.raises(SimulationAborted, match="wall-clock limit"):
        loop.run(10)
    assert task.error is None, f"the abort was recorded as the task's error {task.error!r}"
    assert loop.now == 1.0, f"the run stopped at now={loop.now}; expected 1.0, where it was raised"
    assert gc.isenabled() == collecting, "run() left the garbage collector switched off"


def _collected(refs: list[weakref.ref[Any]]) -> bool:
    """Whether the objects are gone; a full (slow) collection only if needed."""
    if any(ref() is not None for ref in refs):
        gc.collect()
    return all(ref() is None for ref in refs)


def test_close_closes_unfinished_coroutines_without_never_awaited_warnings() -> None:
    async def never_done(log: list[str]) -> None:
        try:
            await SimLoop().future()
        finally:
            log.append("closed")

    with warnings.catch_warnings(record=True) as control:
        warnings.simplefilter("always")
        coro = never_done([])
        refs = [weakref.ref(coro)]
        del coro
        assert _collected(refs), "precondition: the dropped coroutine was not freed"
    assert any("never awaited" in str(w.message) for w in control), (
        "precondition: dropping an unstarted coroutine should warn 'never awaited'; "
        f"the warnings were {[str(w.message) for w in control]}"
    )

    log: list[str] = []
    loop = SimLoop()
    coros = [never_done(log), never_done(log)]
    refs = [weakref.ref(c) for c in coros]
    waiting = loop.spawn(coros[0], "waiting")
    unstarted = loop.spawn(coros[1], "unstarted", at=100)
    del coros
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop.run(1)
        loop.close()
        flags = [(t.cancelled, t.done) for t in (waiting, unstarted)]
        del loop, waiting, unstarted
        freed = _collected(refs)
    assert freed, "the closed coroutines were never freed, so no warning could show"
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert messages == [], f"close() then freeing the tasks gave RuntimeWarnings {messages}"
    assert log == ["closed"], (
        f"close() ran these finally blocks: {log}; expected only the started coroutine's"
    )
    assert flags == [(True, False), (True, False)], (
        f"(cancelled, done) of the closed tasks were {flags}; expected (True, False) for both"
    )


def test_run_until_leaves_the_clock_at_until() -> None:
    loop = SimLoop()
    ran: list[float] = []
    loop.call_at(5.0, lambda: ran.append(loop.now))
    loop.run(2)
    assert (loop.now, ran) == (2.0, []), (
        f"run(2) with an event at 5 left now={loop.now}, ran={ran}; expected now=2.0, nothing run"
    )
    loop.run(10)
    assert (loop.now, ran) == (10.0, [5.0]), (
        f"run(10) left now={loop.now}, ran={ran}; expected now=10.0 with the event run at 5.0"
    )


def test_exceeding_max_events_raises() -> None:
    loop = SimLoop()

    def again() -> None:
        loop.call_later(0.001, again)

    loop.call_soon(again)
    with pytest.raises(RuntimeError, match="exceeded 100 events") as caught:
        loop.run(60, max_events=100)
    assert loop.now < 1.0, (
        f"{caught.value} but the clock got to {loop.now}; expected it stopped early"
    )
