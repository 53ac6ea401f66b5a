"""Uploads over WebSocket frames, seeded: what each connection sends, and the learner's code run.

Two kinds of scenario, both made from a seed alone, so each replays by itself:

**binary-json** (:func:`binary_json_plan`): 1-3 connections one after the other,
1-4 uploads each, ``max_size`` 4 KiB, 100 kB or 1 MiB, payloads of seeded random
bytes from 0 bytes to ``max_size`` - 1 (every header size: < 126, < 65,536 and
above; at least one of 16 KiB or more when the limit allows), metadata with
unicode, quotes, backslashes and control characters; and, per connection, one of
four legal ways to write the announcement (:func:`encode_reference`).

**limits** (:func:`limits_plan`): 3-6 connections interleaved frame by frame,
``max_size`` 1, 4 or 64 KiB. Each connection sends 0-3 good uploads (some of
exactly ``max_size`` bytes, some announcements of exactly ``max_size`` UTF-8
bytes), and most then one bad frame (:data:`BAD_KINDS`: oversize, unsupported or
invalid, each with the close code the protocol gives it), after which the client
carries on as if nothing happened. :meth:`LimitsRun.feed` plays the frames to
one learner ``Receiver`` per connection, as a server would: a connection the
receiver closes is read no more.

The learner's module is loaded afresh for each scenario (:class:`Fresh`), as a
new server process would be, and :func:`trial` tells a notebook whether the code
can run live at all. Wire sizes are those of real frames (``rtlab.wire.websocket``).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from rtlab import course
from rtlab.learner import LearnerTimeout, describe_error, load_module, time_limit
from rtlab.topics.websocket_basics.interface import (
    Frame,
    LearnerModule,
    Receiver,
    learner_module,
)

__all__ = [
    "BAD_KINDS",
    "INTERNAL",
    "INVALID",
    "LIVE_SECONDS",
    "OVERHEAD_FROM",
    "SCENARIO_SECONDS",
    "TOO_BIG",
    "UNSUPPORTED",
    "BinaryJsonPlan",
    "Fed",
    "Fresh",
    "LimitsRun",
    "Script",
    "binary_json_plan",
    "encode_reference",
    "limits_plan",
    "missing_names",
    "padded_announcement",
    "random_bytes",
    "reference",
    "trial",
    "utf8_len",
]

LIVE_SECONDS = 10.0  # of real time for a scenario on real sockets
SCENARIO_SECONDS = 5.0  # of real time for a simulated one, learner code included
OVERHEAD_FROM = 16 * 1024  # payloads this large or larger must travel with little overhead
TOO_BIG, UNSUPPORTED, INVALID, INTERNAL = 1009, 1003, 1007, 1011  # close codes, RFC 6455


# -- what travels: metadata, payloads, frames ------------------------------------------

WORDS = ["photo", "voice memo", "Grüße", "naïve café", "日本語のファイル", "emoji 🎉🐍",
         'quote " and \\ backslash', "line\nbreak\ttab", "\u2028separator", "Ωμέγα", "",
         "x" * 40, "<script>", "😀" * 5]


def random_meta(rng: random.Random) -> dict[str, Any]:
    """Metadata as an app would send it, with the unicode and escapes JSON must survive."""
    meta: dict[str, Any] = {"name": rng.choice(WORDS) + rng.choice([".png", ".ogg", ".bin", ""])}
    for key in rng.sample(["type", "caption", "tags", "width", "duration", "id", "é", "🔑"],
                          rng.randint(0, 4)):
        meta[key] = rng.choice([
            rng.choice(WORDS), rng.randint(-10**6, 10**6), rng.random() * 100, True, None,
            [rng.choice(WORDS) for _ in range(rng.randint(0, 3))], {"nested": rng.choice(WORDS)},
        ])
    return meta


@cache
def _pool() -> bytes:
    return random.Random(0).randbytes(2 * 1024 * 1024 + 4096)


def random_bytes(rng: random.Random, size: int) -> bytes:
    """``size`` seeded random bytes: a slice of one random pool, much cheaper than randbytes."""
    pool = _pool()
    if size > len(pool):
        return rng.randbytes(size)
    start = rng.randrange(len(pool) - size + 1)
    return pool[start:start + size]


def random_size(rng: random.Random, limit: int) -> int:
    """A payload size up to ``limit``, spread over the three frame header sizes."""
    lo, hi = rng.choice([(0, 0), (1, 125), (126, 65535), (65536, limit), (limit // 2, limit)])
    hi = min(hi, limit)
    return rng.randint(min(lo, hi), hi)


def encode_reference(meta: dict[str, Any], payload: bytes, style: int = 0) -> list[Frame]:
    """Legal announcements written in different ways (a receiver must accept all)."""
    size = len(payload)
    if style == 1:
        text = json.dumps({"size": size, "meta": meta}, separators=(",", ":"), ensure_ascii=False)
    elif style == 2:
        text = json.dumps({"meta": meta, "size": size}, indent=1)
    elif style == 3:
        text = json.dumps({"v": 1, "size": size, "meta": meta, "note": "extra keys are ignored"})
    else:
        text = json.dumps({"size": size, "meta": meta})
    return [text, payload]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


# -- binary-json ----------------------------------------------------------------------


@dataclass
class BinaryJsonPlan:
    """The uploads of a binary-json scenario, connection by connection."""

    limit: int  # max_size of every receiver
    conns: list[list[tuple[dict[str, Any], bytes]]]  # (meta, payload) per upload
    styles: list[int]  # per connection: how the announcements are written (encode_reference)


def binary_json_plan(seed: int) -> BinaryJsonPlan:
    rng = random.Random(seed)
    limit = rng.choice([4096, 100_000, 1024 * 1024])
    conns = [[(random_meta(rng), random_bytes(rng, random_size(rng, limit - 1)))
              for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 3))]
    if limit > OVERHEAD_FROM and all(len(p) < OVERHEAD_FROM for c in conns for _, p in c):
        meta = random_meta(rng)
        conns[0].append((meta, random_bytes(rng, rng.randint(OVERHEAD_FROM, limit - 1))))
    return BinaryJsonPlan(limit, conns, [rng.randrange(4) for _ in conns])


@cache
def reference() -> LearnerModule:
    """The course's solution: the other end of the learner's frames."""
    return learner_module(
        load_module(course.root() / "solutions" / "frames.py", "frames_reference"))


# -- limits -------------------------------------------------------------------------------

BAD_KINDS = ["oversize announcement", "oversize text", "oversize payload", "not JSON",
             "wrong JSON", "bad UTF-8", "wrong length", "unannounced payload",
             "announced twice"]
# The last: under 1 KiB, yet json.loads raises RecursionError there, not ValueError.
NOT_JSON = ["hello", "{size: 3, meta: {}}", '{"size": 3, "meta": {}', "", "nul", "{'size': 1}",
            '{"size": 1, "meta": {}}}', '{"size": 1, "meta": ' + "[" * 1_000]
WRONG_JSON = ["[1, 2]", "null", "42", '"upload"', '{"meta": {}}', '{"size": 3}',
              '{"size": "12", "meta": {}}', '{"size": -1, "meta": {}}',
              '{"size": 2.5, "meta": {}}', '{"size": 3, "meta": [1]}',
              '{"size": 3, "meta": "cat.png"}', '{"size": null, "meta": {}}']
BAD_UTF8 = ['{"size": 3, "meta": {"name": "\\ud83d"}}', '{"size": 3, "meta": {"name": "\ud83d"}}',
            '{"size": 0, "meta": {"\\udc80": 1}}', '{"size": 1, "meta": {"name": "ok\udcff"}}']


@dataclass
class Script:
    """What one connection sends, and what the grader expects back."""

    frames: list[Frame] = field(default_factory=list)
    uploads: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)  # good, in order
    bad_at: int | None = None  # index into frames of the bad frame
    bad_kind: str = ""
    code: int | None = None


def padded_announcement(meta: dict[str, Any], size: int, total: int, wide: bool) -> str:
    """A valid announcement of exactly ``total`` UTF-8 bytes (``wide``: 2-byte characters)."""
    base = json.dumps({"size": size, "meta": {**meta, "pad": ""}}, ensure_ascii=False)
    room = total - utf8_len(base)
    if room < 0:
        return base
    pad = "é" * (room // 2) + "x" * (room % 2) if wide else "x" * room
    return json.dumps({"size": size, "meta": {**meta, "pad": pad}}, ensure_ascii=False)


def good_upload(rng: random.Random, script: Script, limit: int) -> None:
    meta = {"name": rng.choice(WORDS), "n": len(script.uploads)}
    roll = rng.random()
    size = limit if roll < 0.15 else random_size(rng, limit)
    payload = random_bytes(rng, size)
    text: Frame
    if roll > 0.9:
        text = padded_announcement(meta, size, limit, wide=rng.random() < 0.5)
        meta = json.loads(text)["meta"]
    else:
        text = encode_reference(meta, payload, rng.randrange(4))[0]
    script.frames += [text, payload]
    script.uploads.append((meta, payload))


def bad_frames(rng: random.Random, kind: str, script: Script, limit: int) -> tuple[list[Frame],
                                                                                  int, int]:
    """The frames a misbehaving client sends: (frames, index of the bad one, expected code)."""
    meta = {"name": rng.choice(WORDS)}
    if kind == "oversize announcement":
        size = rng.randint(limit + 1, 2 * limit)
        return [json.dumps({"size": size, "meta": meta}), random_bytes(rng, size)], 0, TOO_BIG
    if kind == "oversize text":
        total = rng.randint(limit + 1, limit + 40)
        return [padded_announcement(meta, 1, total, wide=rng.random() < 0.5), b"x"], 0, TOO_BIG
    if kind == "oversize payload":
        size = rng.randint(0, limit)
        return ([json.dumps({"size": size, "meta": meta}),
                 random_bytes(rng, rng.randint(limit + 1, 2 * limit))], 1, TOO_BIG)
    if kind == "not JSON":
        return [rng.choice(NOT_JSON), b"abc"], 0, INVALID
    if kind == "wrong JSON":
        return [rng.choice(WRONG_JSON), b"abc"], 0, INVALID
    if kind == "bad UTF-8":
        return [rng.choice(BAD_UTF8), b"abc"], 0, INVALID
    if kind == "wrong length":
        size = rng.randint(1, limit - 1)
        actual = size + rng.choice([-1, 1, -size, limit - size])
        return [json.dumps({"size": size, "meta": meta}), random_bytes(rng, actual)], 1, INVALID
    if kind == "unannounced payload":
        size = rng.randint(0, limit)
        again = script.uploads[-1][1] if script.uploads else random_bytes(rng, size)
        return [again], 0, UNSUPPORTED
    assert kind == "announced twice"
    first = json.dumps({"size": 3, "meta": meta})
    return [first, json.dumps({"size": 3, "meta": meta}), b"abc", b"abc"], 1, UNSUPPORTED


def limits_scripts(seed: int) -> tuple[int, list[Script], list[int]]:
    """max_size, what each connection sends, and the order frames arrive in (connection ids)."""
    rng = random.Random(seed)
    limit = rng.choice([1024, 4096, 65536])
    count = rng.randint(3, 6)
    bad = set(rng.sample(range(count), rng.randint(1, count - 1)))
    scripts = []
    for i in range(count):
        script = Script()
        for _ in range(rng.randint(0, 3)):
            good_upload(rng, script, limit)
        if i in bad:
            kind = BAD_KINDS[(seed + i) % len(BAD_KINDS)]
            frames, at, code = bad_frames(rng, kind, script, limit)
            script.bad_at, script.bad_kind, script.code = len(script.frames) + at, kind, code
            script.frames += frames
            for _ in range(rng.randint(0, 2)):  # the client does not know it was refused
                extra = Script()
                good_upload(rng, extra, limit)
                script.frames += extra.frames
        scripts.append(script)
    order = [i for i, s in enumerate(scripts) for _ in s.frames]
    rng.shuffle(order)  # frames of one connection keep their order; connections interleave
    return limit, scripts, order




@dataclass
class Fed:
    """One frame fed to one connection's receiver, and what came back."""

    conn: int  # which connection (0-based)
    index: int  # which of that connection's frames
    frame: Frame
    returned: object = None  # what receive() returned, unchecked
    error: BaseException | None = None  # what receive() raised instead


@dataclass
class LimitsRun:
    """A limits scenario being played: which frame each connection is at, which are closed."""

    seed: int
    limit: int
    scripts: list[Script]
    order: list[int]  # the connection of each frame, in the order they arrive
    position: list[int] = field(default_factory=list)  # frames read, per connection
    closed: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.position = [0] * len(self.scripts)
        self.closed = [False] * len(self.scripts)

    def connect(self, module: LearnerModule) -> list[Receiver]:
        """One learner receiver per connection (what it raises, the caller reports)."""
        return [module.Receiver(max_size=self.limit) for _ in self.scripts]

    def feed(self, receivers: list[Receiver]) -> Iterator[Fed]:
        """Play the frames, yielding each answer before acting on it.

        A connection whose receiver answers with a close is read no more, as on a
        real server; the caller stops reading the answers at the first wrong one.
        """
        for conn in self.order:
            if self.closed[conn]:
                continue
            index = self.position[conn]
            fed = Fed(conn, index, self.scripts[conn].frames[index])
            self.position[conn] += 1
            try:
                fed.returned = receivers[conn].receive(fed.frame)
            except (Exception, LearnerTimeout) as error:
                fed.error = error
            yield fed
            if _closes(fed.returned):
                self.closed[conn] = True


def limits_plan(seed: int) -> LimitsRun:
    limit, scripts, order = limits_scripts(seed)
    return LimitsRun(seed, limit, scripts, order)


def _closes(returned: object) -> bool:
    return isinstance(returned, list | tuple) and any(
        isinstance(a, tuple) and len(a) == 3 and a[0] == "close" for a in returned)


# -- the learner's module, once per scenario -------------------------------------------


class Fresh:
    """The learner's module, loaded afresh for each scenario: a new server process each time.

    State that leaks between connections (a mutable class attribute, a global)
    is caught inside one scenario, where several connections interleave; a
    fresh module keeps it from leaking into the next scenario, so that every
    scenario replays alone from its seed exactly as it ran among the others.
    The file is compiled once; each scenario runs the compiled code in a new
    module (a few microseconds).
    """

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.code: CodeType | None = None
        path = getattr(module, "__file__", None)
        if path is not None:
            self.code = compile(Path(path).read_bytes(), path, "exec")

    def load(self, seed: int) -> ModuleType:
        if self.code is None:
            return self.module
        name = f"{self.module.__name__}_seed{seed}"
        module = ModuleType(name)
        module.__file__ = self.module.__file__
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            exec(self.code, module.__dict__)
        finally:
            del sys.modules[name]
        return module



def missing_names(module: ModuleType) -> str | None:
    """Why ``module`` cannot be the exercise at all (a name is missing), or None."""
    missing = [name for name in ("encode_upload", "Receiver")
               if not callable(getattr(module, name, None))]
    return f"The file has no {' and no '.join(missing)}." if missing else None


def trial(module: ModuleType) -> str | None:
    """Can a notebook run this code live? None, or why not (it raises, or it hangs).

    A few calls under the time limit: an upload encoded, a good upload and a
    bad frame received. Wrong answers are the grader's business; code that
    raises or loops forever would stall a live server, so it is caught here.
    """
    problem = missing_names(module)
    if problem is not None:
        return problem
    learner = learner_module(module)
    receiver: list[Receiver] = []

    def receive(frame: Frame) -> Callable[[], object]:
        return lambda: receiver[0].receive(frame)

    calls: list[tuple[str, Callable[[], object]]] = [
        ("encode_upload({'name': 'probe'}, b'probe')",
         lambda: learner.encode_upload({"name": "probe"}, b"probe")),
        ("Receiver(max_size=1024)", lambda: receiver.append(learner.Receiver(1024))),
    ]
    for frame in ('{"size": 5, "meta": {"name": "probe"}}', b"probe", "not JSON"):
        calls.append((f"receive({frame!r})", receive(frame)))
    try:
        with time_limit(SCENARIO_SECONDS, "trying your code"):
            for what, call in calls:
                try:
                    call()
                except Exception as error:
                    return f"{what} raised {describe_error(error)}"
    except LearnerTimeout as error:
        return str(error)
    return None


