"""Named live objects, so that re-running a notebook cell replaces, never leaks.

Anything with ``async stop()`` can be registered under a name; registering a
new object under a taken name stops the old one first.
"""

from __future__ import annotations

from typing import Protocol


class Stoppable(Protocol):
    async def stop(self) -> None: ...


# Keyed by (kind, name): a fleet and a server may share a name without clashing.
_live: dict[tuple[str, str], Stoppable] = {}


async def register(name: str, thing: Stoppable) -> None:
    """Remember ``thing`` as ``name``, stopping whatever of its kind had that name before."""
    key = (type(thing).__name__, name)
    old = _live.pop(key, None)
    _live[key] = thing
    if old is not None and old is not thing:
        try:
            await old.stop()
        except Exception:  # its errors belonged to the old run; the new one starts clean
            pass


def running() -> dict[str, Stoppable]:
    """What is registered now, as ``{"Kind name": thing}``."""
    return {f"{kind} {name}": thing for (kind, name), thing in _live.items()}


async def stop_all() -> list[BaseException]:
    """Stop everything registered; return (not raise) the errors they reported."""
    errors: list[BaseException] = []
    while _live:
        _, thing = _live.popitem()
        try:
            await thing.stop()
        except Exception as error:
            errors.append(error)
    return errors


def forget(name: str, thing: Stoppable) -> None:
    """Drop ``thing`` from the registry if it is still the one registered as ``name``."""
    key = (type(thing).__name__, name)
    if _live.get(key) is thing:
        del _live[key]


def raise_collected(errors: list[BaseException], where: str) -> None:
    """Raise what a live object collected: the error, or a group of different ones.

    Errors in background tasks are invisible in a notebook (nbval drops output
    of cells other than the running one), so live objects keep them and raise
    them here, from ``check()`` or ``stop()``. The same error from many clients
    (a learner's TODO in every one of them) is raised once, with a note.
    """
    if not errors:
        return
    first = errors[0]
    if len(errors) > 1:
        if any(type(e) is not type(first) or str(e) != str(first) for e in errors):
            raise BaseExceptionGroup(f"{len(errors)} errors in {where}", errors)
        first.add_note(f"(the same error {len(errors)} times in {where})")
    raise first
