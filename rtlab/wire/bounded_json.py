"""JSON from the network, parsed with bounds: :func:`loads_bounded`.

``json.loads`` trusts its input. Fed by a client, that goes wrong in ways a
server does not expect:

- JSON nested about 1,000 deep (2 KB of ``[``) raises ``RecursionError``, which
  is not a ``ValueError``, so ``except ValueError`` lets it through and the
  server treats a strange frame as its own bug;
- JSON nested a few hundred deep parses, then breaks whatever recurses over it
  later (``json.dumps`` for a fan-out, ``repr``, a learner's code);
- ``NaN``, ``Infinity`` and ``1e999`` parse in Python but are not JSON: relayed
  to a browser, ``JSON.parse`` fails there, on someone else's screen;
- an integer of more than 4,300 digits raises a bare ``ValueError`` that is
  not a ``JSONDecodeError``.

:func:`loads_bounded` refuses all of these, and anything over ``max_bytes``,
with one exception type, :class:`JSONRefused` (a ``ValueError``), whose text
says what was wrong. The limits (defaults: depth 32, 64 KiB) are the caller's:
each server states its own in its docstring.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

__all__ = ["MAX_BYTES", "MAX_DEPTH", "JSONRefused", "Problem", "depth", "loads_bounded"]

MAX_DEPTH = 32  # containers inside containers; real messages use 2-4
MAX_BYTES = 64 * 1024  # UTF-8 bytes of the whole text


Problem = Literal["syntax", "size", "depth", "number", "encoding"]


class JSONRefused(ValueError):
    """JSON text a server will not take; ``problem`` says which rule it broke.

    ``"syntax"``: not JSON at all; ``"size"``: over ``max_bytes``; ``"depth"``:
    nested deeper than ``max_depth``; ``"number"``: ``NaN``, ``Infinity`` or a
    number out of range; ``"encoding"``: bytes that are not UTF-8.
    """

    def __init__(self, message: str, problem: Problem) -> None:
        super().__init__(message)
        self.problem: Problem = problem


def _no_constants(name: str) -> Any:
    raise JSONRefused(f"{name} is not JSON (a browser's JSON.parse refuses it)", "number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONRefused(f"the number {text[:20]} does not fit in a double", "number")
    return number


def depth(value: Any) -> int:
    """How deep ``value`` nests lists and dicts: 0 for a scalar, 1 for ``[]``, 2 for ``[{}]``.

    Iterative, so it works at any depth.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads_bounded(
    data: str | bytes | bytearray | memoryview,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    what: str = "message",
) -> Any:
    """Parse one JSON text, or raise :class:`JSONRefused` saying why not.

    ``bytes`` must be UTF-8. Refused: more than ``max_bytes`` bytes of UTF-8,
    containers nested deeper than ``max_depth``, invalid UTF-8 or JSON,
    ``NaN``/``Infinity``, numbers beyond a double or beyond Python's 4,300-digit
    integer limit. ``what`` names the input in the error ("awareness state").
    """
    if isinstance(data, str):
        size = len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
        text = data
    else:
        raw = bytes(data)
        size = len(raw)
        if size <= max_bytes:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise JSONRefused(f"{what} is not UTF-8: {error}", "encoding") from None
    if size > max_bytes:
        raise JSONRefused(f"{what} is {size} bytes of JSON; the limit is {max_bytes}", "size")
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except JSONRefused as error:
        raise JSONRefused(f"{what}: {error}", error.problem) from None
    except RecursionError:
        # json's C scanner recurses once per level and gives up near the interpreter's
        # recursion limit (about 1,000): far beyond any max_depth worth allowing.
        raise JSONRefused(f"{what} nests deeper than {max_depth} levels", "depth") from None
    except json.JSONDecodeError as error:
        raise JSONRefused(f"{what} is not valid JSON: {error}", "syntax") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise JSONRefused(f"{what} has a number out of range: {error}", "number") from None
    # Only text with more opening brackets than the limit can be too deep: most
    # messages skip the walk.
    if text.count("[") + text.count("{") > max_depth and depth(value) > max_depth:
        raise JSONRefused(f"{what} nests deeper than {max_depth} levels", "depth")
    return value
