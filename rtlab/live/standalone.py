"""Running a server on its own, outside a Jupyter kernel (the classroom, the benchmarks).

In a kernel, servers share the kernel's asyncio loop. On their own they run on
uvloop where it is installed (libuv's event loop, the one Node.js runs on):
the same code, with the loop's own work per message in C. Measured on the
course's sync server relaying one edit at a time: about a tenth less CPU per
edit, 44-52 us against 48-56 (``python -m rtlab.topics.collaboration.bench``,
the course-uvloop row against the course row, three full-trace runs).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def run_standalone(main: Coroutine[Any, Any, T], *, uvloop: bool | None = None) -> T:
    """``asyncio.run(main)``, on uvloop if ``uvloop`` (None: whenever it is installed)."""
    if uvloop is None:
        uvloop = uvloop_available()
    if uvloop:
        import uvloop as libuv_loop

        return libuv_loop.run(main)
    return asyncio.run(main)
