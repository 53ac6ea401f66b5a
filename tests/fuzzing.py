"""Shared settings and strategies of the fuzz tests (tests/test_fuzz_*.py).

Deterministic by default, so CI always tries the same cases: ``derandomize=True``
derives every example from the test's name, and no example database is read or
written. ``make fuzz`` sets ``HYPOTHESIS_PROFILE=long``: 10 times the examples
(``FUZZ_SCALE=40`` for more), random this time (a new run explores new inputs; a
failure prints a ``@reproduce_failure`` blob to replay it).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "long"
SCALE = int(os.environ.get("FUZZ_SCALE", "10")) if LONG else 1


def fuzz(examples: int) -> settings:
    """Settings for one fuzz test: ``examples`` cases in CI, ``SCALE`` times that under
    make fuzz."""
    return settings(
        max_examples=examples * SCALE,
        derandomize=not LONG,
        database=None,
        deadline=None,  # live servers: a slow scheduler tick is not a failure
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture],
    )


# -- JSON, fine and hostile ----------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def nested_json(draw: st.DrawFn, min_depth: int = 1, max_depth: int = 3000) -> str:
    """Lists and objects nested ``min_depth``..``max_depth`` deep, as JSON text."""
    levels = draw(st.integers(min_depth, max_depth))
    # A repeating pattern of lists and objects: drawing each level would be slow.
    pattern = draw(st.sampled_from(["[", '{"k":', '[{"k":', '{"a":1,"k":[']))
    opens = (pattern * levels)[: len(pattern) * levels]
    closes = "".join("]" if c == "[" else "}" for c in reversed(opens) if c in "[{")
    return opens + draw(st.sampled_from(["1", "null", '"x"', "[]"])) + closes


not_portable = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "1e999", "-1e400", '{"x": NaN}', "[Infinity]",
    "1" * 4301, '{"n": ' + "9" * 5000 + "}",
])

hostile_json_text = st.one_of(
    json_values.map(json.dumps),
    nested_json(),
    not_portable,
    st.text(max_size=40),
    st.text(alphabet='[]{}",:0123456789tfn ', max_size=60),
    json_values.map(json.dumps).flatmap(lambda s: st.integers(0, len(s)).map(lambda i: s[:i])),
)

invalid_utf8 = st.one_of(
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b'"\xe9"', b"{\"a\": \"\x80\"}",
                     b"\xf4\x90\x80\x80"]),
    # A byte sequence UTF-8 forbids, somewhere in random bytes.
    st.tuples(st.binary(max_size=15), st.sampled_from([b"\x80", b"\xff", b"\xc3(", b"\xc0\xaf"]),
              st.binary(max_size=15)).map(b"".join).filter(lambda b: not _is_utf8(b)),
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


hostile_json_bytes = st.one_of(hostile_json_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
                               invalid_utf8)
